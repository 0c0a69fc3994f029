"""``keras.ops`` conversion and creation: dtype strings, ``convert_to_tensor``, ``ones`` ...

Example:
    >>> cast(ones((2,)), "int64").tolist()
    [1, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from deepfuse._utils.errors import UserError, invalid_choice

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


def _pair(x1: Any, x2: Any) -> tuple[Tensor, Tensor]:
    """Both operands as tensors; an array or number joins the other operand's device."""
    t1, t2 = _t(x1), _t(x2)
    if t1.device != t2.device:
        if not isinstance(x2, Tensor):
            t2 = t2.to(t1.device)
        elif not isinstance(x1, Tensor):
            t1 = t1.to(t2.device)
    return t1, t2


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
