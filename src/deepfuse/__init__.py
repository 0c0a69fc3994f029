"""deepfuse: Keras-simple deep learning on PyTorch.

Everything is imported on first use, so ``import deepfuse`` (and the ``deepfuse`` command's
``--help``) stays cheap; ``deepfuse.Sequential`` loads torch and the model code when touched.

Example:
    >>> import deepfuse as df
    >>> model = df.Sequential([df.layers.Dense(64, activation="relu"), df.layers.Dense(10)])
    >>> model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])

Keras code runs with its import line changed: ``import deepfuse as keras`` (``keras.layers``,
``keras.ops``, ``keras.random``, ``keras.utils``, ``keras.preprocessing`` ...), and TensorFlow's
spelling ``import deepfuse as tf; tf.keras.Sequential(...)``: ``deepfuse.keras`` is deepfuse itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # what the lazy names resolve to, for type checkers and IDEs
    from deepfuse import (
        api,
        callbacks,
        data,
        datasets,
        layers,
        losses,
        metrics,
        models,
        ops,
        optimizers,
        preprocessing,
        random,
        training,
        utils,
    )
    from deepfuse.layers import Input
    from deepfuse.models import Model, Sequential, build
    from deepfuse.models.serialization import load_model as load

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "__version__",
    "api",
    "build",
    "callbacks",
    "data",
    "datasets",
    "layers",
    "load",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "preprocessing",
    "random",
    "training",
    "utils",
]

_MODULES = {
    "api": "deepfuse.api",
    "callbacks": "deepfuse.training.callbacks",
    "data": "deepfuse.data",
    "datasets": "deepfuse.datasets",
    "layers": "deepfuse.layers",
    "losses": "deepfuse.losses",
    "keras": "deepfuse",  # tf.keras spelling: `import deepfuse as tf; tf.keras.layers.Dense(...)`
    "metrics": "deepfuse.metrics",
    "models": "deepfuse.models",
    "ops": "deepfuse.ops",
    "optimizers": "deepfuse.optimizers",
    "preprocessing": "deepfuse.preprocessing",
    "random": "deepfuse.random",
    "training": "deepfuse.training",
    "utils": "deepfuse.utils",
}
_ATTRIBUTES = {
    "Input": ("deepfuse.layers", "Input"),
    "Model": ("deepfuse.models", "Model"),
    "Sequential": ("deepfuse.models", "Sequential"),
    "build": ("deepfuse.models", "build"),
    "load": ("deepfuse.models.serialization", "load_model"),
}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    elif name in _ATTRIBUTES:
        module, attribute = _ATTRIBUTES[name]
        value = getattr(importlib.import_module(module), attribute)
    else:
        raise AttributeError(f"module 'deepfuse' has no attribute {name!r}")
    globals()[name] = value  # cache: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
