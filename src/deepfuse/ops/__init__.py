"""Keras 3 ``keras.ops``: a curated set of tensor functions with Keras' names and arguments.

Every function takes torch tensors, numpy arrays or Python numbers and returns a torch tensor
(``convert_to_numpy`` and ``shape`` aside): deepfuse's tensors *are* torch tensors, so anything
outside this set is torch's own function. Asking for another name raises an AttributeError
naming the torch function to use instead.

Differences from torch that Keras code relies on, kept here: ``std``/``var`` are population
statistics (numpy's ``ddof=0``), ``transpose(x)`` with no ``axes`` reverses every axis, ``dot``
follows ``numpy.dot``, ``one_hot`` returns float32, and ``cast`` takes dtype strings.

Example:
    >>> import numpy as np
    >>> from deepfuse import ops
    >>> ops.mean(ops.convert_to_tensor([[1.0, 2.0], [3.0, 5.0]]), axis=1).tolist()
    [1.5, 4.0]
    >>> ops.softmax(ops.zeros((1, 4))).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    >>> ops.fft
    Traceback (most recent call last):
    ...
    AttributeError: keras.ops.fft is not provided by deepfuse; use torch.fft (tensors are torch tensors)
"""

from __future__ import annotations

from typing import Any

from deepfuse.ops._convert import (
    arange,
    cast,
    convert_to_numpy,
    convert_to_tensor,
    full,
    linspace,
    ones,
    ones_like,
    shape,
    stop_gradient,
    zeros,
    zeros_like,
)
from deepfuse.ops._extra import (
    all,
    any,
    broadcast_to,
    ceil,
    cumsum,
    einsum,
    equal,
    floor,
    greater,
    greater_equal,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    not_equal,
    power,
    prod,
    repeat,
    round,
    tile,
)
from deepfuse.ops._math import (
    abs,
    absolute,
    add,
    argmax,
    argmin,
    clip,
    divide,
    erf,
    exp,
    log,
    max,
    maximum,
    mean,
    min,
    minimum,
    multiply,
    negative,
    sqrt,
    square,
    std,
    subtract,
    sum,
    var,
    where,
)
from deepfuse.ops._nn import (
    binary_crossentropy,
    categorical_crossentropy,
    concatenate,
    dot,
    expand_dims,
    log_softmax,
    matmul,
    one_hot,
    relu,
    reshape,
    sigmoid,
    softmax,
    squeeze,
    stack,
    tanh,
    transpose,
)

__all__ = [
    "abs",
    "absolute",
    "add",
    "all",
    "any",
    "arange",
    "argmax",
    "argmin",
    "binary_crossentropy",
    "broadcast_to",
    "cast",
    "categorical_crossentropy",
    "ceil",
    "clip",
    "concatenate",
    "convert_to_numpy",
    "convert_to_tensor",
    "cumsum",
    "divide",
    "dot",
    "einsum",
    "equal",
    "erf",
    "exp",
    "expand_dims",
    "floor",
    "full",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "linspace",
    "log",
    "log_softmax",
    "logical_and",
    "logical_not",
    "logical_or",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "multiply",
    "negative",
    "not_equal",
    "one_hot",
    "ones",
    "ones_like",
    "power",
    "prod",
    "relu",
    "repeat",
    "reshape",
    "round",
    "shape",
    "sigmoid",
    "softmax",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "stop_gradient",
    "subtract",
    "sum",
    "tanh",
    "tile",
    "transpose",
    "var",
    "where",
    "zeros",
    "zeros_like",
]


#: Keras' ops namespaces whose torch counterpart has another name.
_TORCH_NAMES = {
    "nn": "torch.nn.functional",
    "image": "torchvision.transforms.v2.functional or torch.nn.functional.interpolate",
    "numpy": "torch",
    "core": "torch",
}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)  # Python's own probes (__path__, __wrapped__ ...)
    use = _TORCH_NAMES.get(name, f"torch.{name}")
    raise AttributeError(
        f"keras.ops.{name} is not provided by deepfuse; use {use} (tensors are torch tensors)"
    )
