"""``keras.ops`` elementwise functions and reductions (numpy's rules: ``std``/``var`` use
``ddof=0``, integer inputs of ``mean``/``sqrt``/``exp``/``log`` give floats).

Example:
    >>> float(var([1.0, 2.0, 3.0, 4.0])), max([[1, 5], [7, 2]], axis=0).tolist()
    (1.25, [7, 5])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from deepfuse._utils.errors import UserError
from deepfuse.ops._convert import Axis, _dims, _pair, _t


# --------------------------------------------------------------------- elementwise
def add(x1: Any, x2: Any) -> Tensor:
    """``x1 + x2`` (broadcast)."""
    return torch.add(*_pair(x1, x2))


def subtract(x1: Any, x2: Any) -> Tensor:
    """``x1 - x2`` (broadcast)."""
    return torch.subtract(*_pair(x1, x2))


def multiply(x1: Any, x2: Any) -> Tensor:
    """``x1 * x2`` (broadcast)."""
    return torch.multiply(*_pair(x1, x2))


def divide(x1: Any, x2: Any) -> Tensor:
    """True division ``x1 / x2`` (integers give floats, as numpy)."""
    return torch.true_divide(*_pair(x1, x2))


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
    x1, x2 = _pair(x1, x2)
    return torch.maximum(x1, x2)


def minimum(x1: Any, x2: Any) -> Tensor:
    """Elementwise minimum (broadcast)."""
    x1, x2 = _pair(x1, x2)
    return torch.minimum(x1, x2)


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
    t1, t2 = _pair(x1, x2)
    if not isinstance(condition, Tensor):
        cond = cond.to(t1.device)  # an array condition joins the values' device
    return torch.where(cond, t1, t2)


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
