"""``keras`` cell: Keras 3 on the torch backend, ``model.compile`` + ``model.fit`` with defaults.

Same architectures as the Keras examples (``mnist_convnet`` is channels-last, as Keras users write
it; the torch backend transposes internally, which is part of what Keras costs). ``verbose`` is left
at its default ("auto" = progress bar).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

FRAMEWORK = "keras"


def available(framework: str, workload: str) -> str | None:
    try:
        import keras
    except ImportError as exc:
        return f"not installed: {exc}"
    if keras.backend.backend() != "torch":
        return f"not available: KERAS_BACKEND is {keras.backend.backend()!r}, need 'torch'"
    return None


def version() -> str:
    import keras

    return keras.__version__


def _build(name: str):
    import keras
    from keras import layers

    if name == "mlp":
        stack = [
            keras.Input((784,)),
            layers.Dense(128, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    elif name == "cnn":  # keras-io examples/vision/mnist_convnet.py
        stack = [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    elif name == "lstm":  # keras-io examples/nlp/bidirectional_lstm_imdb.py, one direction
        stack = [
            keras.Input((200,), dtype="int64"),
            layers.Embedding(20_000, 128),
            layers.LSTM(128),
            layers.Dense(1, activation="sigmoid"),
        ]
    else:  # tabular
        stack = [
            keras.Input((100,)),
            layers.Dense(256, activation="relu"),
            layers.Dense(256, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    return keras.Sequential(stack)


def run(w, x, y, framework: str = FRAMEWORK) -> dict:
    import keras

    keras.utils.set_random_seed(0)
    if w.name == "mlp":
        x = x.reshape(len(x), 784)
    elif w.name == "cnn":
        x = x.reshape(len(x), 28, 28, 1)  # channels-last, as in the Keras example
    model = _build(w.name)
    loss = "sparse_categorical_crossentropy" if w.task == "multiclass" else "binary_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(w.lr), loss=loss, metrics=["accuracy"])

    warm = w.warmup_batches * w.batch_size
    model.fit(x[:warm], y[:warm], batch_size=w.batch_size, epochs=1)

    t0 = time.perf_counter()
    hist = model.fit(x, y, batch_size=w.batch_size, epochs=w.epochs)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "loss": float(hist.history["loss"][-1]),
        "accuracy": float(hist.history["accuracy"][-1]),
    }
