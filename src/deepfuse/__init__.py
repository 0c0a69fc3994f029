"""deepfuse: Keras-simple deep learning on PyTorch.

Example:
    >>> import deepfuse as df
    >>> model = df.Sequential([df.layers.Dense(64, activation="relu"), df.layers.Dense(10)])
    >>> model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])  # doctest: +ELLIPSIS
    <...>
"""

from __future__ import annotations

import importlib
from typing import Any

from deepfuse import layers
from deepfuse.layers import Input
from deepfuse.models import Model, Sequential, build
from deepfuse.models.serialization import load_model as load

__version__ = "0.1.0"

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "__version__",
    "build",
    "callbacks",
    "data",
    "datasets",
    "layers",
    "load",
    "losses",
    "metrics",
    "optimizers",
    "utils",
]

# Heavier or optional parts load on first use, so `import deepfuse` stays cheap.
_LAZY = {
    "callbacks": "deepfuse.training.callbacks",
    "data": "deepfuse.data",
    "datasets": "deepfuse.datasets",
    "losses": "deepfuse.losses",
    "metrics": "deepfuse.metrics",
    "training": "deepfuse.training",
    "api": "deepfuse.api",
    "optimizers": "deepfuse.optimizers",
    "utils": "deepfuse.utils",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'deepfuse' has no attribute {name!r}")
