"""GAN programs: a subclassed DCGAN with its own compile()/train_step(), the classic tutorial GAN.

Part of issue 12's acceptance suite (see README.md): each test is a Keras 3 program written the way
users write them (after the keras.io examples and guides; written here, not copied) whose body
starts with ``import deepfuse as keras`` / ``from deepfuse import layers`` / ``from deepfuse import
ops`` and is otherwise plain Keras code. ``_keras_reference.py`` runs this file on real Keras 3
(torch backend); the figures asserted here (parameter counts from ``summary()``, shapes in Keras'
channels-last layout, accuracy floors) are the ones real Keras printed, recorded in README.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from programs_support import changed, summary_text, weights_of

# --- d. a GAN that subclasses keras.Model with its own compile() and train_step() ----------------


def test_d_dcgan_subclassed_model_with_custom_compile_and_train_step():
    import torch

    import deepfuse as keras
    from deepfuse import layers, ops

    latent_dim = 32
    discriminator = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.GlobalMaxPooling2D(),
            layers.Dense(1),
        ],
        name="discriminator",
    )
    generator = keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            layers.Dense(7 * 7 * 32),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Reshape((7, 7, 32)),
            layers.Conv2DTranspose(32, (4, 4), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2DTranspose(32, (4, 4), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid"),
        ],
        name="generator",
    )
    assert "Total params: 18,881" in summary_text(discriminator)
    assert "Total params: 86,145" in summary_text(generator)

    class GAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
            self.seed_generator = keras.random.SeedGenerator(1337)

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def call(self, images):
            # what fit() calls once to build the model: the discriminator's view of a batch
            return self.discriminator(images)

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn

        def train_step(self, real_images):
            if isinstance(real_images, tuple):
                real_images = real_images[0]
            batch_size = ops.shape(real_images)[0]

            # Train the discriminator on generated (label 1) and real (label 0) images.
            random_latent_vectors = keras.random.normal(
                shape=(batch_size, self.latent_dim), seed=self.seed_generator
            )
            generated_images = self.generator(random_latent_vectors)
            combined_images = ops.concatenate([generated_images, real_images], axis=0)
            labels = ops.concatenate(
                [ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0
            )
            labels += 0.05 * keras.random.uniform(ops.shape(labels), seed=self.seed_generator)
            d_weights = self.discriminator.trainable_weights
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
            grads = torch.autograd.grad(d_loss, [ops.convert_to_tensor(v) for v in d_weights])
            with torch.no_grad():
                self.d_optimizer.apply_gradients(zip(grads, d_weights))

            # Train the generator through the discriminator (without updating the discriminator).
            random_latent_vectors = keras.random.normal(
                shape=(batch_size, self.latent_dim), seed=self.seed_generator
            )
            misleading_labels = ops.zeros((batch_size, 1))
            g_weights = self.generator.trainable_weights
            predictions = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
            grads = torch.autograd.grad(g_loss, [ops.convert_to_tensor(v) for v in g_weights])
            with torch.no_grad():
                self.g_optimizer.apply_gradients(zip(grads, g_weights))

            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    (x_train, _), (x_test, _) = keras.datasets.mnist.load_data()
    all_digits = np.concatenate([x_train[:384], x_test[:128]])
    all_digits = all_digits.astype("float32") / 255.0
    all_digits = np.reshape(all_digits, (-1, 28, 28, 1))

    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
        g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    d_before, g_before = weights_of(discriminator), weights_of(generator)
    history = gan.fit(all_digits, epochs=2, batch_size=64, verbose=0)

    print("GAN history:", history.history)
    assert set(history.history) == {"d_loss", "g_loss"}
    assert len(history.history["d_loss"]) == 2
    assert all(np.isfinite(v) for v in history.history["d_loss"] + history.history["g_loss"])
    assert changed(d_before, weights_of(discriminator))
    assert changed(g_before, weights_of(generator))
    assert [m.name for m in gan.metrics] == ["d_loss", "g_loss"]

    random_latent_vectors = np.random.normal(size=(6, latent_dim))
    generated = generator.predict(random_latent_vectors, verbose=0)
    assert generated.shape == (6, 28, 28, 1)
    assert generated.min() >= 0.0 and generated.max() <= 1.0
    img = keras.utils.array_to_img(generated[0])
    assert img.size == (28, 28)


# --- h. the classic tutorial GAN: Sequential generator/discriminator and train_on_batch ---------


def _tutorial_gan(keras, layers):
    """The TensorFlow DCGAN tutorial's two models (the tutorial's code, with `keras.` spelled out)."""

    def make_generator_model():
        model = keras.Sequential()
        model.add(layers.Dense(7 * 7 * 256, use_bias=False, input_shape=(100,)))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())

        model.add(layers.Reshape((7, 7, 256)))
        assert model.output_shape == (None, 7, 7, 256)  # Note: None is the batch size

        model.add(
            layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False)
        )
        assert model.output_shape == (None, 7, 7, 128)
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())

        model.add(
            layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False)
        )
        assert model.output_shape == (None, 14, 14, 64)
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())

        model.add(
            layers.Conv2DTranspose(
                1, (5, 5), strides=(2, 2), padding="same", use_bias=False, activation="tanh"
            )
        )
        assert model.output_shape == (None, 28, 28, 1)
        return model

    def make_discriminator_model():
        model = keras.Sequential()
        model.add(
            layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same", input_shape=[28, 28, 1])
        )
        model.add(layers.LeakyReLU())
        model.add(layers.Dropout(0.3))

        model.add(layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"))
        model.add(layers.LeakyReLU())
        model.add(layers.Dropout(0.3))

        model.add(layers.Flatten())
        model.add(layers.Dense(1, activation="sigmoid"))
        return model

    return make_generator_model(), make_discriminator_model()


def _mnist_tanh_images(keras, n):
    (x_train, _), (_, _) = keras.datasets.mnist.load_data()
    x_train = x_train[:n].reshape(n, 28, 28, 1).astype("float32")
    return (x_train - 127.5) / 127.5  # normalize the images to [-1, 1]


def test_h_classic_gan_train_on_batch_keras3_loop():
    """The classic loop as Keras 3 needs it: `trainable` is toggled around the two steps."""
    import deepfuse as keras
    from deepfuse import layers

    generator, discriminator = _tutorial_gan(keras, layers)
    assert "Total params: 2,330,944" in summary_text(generator)  # the tutorial's figure
    assert "Total params: 212,865" in summary_text(discriminator)

    discriminator.compile(
        loss="binary_crossentropy", optimizer=keras.optimizers.Adam(2e-4, 0.5), metrics=["accuracy"]
    )
    discriminator.trainable = False
    gan = keras.Sequential([generator, discriminator])
    gan.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(2e-4, 0.5))

    # the same combined model, functional form
    z = keras.Input(shape=(100,))
    validity = discriminator(generator(z))
    combined = keras.Model(z, validity)
    combined.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(2e-4, 0.5))
    assert combined.output_shape == (None, 1)

    real_images = _mnist_tanh_images(keras, 64)
    batch_size = 16
    valid = np.ones((batch_size, 1))
    fake = np.zeros((batch_size, 1))
    d_losses, g_losses = [], []
    for step in range(3):
        idx = np.random.randint(0, real_images.shape[0], batch_size)
        noise = np.random.normal(0, 1, (batch_size, 100))
        gen_imgs = generator.predict(noise, verbose=0)
        assert gen_imgs.shape == (batch_size, 28, 28, 1)
        assert gen_imgs.min() >= -1.0 and gen_imgs.max() <= 1.0  # tanh

        discriminator.trainable = True
        d_before = weights_of(discriminator)
        d_loss_real = discriminator.train_on_batch(real_images[idx], valid)
        d_loss_fake = discriminator.train_on_batch(gen_imgs, fake)
        assert changed(d_before, weights_of(discriminator))  # discriminator steps change it
        d_losses.append(0.5 * np.add(d_loss_real, d_loss_fake))

        discriminator.trainable = False
        d_before, g_before = weights_of(discriminator), weights_of(generator)
        model = gan if step % 2 == 0 else combined
        g_losses.append(model.train_on_batch(noise, valid))
        assert not changed(d_before, weights_of(discriminator))  # GAN steps leave it alone
        assert changed(g_before, weights_of(generator))

    assert np.all(np.isfinite(d_losses)) and np.all(np.isfinite(g_losses))
    assert np.shape(d_losses[0]) == (2,)  # [loss, accuracy]
    assert np.ndim(g_losses[0]) == 0  # a float: no metrics
    scores = discriminator.predict(gen_imgs, verbose=0)
    assert scores.shape == (batch_size, 1)
    assert scores.min() >= 0.0 and scores.max() <= 1.0  # sigmoid kept: probabilities
    gan_scores = gan.predict(noise, verbose=0)
    assert gan_scores.min() >= 0.0 and gan_scores.max() <= 1.0  # also when reused inside the GAN


@pytest.mark.keras2_semantics
def test_h_classic_gan_trainable_captured_at_compile():
    """The Keras 2 / tf.keras recipe: `trainable = False` once, between the two compiles.

    deepfuse follows Keras 2 here (the trainable set is captured by compile(), see
    /work/briefs/common12.md); Keras 3 reads `trainable` at each step instead, so on Keras 3
    `discriminator.train_on_batch` updates nothing and warns. README.md records both.
    """
    import deepfuse as keras
    from deepfuse import layers

    generator, discriminator = _tutorial_gan(keras, layers)
    discriminator.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(2e-4, 0.5))
    discriminator.trainable = False
    gan = keras.Sequential([generator, discriminator])
    gan.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(2e-4, 0.5))

    real_images = _mnist_tanh_images(keras, 32)
    noise = np.random.normal(0, 1, (16, 100))
    for _ in range(2):
        gen_imgs = generator.predict(noise, verbose=0)
        d_before = weights_of(discriminator)
        discriminator.train_on_batch(real_images[:16], np.ones((16, 1)))
        discriminator.train_on_batch(gen_imgs, np.zeros((16, 1)))
        assert changed(d_before, weights_of(discriminator))
        d_before, g_before = weights_of(discriminator), weights_of(generator)
        gan.train_on_batch(noise, np.ones((16, 1)))
        assert not changed(d_before, weights_of(discriminator))
        assert changed(g_before, weights_of(generator))
