"""Vision programs: the functional API on MNIST, a denoising autoencoder, image folders.

Part of issue 12's acceptance suite (see README.md): each test is a Keras 3 program written the way
users write them (after the keras.io examples and guides; written here, not copied) whose body
starts with ``import deepfuse as keras`` / ``from deepfuse import layers`` / ``from deepfuse import
ops`` and is otherwise plain Keras code. ``_keras_reference.py`` runs this file on real Keras 3
(torch backend); the figures asserted here (parameter counts from ``summary()``, shapes in Keras'
channels-last layout, accuracy floors) are the ones real Keras printed, recorded in README.md.
"""

from __future__ import annotations

import numpy as np
from programs_support import summary_text

# --- a. the functional API on MNIST --------------------------------------------------------------


def test_a_functional_mnist_mlp():
    import deepfuse as keras
    from deepfuse import layers

    inputs = keras.Input(shape=(784,))
    assert inputs.shape == (None, 784)
    dense = layers.Dense(64, activation="relu")
    x = dense(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    assert outputs.shape == (None, 10)
    model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
    assert "Total params: 55,050" in summary_text(model)  # the functional-API guide's figure

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train = x_train[:6000].reshape(6000, 784).astype("float32") / 255
    x_test = x_test[:2000].reshape(2000, 784).astype("float32") / 255
    y_train, y_test = y_train[:6000], y_test[:2000]

    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.RMSprop(),
        metrics=["accuracy"],
    )
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2, verbose=0)
    test_scores = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", test_scores[0], "Test accuracy:", test_scores[1])

    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["loss"][1] < history.history["loss"][0]
    assert test_scores[1] > 0.83  # real Keras: 0.864 on this slice
    logits = model.predict(x_test[:5], verbose=0)
    assert logits.shape == (5, 10)
    assert logits.min() < 0  # logits, no softmax fused in


