"""The classic Keras tutorial snippets run with only the import lines changed.

Each snippet is copied from its tutorial; the only edits are the imports
(`from tensorflow import keras` → `import deepfuse as keras`) and a smaller slice of the data
and fewer epochs so the suite stays fast. The full-size runs live in examples/ and bench/.
"""

from __future__ import annotations

import os

import numpy as np
import pytest


def test_tensorflow_beginner_quickstart_mlp():
    import deepfuse as tf_keras  # was: import tensorflow as tf; tf_keras = tf.keras

    mnist = tf_keras.datasets.mnist
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x_train, x_test = x_train / 255.0, x_test / 255.0
    x_train, y_train, x_test, y_test = x_train[:6000], y_train[:6000], x_test[:2000], y_test[:2000]

    model = tf_keras.models.Sequential(
        [
            tf_keras.layers.Flatten(input_shape=(28, 28)),
            tf_keras.layers.Dense(128, activation="relu"),
            tf_keras.layers.Dropout(0.2),
            tf_keras.layers.Dense(10),
        ]
    )
    loss_fn = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer="adam", loss=loss_fn, metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=2, verbose=0)
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=2)  # noqa: RUF059 (verbatim tutorial line)
    assert test_acc > 0.85


def test_keras_mnist_convnet():
    import deepfuse as keras  # was: import keras
    from deepfuse import layers  # was: from keras import layers

    num_classes = 10
    input_shape = (28, 28, 1)
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train, y_train, x_test, y_test = x_train[:8000], y_train[:8000], x_test[:1000], y_test[:1000]
    x_train = x_train.astype("float32") / 255
    x_test = x_test.astype("float32") / 255
    x_train = np.expand_dims(x_train, -1)
    x_test = np.expand_dims(x_test, -1)
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )
    summary = model.summary(print_fn=None)
    assert "Total params: 34,826" in summary  # the count the Keras tutorial prints

    batch_size = 128
    epochs = 3
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(
        x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=0
    )
    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
    assert score[1] > 0.9


@pytest.mark.skipif(
    not os.environ.get("DEEPFUSE_DATA_DIR"),
    reason="IMDB is not vendored: set DEEPFUSE_DATA_DIR to a folder holding imdb/imdb_reviews.csv.gz",
)
def test_keras_imdb_lstm():
    import deepfuse as keras  # was: import keras
    from deepfuse.layers import LSTM, Dense, Embedding  # was: from keras.layers import ...
    from deepfuse.models import Sequential  # was: from keras.models import Sequential

    max_features = 20000
    maxlen = 80
    batch_size = 32
    (x_train, y_train), (x_test, y_test) = keras.datasets.imdb.load_data(num_words=max_features)
    x_train, y_train, x_test, y_test = x_train[:1500], y_train[:1500], x_test[:500], y_test[:500]
    x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
    x_test = keras.utils.pad_sequences(x_test, maxlen=maxlen)

    model = Sequential()
    model.add(Embedding(max_features, 128))
    with pytest.warns(UserWarning, match="recurrent_dropout"):  # accepted, said, not applied
        model.add(LSTM(128, dropout=0.2, recurrent_dropout=0.2))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    hist = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=2,
        verbose=0,
        validation_data=(x_test, y_test),
    )
    score, acc = model.evaluate(x_test, y_test, batch_size=batch_size)  # noqa: RUF059 (verbatim tutorial line)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert acc > 0.6
