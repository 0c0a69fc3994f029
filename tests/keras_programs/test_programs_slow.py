"""Keras programs trained to the accuracy keras.io publishes for them (``pytest -m slow``).

Same rules as the fast programs: plain Keras 3 code, only the import lines changed. Each program
runs at the size of its keras.io page and is compared with the figure that page prints (the
keras-io repository's rendered ``.md`` output of the page, quoted in each docstring). Tolerances
are one to two points: keras.io prints one run on another machine, our IMDB word index is built
from the vendored CSV rather than Keras' ``imdb.npz``, and torch's CPU kernels differ from TF's.
Timings on this 2-core CPU are in README.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from programs_support import needs_imdb

pytestmark = pytest.mark.slow


def test_functional_guide_mnist_mlp_to_published_accuracy():
    """keras.io/guides/functional_api "Training, evaluation, and inference": the 784-64-64-10
    functional model, RMSprop, 2 epochs, batch 64, validation_split 0.2. The page prints
    ``Test accuracy: 0.9580000042915344``; we require >= 0.95.
    """
    import deepfuse as keras
    from deepfuse import layers

    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train = x_train.reshape(60000, 784).astype("float32") / 255
    x_test = x_test.reshape(10000, 784).astype("float32") / 255

    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.RMSprop(),
        metrics=["accuracy"],
    )
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2, verbose=0)
    test_scores = model.evaluate(x_test, y_test, verbose=2)
    print("Test loss:", test_scores[0])
    print("Test accuracy:", test_scores[1])
    assert history.history["val_accuracy"][-1] > 0.945  # page: val_accuracy 0.9576
    assert test_scores[1] >= 0.95  # page: 0.9580


def test_mnist_convnet_functional_to_published_accuracy():
    """keras.io/examples/vision/mnist_convnet, written with the functional API: the same
    34,826-parameter convnet, Adam, 15 epochs, batch 128, validation_split 0.1. The page prints
    ``Test accuracy: 0.9922000169754028``; we require >= 0.988 (deepfuse's Sequential
    mnist_convnet example reached 0.9904 and 0.9917 in earlier runs, README.md).
    """
    import deepfuse as keras
    from deepfuse import layers

    num_classes = 10
    input_shape = (28, 28, 1)
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(32, kernel_size=(3, 3), activation="relu")(inputs)
    x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    x = layers.Conv2D(64, kernel_size=(3, 3), activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)

    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=15, validation_split=0.1, verbose=2)
    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
    assert score[1] >= 0.988  # page: 0.9922


@needs_imdb
def test_imdb_bidirectional_lstm_to_published_accuracy():
    """keras.io/examples/nlp/bidirectional_lstm_imdb: Input(shape=(None,), dtype="int32") ->
    Embedding(20000, 128) -> 2 x Bidirectional(LSTM(64)) -> Dense(1, sigmoid), maxlen 200,
    2 epochs, batch 32. The page prints ``val_accuracy: 0.8428`` after epoch 2 (0.8269 after
    epoch 1); we require >= 0.83 (the word index comes from the vendored CSV, not imdb.npz).
    """
    import deepfuse as keras
    from deepfuse import layers

    max_features = 20000  # only consider the top 20k words
    maxlen = 200  # only consider the first 200 words of each movie review

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(max_features, 128)(inputs)
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)

    (x_train, y_train), (x_val, y_val) = keras.datasets.imdb.load_data(num_words=max_features)
    x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
    x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train, y_train, batch_size=32, epochs=2, validation_data=(x_val, y_val), verbose=2
    )
    print("history:", history.history)
    assert history.history["val_accuracy"][-1] >= 0.83  # page: 0.8428


def test_denoising_autoencoder_to_published_loss():
    """keras.io/examples/vision/autoencoder: the 28,353-parameter convolutional autoencoder,
    Adam + binary cross-entropy, batch 128, on all 60,000 digits. The page prints
    ``val_loss: 0.0691`` after 2 epochs of ``fit(train, train)`` and ``val_loss: 0.0922`` after
    the first epoch of ``fit(noisy_train, train)``; we run exactly those 2 + 1 epochs and require
    val_loss <= 0.072 and <= 0.098 (lower is better; real Keras 3.15 on this machine: 0.0692 and
    0.0962, the noise draw differs from the page's).
    """
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
    train_data = preprocess(train_data)
    test_data = preprocess(test_data)
    noisy_train_data = noise(train_data)
    noisy_test_data = noise(test_data)

    input = layers.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(input)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    autoencoder = keras.Model(input, x)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")

    clean = autoencoder.fit(
        x=train_data,
        y=train_data,
        epochs=2,
        batch_size=128,
        shuffle=True,
        validation_data=(test_data, test_data),
        verbose=2,
    )
    denoising = autoencoder.fit(
        x=noisy_train_data,
        y=train_data,
        epochs=1,
        batch_size=128,
        shuffle=True,
        validation_data=(noisy_test_data, test_data),
        verbose=2,
    )
    print("clean:", clean.history, "denoising:", denoising.history)
    assert clean.history["val_loss"][-1] <= 0.072  # page: 0.0691, Keras here: 0.0692
    assert denoising.history["val_loss"][-1] <= 0.098  # page: 0.0922, Keras here: 0.0962
    assert autoencoder.predict(noisy_test_data[:10], verbose=0).shape == (10, 28, 28, 1)