def test_a_functional_mnist_cnn():
    import deepfuse as keras
    from deepfuse import layers

    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, kernel_size=(3, 3), activation="relu")(inputs)
    assert x.shape == (None, 26, 26, 32)  # Keras' channels-last layout
    x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    assert x.shape == (None, 13, 13, 32)
    x = layers.Conv2D(64, kernel_size=(3, 3), activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    assert x.shape == (None, 5, 5, 64)
    x = layers.Flatten()(x)
    assert x.shape == (None, 1600)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    assert model.input.shape == (None, 28, 28, 1)
    assert model.output.shape == (None, 10)
    assert "Total params: 34,826" in summary_text(model)

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train = np.expand_dims(x_train[:4000].astype("float32") / 255, -1)
    x_test = np.expand_dims(x_test[:1000].astype("float32") / 255, -1)
    y_train = keras.utils.to_categorical(y_train[:4000], 10)
    y_test = keras.utils.to_categorical(y_test[:1000], 10)

    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=2, verbose=0)
    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test accuracy:", score[1])
    assert score[1] > 0.83  # real Keras: 0.863 on this slice
    probs = model.predict(x_test[:8], verbose=0)
    assert probs.shape == (8, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


# --- c. a convolutional denoising autoencoder ----------------------------------------------------


def test_c_convolutional_denoising_autoencoder():
    import deepfuse as keras
    from deepfuse import layers

    def preprocess(array):
        array = array.astype("float32") / 255.0
        return np.reshape(array, (len(array), 28, 28, 1))

    def noise(array):
        noise_factor = 0.4
        noisy_array = array + noise_factor * np.random.normal(loc=0.0, scale=1.0, size=array.shape)
        return np.clip(noisy_array, 0.0, 1.0)

    (train_data, _), (test_data, _) = keras.datasets.mnist.load_data()
    train_data = preprocess(train_data[:512])
    test_data = preprocess(test_data[:256])
    noisy_train_data = noise(train_data)
    noisy_test_data = noise(test_data)

    input = layers.Input(shape=(28, 28, 1))
    # Encoder
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(input)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    assert x.shape == (None, 7, 7, 32)
    # Decoder
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    assert x.shape == (None, 28, 28, 1)

    autoencoder = keras.Model(input, x)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    assert "Total params: 28,353" in summary_text(autoencoder)  # the keras.io example's figure

    first = autoencoder.fit(
        x=train_data,
        y=train_data,
        epochs=2,
        batch_size=64,
        shuffle=True,
        validation_data=(test_data, test_data),
        verbose=0,
    )
    assert first.history["loss"][1] < first.history["loss"][0]
    predictions = autoencoder.predict(test_data, verbose=0)
    assert predictions.shape == (256, 28, 28, 1)

    second = autoencoder.fit(
        x=noisy_train_data,
        y=train_data,
        epochs=6,
        batch_size=64,
        shuffle=True,
        validation_data=(noisy_test_data, test_data),
        verbose=0,
    )
    print("denoising history:", second.history)
    assert second.history["val_loss"][-1] < second.history["val_loss"][0]
    denoised = autoencoder.predict(noisy_test_data, verbose=0)
    assert denoised.shape == (256, 28, 28, 1)
    # the denoised digits are closer to the clean ones than the noisy input was (pixel-aligned:
    # a transposed or channels-first output fails this)
    assert np.mean((denoised - test_data) ** 2) < 0.75 * np.mean((noisy_test_data - test_data) ** 2)


# --- l. image_dataset_from_directory on a folder of PNGs -----------------------------------------


def _write_pngs(root, per_class=12, size=20):
    """Two classes told apart by colour: red-ish 'apples' and blue-ish 'plums', as PNG files."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, channel in (("apples", 0), ("plums", 2)):
        folder = root / name
        folder.mkdir()
        for i in range(per_class):
            pixels = rng.integers(0, 90, size=(size, size, 3), dtype=np.uint8)
            pixels[:, :, channel] += 150
            Image.fromarray(pixels).save(folder / f"{name}_{i}.png")


def test_l_image_dataset_from_directory_int_labels(tmp_path):
    _write_pngs(tmp_path)

    import deepfuse as keras
    from deepfuse import layers

    train_ds = keras.utils.image_dataset_from_directory(
        tmp_path,
        validation_split=0.25,
        subset="training",
        seed=1337,
        image_size=(16, 16),
        batch_size=6,
    )
    val_ds = keras.utils.image_dataset_from_directory(
        tmp_path,
        validation_split=0.25,
        subset="validation",
        seed=1337,
        image_size=(16, 16),
        batch_size=6,
    )
    assert train_ds.class_names == ["apples", "plums"]
    for images, labels in train_ds:
        assert tuple(images.shape) == (6, 16, 16, 3)  # channels last, as Keras yields them
        assert tuple(labels.shape) == (6,)
        assert float(np.max(images)) > 100  # not rescaled yet: the model does that
        break

    model = keras.Sequential(
        [
            keras.Input(shape=(16, 16, 3)),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(8, 3, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(train_ds, validation_data=val_ds, epochs=15, verbose=0)
    print("history:", {k: v[-1] for k, v in history.history.items()})
    assert history.history["val_accuracy"][-1] == 1.0


def test_l_image_dataset_from_directory_categorical_labels(tmp_path):
    _write_pngs(tmp_path)

    import deepfuse as keras
    from deepfuse import layers

    train_ds = keras.utils.image_dataset_from_directory(
        tmp_path, label_mode="categorical", image_size=(16, 16), batch_size=8, shuffle=True, seed=7
    )
    assert train_ds.class_names == ["apples", "plums"]
    images, labels = next(iter(train_ds))
    assert tuple(images.shape) == (8, 16, 16, 3)
    assert tuple(labels.shape) == (8, 2)
    np.testing.assert_allclose(np.sum(labels, axis=1), 1.0)

    model = keras.Sequential(
        [
            keras.Input(shape=(16, 16, 3)),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(8, 3, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(train_ds, epochs=15, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] == 1.0
