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

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from deepfuse._utils.errors import UserError, invalid_choice

__all__ = [
    "abs",
    "absolute",
    "add",
    "arange",
    "argmax",
    "argmin",
    "binary_crossentropy",
    "cast",
    "categorical_crossentropy",
    "clip",
    "concatenate",
    "convert_to_numpy",
    "convert_to_tensor",
    "divide",
    "dot",
    "erf",
    "exp",
    "expand_dims",
    "full",
    "linspace",
    "log",
    "log_softmax",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "multiply",
    "negative",
    "one_hot",
    "ones",
    "ones_like",
    "relu",
    "reshape",
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
    "transpose",
    "var",
    "where",
    "zeros",
    "zeros_like",
]

Axis = int | Sequence[int] | None

_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
}


def _dtype(dtype: Any) -> torch.dtype | None:
    """A Keras dtype (string, numpy dtype or torch dtype) as a torch dtype; ``None`` stays."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    if name not in _DTYPES:
        raise invalid_choice("dtype", name, list(_DTYPES))
    return _DTYPES[name]


def _t(x: Any) -> Tensor:
    return (
        x
        if isinstance(x, Tensor)
        else torch.as_tensor(np.asarray(x) if isinstance(x, list | tuple) else x)
    )


def _dims(axis: Axis) -> tuple[int, ...] | None:
    if axis is None:
        return None
    return (int(axis),) if isinstance(axis, int | np.integer) else tuple(int(a) for a in axis)


# ----------------------------------------------------------------------- conversion
def convert_to_tensor(x: Any, dtype: Any = None, sparse: bool | None = None) -> Tensor:
    """``x`` as a torch tensor (Python floats become float32, as Keras' ``floatx``).

    Example:
        >>> convert_to_tensor([1.0, 2.0]).dtype, convert_to_tensor(3, dtype="float32").dtype
        (torch.float32, torch.float32)
    """
    if sparse:
        raise UserError(
            "keras.ops.convert_to_tensor(sparse=True) is not supported by deepfuse; use torch.sparse."
        )
    if isinstance(x, Tensor):
        tensor = x
    else:
        arr = np.asarray(x)
        tensor = torch.as_tensor(arr)
        if not isinstance(x, np.ndarray | np.generic) and tensor.dtype == torch.float64:
            tensor = tensor.float()  # Python floats: Keras' default float32
    return tensor if dtype is None else tensor.to(_dtype(dtype))


def convert_to_numpy(x: Any) -> np.ndarray:
    """``x`` as a numpy array (detached, on the CPU).

    Example:
        >>> convert_to_numpy(ones((2,))).tolist()
        [1.0, 1.0]
    """
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def cast(x: Any, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype`` (``"float32"``, ``"int64"``, ``"bool"``, ...).

    Example:
        >>> cast([1.7, -1.2], "int32").tolist()
        [1, -1]
    """
    return _t(x).to(_dtype(dtype))


def shape(x: Any) -> tuple[int, ...]:
    """The shape as a tuple of ints.

    Example:
        >>> shape(zeros((2, 3)))
        (2, 3)
    """
    return tuple(_t(x).shape)


def stop_gradient(variable: Any) -> Tensor:
    """The value with no gradient flowing back (``tensor.detach()``)."""
    return _t(variable).detach()


# ------------------------------------------------------------------------ creation
def ones(shape: Sequence[int] | int, dtype: Any = None) -> Tensor:
    """A tensor of ones (float32 by default)."""
    return torch.ones(shape, dtype=_dtype(dtype) or torch.float32)


def zeros(shape: Sequence[int] | int, dtype: Any = None) -> Tensor:
    """A tensor of zeros (float32 by default)."""
    return torch.zeros(shape, dtype=_dtype(dtype) or torch.float32)


def full(shape: Sequence[int] | int, fill_value: Any, dtype: Any = None) -> Tensor:
    """A tensor filled with ``fill_value``.

    Example:
        >>> full((2,), 7, dtype="int64").tolist()
        [7, 7]
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return torch.full(shape, fill_value, dtype=_dtype(dtype) or torch.float32)


def ones_like(x: Any, dtype: Any = None) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``x``."""
    return torch.ones_like(_t(x), dtype=_dtype(dtype))


def zeros_like(x: Any, dtype: Any = None) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``x``."""
    return torch.zeros_like(_t(x), dtype=_dtype(dtype))


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values in ``[start, stop)``; ``arange(n)`` is ``0 .. n-1``.

    Example:
        >>> arange(3).tolist(), arange(1, 2, 0.5).tolist()
        ([0, 1, 2], [1.0, 1.5])
    """
    if stop is None:
        start, stop = 0, start
    return torch.arange(start, stop, step, dtype=_dtype(dtype))


def linspace(
    start: float,
    stop: float,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
) -> Tensor | tuple[Tensor, Tensor]:
    """``num`` evenly spaced values from ``start`` to ``stop`` (numpy's ``linspace``).

    Example:
        >>> linspace(0, 1, 5).tolist(), linspace(0, 1, 4, endpoint=False).tolist()
        ([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.25, 0.5, 0.75])
    """
    if axis != 0:
        raise UserError(
            "keras.ops.linspace(axis=...) is not supported by deepfuse; use torch.linspace and torch.stack."
        )
    div = (num - 1) if endpoint else num
    step = (stop - start) / div if div > 0 else float("nan")
    values = torch.linspace(
        start, stop if endpoint else stop - step, num, dtype=_dtype(dtype) or torch.float32
    )
    return (values, torch.tensor(step)) if retstep else values


# --------------------------------------------------------------------- elementwise
def add(x1: Any, x2: Any) -> Tensor:
    """``x1 + x2`` (broadcast)."""
    return torch.add(_t(x1), _t(x2))


def subtract(x1: Any, x2: Any) -> Tensor:
    """``x1 - x2`` (broadcast)."""
    return torch.subtract(_t(x1), _t(x2))


def multiply(x1: Any, x2: Any) -> Tensor:
    """``x1 * x2`` (broadcast)."""
    return torch.multiply(_t(x1), _t(x2))


def divide(x1: Any, x2: Any) -> Tensor:
    """True division ``x1 / x2`` (integers give floats, as numpy)."""
    return torch.true_divide(_t(x1), _t(x2))


def negative(x: Any) -> Tensor:
    """``-x``."""
    return torch.negative(_t(x))


def square(x: Any) -> Tensor:
    """``x * x``."""
    return torch.square(_t(x))


def sqrt(x: Any) -> Tensor:
    """Square root (integers give floats)."""
    x = _t(x)
    return torch.sqrt(x if x.is_floating_point() else x.float())


def exp(x: Any) -> Tensor:
    """``e ** x``."""
    x = _t(x)
    return torch.exp(x if x.is_floating_point() else x.float())


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    x = _t(x)
    return torch.log(x if x.is_floating_point() else x.float())


def abs(x: Any) -> Tensor:
    """Absolute value."""
    return torch.abs(_t(x))


absolute = abs


def erf(x: Any) -> Tensor:
    """The error function."""
    return torch.erf(_t(x))


def clip(x: Any, x_min: Any, x_max: Any) -> Tensor:
    """``x`` limited to ``[x_min, x_max]``.

    Example:
        >>> clip([-2.0, 0.5, 3.0], 0, 1).tolist()
        [0.0, 0.5, 1.0]
    """
    return torch.clamp(_t(x), x_min, x_max)


def maximum(x1: Any, x2: Any) -> Tensor:
    """Elementwise maximum (broadcast)."""
    x1, x2 = _t(x1), _t(x2)
    return torch.maximum(x1, x2.to(x1.device))


def minimum(x1: Any, x2: Any) -> Tensor:
    """Elementwise minimum (broadcast)."""
    x1, x2 = _t(x1), _t(x2)
    return torch.minimum(x1, x2.to(x1.device))


def where(condition: Any, x1: Any = None, x2: Any = None) -> Tensor | tuple[Tensor, ...]:
    """``x1`` where ``condition`` holds, else ``x2``; with one argument, the indices where it holds.

    Example:
        >>> where([True, False], 1.0, 0.0).tolist()
        [1.0, 0.0]
    """
    cond = _t(condition).bool()
    if x1 is None and x2 is None:
        return torch.where(cond)
    if x1 is None or x2 is None:
        raise UserError(
            "keras.ops.where needs both x1 and x2, or neither (then it returns indices)."
        )
    return torch.where(cond, _t(x1), _t(x2))


# ---------------------------------------------------------------------- reductions
def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes when ``None``)."""
    x = _t(x)
    dims = _dims(axis)
    return x.sum() if dims is None and not keepdims else torch.sum(x, dim=dims, keepdim=keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (integers give floats)."""
    x = _t(x)
    x = x if x.is_floating_point() else x.float()
    return torch.mean(x, dim=_dims(axis), keepdim=keepdims)


