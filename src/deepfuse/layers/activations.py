"""Activation functions by name (``activation="relu"``), as plain torch functions.

Layers store the resolved function and call it directly in ``forward`` (no module, no lookup).

Example:
    >>> import torch
    >>> from deepfuse.layers import activations
    >>> name, fn = activations.resolve("relu")
    >>> fn(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    >>> activations.resolve(None)
    (None, None)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F

from deepfuse._utils.errors import invalid_choice

__all__ = ["get", "names", "resolve"]

Activation = Callable[[torch.Tensor], torch.Tensor]

# leaky_relu uses Keras' slope 0.2 (``keras.activations.leaky_relu``), not torch's 0.01.
_FUNCTIONS: dict[str, Activation] = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "leaky_relu": partial(F.leaky_relu, negative_slope=0.2),
    "elu": F.elu,
    "selu": torch.selu,
    "silu": F.silu,
    "swish": F.silu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "relu6": F.relu6,
    "hard_sigmoid": F.hardsigmoid,
    "mish": F.mish,
    "exponential": torch.exp,
    "hard_silu": F.hardswish,
    "hard_swish": F.hardswish,
}
_AXIS_FUNCTIONS = {"softmax": torch.softmax, "log_softmax": torch.log_softmax}
_LINEAR = ("linear", "identity", "none")
# Callables that users pass directly are mapped back to their names (for config and fusion).
_BY_FUNCTION = {id(f): n for n, f in _FUNCTIONS.items() if not isinstance(f, partial)}
_BY_FUNCTION.update(
    {
        id(F.relu): "relu",
        id(F.sigmoid): "sigmoid",
        id(F.tanh): "tanh",
        id(torch.nn.functional.selu): "selu",
    }
)


def names() -> list[str]:
    """All accepted activation names."""
    return sorted([*_FUNCTIONS, *_AXIS_FUNCTIONS, *_LINEAR])


def resolve(activation: Any, *, axis: int = -1) -> tuple[str | None, Activation | None]:
    """Return ``(name, function)`` for a name, ``None`` or a callable.

    ``None``/``"linear"`` give ``(None, None)`` so a layer can skip the call entirely. Softmax
    normalises over ``axis`` (the last axis, or the channel axis for NCHW convolutions).
    A callable that is not a known torch function keeps its ``__name__`` as its name.
    """
    if activation is None:
        return None, None
    if isinstance(activation, str):
        key = activation.lower()
        if key in _LINEAR:
            return None, None
        if key in _FUNCTIONS:
            return key, _FUNCTIONS[key]
        if key in _AXIS_FUNCTIONS:
            return key, partial(_AXIS_FUNCTIONS[key], dim=axis)
        raise invalid_choice("activation", activation, names())
    if callable(activation):
        name = _BY_FUNCTION.get(id(activation))
        if name is not None:
            return name, activation
        return getattr(activation, "__name__", type(activation).__name__), activation
    raise invalid_choice("activation", activation, names())


def get(activation: Any) -> Activation | None:
    """The activation function for a name or callable (``None`` for linear)."""
    return resolve(activation)[1]


def config_value(activation: Any) -> Any:
    """What ``get_config`` stores: the name for known activations, else the callable itself."""
    if activation is None or isinstance(activation, str):
        return None if activation is None or activation.lower() in _LINEAR else activation.lower()
    name = _BY_FUNCTION.get(id(activation))
    return name if name is not None else activation
