"""``keras.ops`` comparisons, logic, rounding, products and tiling (numpy's rules).

Example:
    >>> greater([1, 5], 3).tolist(), prod([[1, 2], [3, 4]], axis=0).tolist()
    ([False, True], [3, 8])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from deepfuse.ops._convert import Axis, _dims, _pair, _t


def power(x1: Any, x2: Any) -> Tensor:
    """``x1 ** x2`` (broadcast)."""
    return torch.pow(*_pair(x1, x2))


def floor(x: Any) -> Tensor:
    """Largest integer value not above ``x``."""
    return torch.floor(_t(x))


def ceil(x: Any) -> Tensor:
    """Smallest integer value not below ``x``."""
    return torch.ceil(_t(x))


def round(x: Any, decimals: int = 0) -> Tensor:
    """Round half to even, as numpy (``round(0.5) == 0``)."""
    return torch.round(_t(x), decimals=decimals)


def equal(x1: Any, x2: Any) -> Tensor:
    """``x1 == x2`` elementwise."""
    return torch.eq(*_pair(x1, x2))


def not_equal(x1: Any, x2: Any) -> Tensor:
    """``x1 != x2`` elementwise."""
    return torch.ne(*_pair(x1, x2))


def greater(x1: Any, x2: Any) -> Tensor:
    """``x1 > x2`` elementwise."""
    return torch.gt(*_pair(x1, x2))


def greater_equal(x1: Any, x2: Any) -> Tensor:
    """``x1 >= x2`` elementwise."""
    return torch.ge(*_pair(x1, x2))


def less(x1: Any, x2: Any) -> Tensor:
    """``x1 < x2`` elementwise."""
    return torch.lt(*_pair(x1, x2))


def less_equal(x1: Any, x2: Any) -> Tensor:
    """``x1 <= x2`` elementwise."""
    return torch.le(*_pair(x1, x2))


def logical_and(x1: Any, x2: Any) -> Tensor:
    """Elementwise AND of the truth values."""
    return torch.logical_and(*_pair(x1, x2))


def logical_or(x1: Any, x2: Any) -> Tensor:
    """Elementwise OR of the truth values."""
    return torch.logical_or(*_pair(x1, x2))


def logical_not(x: Any) -> Tensor:
    """Elementwise NOT of the truth values."""
    return torch.logical_not(_t(x))


def prod(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Product over ``axis`` (all axes when ``None``)."""
    x = _t(x)
    dims = _dims(axis)
    if dims is None:
        out = x.prod()
        return out.reshape([1] * x.dim()) if keepdims else out
    for d in sorted((d % x.dim() for d in dims), reverse=True):  # torch.prod takes one dim
        x = x.prod(dim=d, keepdim=keepdims)
    return x


def all(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Whether every value is true (over ``axis``)."""
    x = _t(x).bool()
    dims = _dims(axis)
    return (
        x.all()
        if dims is None and not keepdims
        else torch.all(x, dim=dims or tuple(range(x.dim())), keepdim=keepdims)
    )


def any(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Whether any value is true (over ``axis``)."""
    x = _t(x).bool()
    dims = _dims(axis)
    return (
        x.any()
        if dims is None and not keepdims
        else torch.any(x, dim=dims or tuple(range(x.dim())), keepdim=keepdims)
    )


def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> Tensor:
    """Cumulative sum along ``axis`` (of the flattened tensor when ``None``)."""
    x = _t(x)
    return torch.cumsum(x.reshape(-1) if axis is None else x, dim=0 if axis is None else axis)


def tile(x: Any, repeats: Sequence[int] | int) -> Tensor:
    """``x`` repeated ``repeats`` times along each axis (numpy's ``tile``)."""
    return torch.tile(_t(x), (repeats,) if isinstance(repeats, int) else tuple(repeats))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """Each element repeated ``repeats`` times along ``axis`` (flattened when ``None``)."""
    return torch.repeat_interleave(
        _t(x), _t(repeats) if not isinstance(repeats, int) else repeats, dim=axis
    )


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """``x`` broadcast to ``shape`` (a view, no copy)."""
    return torch.broadcast_to(_t(x), tuple(shape))


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation, e.g. ``einsum("ij,jk->ik", a, b)``."""
    return torch.einsum(subscripts, *(_t(o) for o in operands))