def _extreme(x: Any, axis: Axis, keepdims: bool, largest: bool) -> Tensor:
    x = _t(x)
    if x.dim() == 0:
        return x
    dims = _dims(axis) or tuple(range(x.dim()))  # None: every axis
    return (torch.amax if largest else torch.amin)(x, dim=dims, keepdim=keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False, initial: float | None = None) -> Tensor:
    """Largest value over ``axis`` (values only; see ``argmax`` for positions).

    Example:
        >>> max([[1, 5], [7, 2]], axis=0).tolist(), int(max([[1, 5], [7, 2]]))
        ([7, 5], 7)
    """
    out = _extreme(x, axis, keepdims, largest=True)
    return out if initial is None else torch.clamp(out, min=initial)


def min(x: Any, axis: Axis = None, keepdims: bool = False, initial: float | None = None) -> Tensor:
    """Smallest value over ``axis``."""
    out = _extreme(x, axis, keepdims, largest=False)
    return out if initial is None else torch.clamp(out, max=initial)


def var(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Population variance over ``axis`` (numpy's ``ddof=0``, as Keras; torch's default is 1).

    Example:
        >>> float(var([1.0, 2.0, 3.0, 4.0]))
        1.25
    """
    x = _t(x)
    x = x if x.is_floating_point() else x.float()
    return torch.var(x, dim=_dims(axis), keepdim=keepdims, correction=0)


def std(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Population standard deviation over ``axis`` (``ddof=0``)."""
    return torch.sqrt(var(x, axis=axis, keepdims=keepdims))


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest value (over the flattened tensor when ``axis`` is None)."""
    return torch.argmax(_t(x), dim=axis, keepdim=keepdims if axis is not None else False)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest value (over the flattened tensor when ``axis`` is None)."""
    return torch.argmin(_t(x), dim=axis, keepdim=keepdims if axis is not None else False)


# --------------------------------------------------------------------------- shape
def concatenate(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing ``axis``."""
    return torch.cat([_t(x) for x in xs], dim=axis)


def stack(x: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new ``axis``."""
    return torch.stack([_t(v) for v in x], dim=axis)


def reshape(x: Any, newshape: Sequence[int] | int) -> Tensor:
    """``x`` with shape ``newshape`` (one ``-1`` is inferred)."""
    return torch.reshape(_t(x), (newshape,) if isinstance(newshape, int) else tuple(newshape))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes; ``axes=None`` reverses them (numpy's rule, not torch's swap of two).

    Example:
        >>> shape(transpose(zeros((2, 3, 4)))), shape(transpose(zeros((2, 3, 4)), (0, 2, 1)))
        ((4, 3, 2), (2, 4, 3))
    """
    x = _t(x)
    return x.permute(*(reversed(range(x.dim())) if axes is None else axes))


def expand_dims(x: Any, axis: int) -> Tensor:
    """``x`` with a new axis of size 1 at ``axis``."""
    return torch.unsqueeze(_t(x), axis)


def squeeze(x: Any, axis: Axis = None) -> Tensor:
    """``x`` without its size-1 axes (only ``axis`` when given)."""
    x = _t(x)
    dims = _dims(axis)
    return x.squeeze() if dims is None else x.squeeze(dims)


# ----------------------------------------------------------------------- linear algebra
def matmul(x1: Any, x2: Any) -> Tensor:
    """Matrix product with numpy's broadcasting (``x1 @ x2``)."""
    return torch.matmul(_t(x1), _t(x2))


def dot(x1: Any, x2: Any) -> Tensor:
    """``numpy.dot``: scalars multiply, 1-D/2-D is the matrix product, N-D sums the last axis of
    ``x1`` against the second-to-last of ``x2``.

    Example:
        >>> dot([1.0, 2.0], [3.0, 4.0]).item(), shape(dot(ones((2, 3, 4)), ones((5, 4, 6))))
        (11.0, (2, 3, 5, 6))
    """
    x1, x2 = _t(x1), _t(x2)
    if x1.dim() == 0 or x2.dim() == 0:
        return x1 * x2
    if x1.dim() <= 2 and x2.dim() <= 2:
        return torch.matmul(x1, x2)
    return torch.tensordot(x1, x2, dims=([-1], [-2 if x2.dim() > 1 else -1]))


# ---------------------------------------------------------------------- activations
def relu(x: Any) -> Tensor:
    """``max(x, 0)``."""
    return torch.relu(_t(x))


def sigmoid(x: Any) -> Tensor:
    """``1 / (1 + exp(-x))``."""
    return torch.sigmoid(_t(x))


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent."""
    return torch.tanh(_t(x))


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax over ``axis`` (the last by default)."""
    return torch.softmax(_t(x), dim=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """Log of the softmax over ``axis``, computed stably."""
    return torch.log_softmax(_t(x), dim=axis)


def one_hot(
    x: Any, num_classes: int, axis: int = -1, dtype: Any = None, sparse: bool = False
) -> Tensor:
    """Class indices as one-hot vectors (float32 by default; the new axis at ``axis``).

    Example:
        >>> one_hot([0, 2], 3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    out = F.one_hot(_t(x).long(), num_classes).to(_dtype(dtype) or torch.float32)
    return out if axis == -1 else torch.movedim(out, -1, axis)


_EPSILON = 1e-7  # Keras' backend.epsilon(): probabilities are clipped to [eps, 1 - eps]


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> Tensor:
    """Elementwise binary cross-entropy (no reduction), Keras' argument order ``(target, output)``.

    Example:
        >>> round(float(binary_crossentropy([1.0], [0.5])[0]), 4)
        0.6931
    """
    target, output = _t(target).float(), _t(output).float()
    if from_logits:
        return F.binary_cross_entropy_with_logits(output, target, reduction="none")
    output = output.clamp(_EPSILON, 1 - _EPSILON)
    return -(target * torch.log(output) + (1 - target) * torch.log(1 - output))


def categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
) -> Tensor:
    """Cross-entropy of one-hot ``target`` and ``output`` over ``axis`` (one value per sample).

    Probabilities are renormalised over ``axis`` and clipped, as Keras does.

    Example:
        >>> round(float(categorical_crossentropy([[0.0, 1.0]], [[0.5, 0.5]])[0]), 4)
        0.6931
    """
    target, output = _t(target).float(), _t(output).float()
    if from_logits:
        return -(target * torch.log_softmax(output, dim=axis)).sum(dim=axis)
    output = output / output.sum(dim=axis, keepdim=True)
    return -(target * torch.log(output.clamp(_EPSILON, 1 - _EPSILON))).sum(dim=axis)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)  # Python's own probes (__path__, __wrapped__ ...)
    raise AttributeError(
        f"keras.ops.{name} is not provided by deepfuse; use torch.{name} (tensors are torch tensors)"
    )
