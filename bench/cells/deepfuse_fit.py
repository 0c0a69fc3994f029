"""``deepfuse`` cells: ``model.compile(...)`` + ``model.fit(x, y, epochs=E, batch_size=B)`` with
defaults (progress bar on, ``metrics=["accuracy"]``), numpy arrays in, as a user writes it.

- ``deepfuse``: the Keras-style ``df.Sequential([df.layers...])`` with a final softmax/sigmoid and
  the Keras loss names (the model fuses the activation into the loss).
- ``deepfuse_module``: ``df.Model(module)`` around the *same* ``torch.nn`` module as the torch cell,
  with torch loss modules: isolates the cost of ``fit`` from the cost of our layers.
"""

from __future__ import annotations

import time

from bench.cells import torch_models as tm

FRAMEWORK = "deepfuse"


def available(framework: str, workload: str) -> str | None:
    try:
        import deepfuse as df
    except ImportError as exc:
        return f"not installed: {exc}"
    missing = [n for n in ("Sequential", "Model", "layers") if not hasattr(df, n)]
    if not missing and framework == "deepfuse":
        missing = [f"layers.{n}" for n in _LAYERS[workload] if not hasattr(df.layers, n)]
        if workload == "cnn" and not hasattr(df.layers, "MaxPool2D"):
            missing = [m for m in missing if m != "layers.MaxPooling2D"]
    if missing:
        return f"not available: deepfuse has no {', '.join(missing)} yet"
    return None


_LAYERS = {
    "mlp": ["Dense"],
    "cnn": ["Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"],
    "lstm": ["Embedding", "LSTM", "Dense"],
    "tabular": ["Dense"],
}


def version() -> str:
    import deepfuse

    return getattr(deepfuse, "__version__", "?")


def _sequential(name: str):
    import deepfuse as df

    L = df.layers
    if name == "mlp":
        stack = [
            L.Dense(128, activation="relu", input_shape=(784,)),
            L.Dense(128, activation="relu"),
            L.Dense(10, activation="softmax"),
        ]
    elif name == "cnn":  # Keras mnist_convnet, Keras' channels-last input_shape
        pool = getattr(L, "MaxPooling2D", None) or L.MaxPool2D
        stack = [
            L.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
            pool(2),
            L.Conv2D(64, 3, activation="relu"),
            pool(2),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ]
    elif name == "lstm":
        stack = [
            L.Embedding(20_000, 128, input_shape=(200,)),
            L.LSTM(128),
            L.Dense(1, activation="sigmoid"),
        ]
    else:  # tabular
        stack = [
            L.Dense(256, activation="relu", input_shape=(100,)),
            L.Dense(256, activation="relu"),
            L.Dense(1, activation="sigmoid"),
        ]
    return df.Sequential(stack)


def run(w, x, y, framework: str = FRAMEWORK) -> dict:
    import deepfuse as df

    if framework == "deepfuse_module":
        x = tm.shape_x(x, w.name)  # MLP (N, 784), CNN NCHW (N, 1, 28, 28), as for the torch cell
        model = df.Model(tm.build(w.name))
        loss = tm.loss_fn(w.task)  # logits in, like the torch cell
    else:
        # what a Keras user passes: MLP (N, 784); CNN channels-last (N, 28, 28, 1), which
        # deepfuse converts to NCHW once when the data enters fit (part of the timed fit call)
        x = x.reshape(len(x), 28, 28, 1) if w.name == "cnn" else tm.shape_x(x, w.name)
        model = _sequential(w.name)
        loss = (
            "sparse_categorical_crossentropy" if w.task == "multiclass" else "binary_crossentropy"
        )
    model.compile(optimizer={"name": "adam", "lr": w.lr}, loss=loss, metrics=["accuracy"])

    warm = w.warmup_batches * w.batch_size
    model.fit(x[:warm], y[:warm], epochs=1, batch_size=w.batch_size)

    t0 = time.perf_counter()
    hist = model.fit(x, y, epochs=w.epochs, batch_size=w.batch_size)
    seconds = time.perf_counter() - t0
    history = getattr(hist, "history", hist) or {}
    return {
        "seconds": seconds,
        "loss": float(history["loss"][-1]) if "loss" in history else float("nan"),
        "accuracy": float(history["accuracy"][-1]) if "accuracy" in history else float("nan"),
    }
