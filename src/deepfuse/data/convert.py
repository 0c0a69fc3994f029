"""Turn in-memory inputs (numpy, torch, pandas, pyarrow, dicts) into a batch dict of tensors.

Conventions (``docs/internals.md``): arrays go under ``"x"`` and labels under ``"y"``; dict inputs
keep their keys. Floats become ``float32`` and integer/bool labels ``int64``; integer features stay
``int64`` (token ids) and ``uint8`` images become ``float32`` with their 0..255 values unchanged
(scale them yourself, like in Keras). Images given channels-last ``(N, H, W, C)`` with C in
{1, 3, 4} and H, W > 4 are converted to ``(N, C, H, W)`` here, once. ``(N, H, W)`` stays as it is:
the model adds the channel dimension if its first layer needs one.

Example:
    >>> import numpy as np
    >>> from deepfuse.data import to_tensor_dict
    >>> b = to_tensor_dict(np.zeros((2, 28, 28, 3), np.uint8), np.array([1, 0]))
    >>> tuple(b["x"].shape), b["x"].dtype, b["y"].dtype
    ((2, 3, 28, 28), torch.float32, torch.int64)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import torch

from deepfuse._utils.errors import DataError
from deepfuse.data.columns import as_array, is_numeric_type

__all__ = ["to_tensor", "to_tensor_dict"]


def _is_channels_last(shape: tuple[int, ...]) -> bool:
    return len(shape) == 4 and shape[3] in (1, 3, 4) and shape[1] > 4 and shape[2] > 4


def _table_to_numpy(table: pa.Table, what: str) -> np.ndarray:
    bad = [
        f.name for f in table.schema if not (is_numeric_type(f.type) or pa.types.is_boolean(f.type))
    ]
    if bad:
        raise DataError(
            f"{what} has non-numeric columns ({', '.join(bad)}); expected numbers only. Use "
            "deepfuse.data.Preprocessor to encode categorical/text columns."
        )
    cols = [
        pa.compute.cast(as_array(table.column(i)), pa.float64()).to_numpy(zero_copy_only=False)
        for i in range(table.num_columns)
    ]
    arr = np.stack(cols, axis=1) if cols else np.zeros((table.num_rows, 0))
    if np.isnan(arr).any():
        row = int(np.argmax(np.isnan(arr).any(axis=1))) + 1
        raise DataError(
            f"{what} has missing values (first in row {row}); fill them or use deepfuse.data.Preprocessor."
        )
    return arr


def to_tensor(value: Any, *, label: bool = False, name: str = "x") -> torch.Tensor:
    """Convert one array-like to a tensor with the dtype rules of this module.

    Example:
        >>> to_tensor([0.5, 1.5]).dtype, to_tensor([1, 2], label=True).dtype
        (torch.float32, torch.int64)
    """
    if type(value).__module__.startswith("pandas"):
        value = pa.table(value) if hasattr(value, "columns") else pa.array(value.to_numpy())
    if isinstance(value, pa.Table):
        value = _table_to_numpy(value, f"Input '{name}'")
    elif isinstance(value, pa.Array | pa.ChunkedArray):
        value = as_array(value).to_numpy(zero_copy_only=False)
    if isinstance(value, torch.Tensor):
        t = value
    else:
        arr = np.asarray(value)
        if arr.dtype.kind in "OUS":
            raise DataError(
                f"Input '{name}' holds {arr.dtype} values (strings/objects); expected numbers. Encode "
                "labels with deepfuse.data.Preprocessor, or map them to integers first."
            )
        arr = np.ascontiguousarray(arr)
        t = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    if t.dtype.is_floating_point:
        t = t.to(torch.float32)
    elif t.dtype == torch.bool:
        t = t.to(torch.int64 if label else torch.float32)
    elif t.dtype == torch.uint8 and not label:
        t = t.to(torch.float32)
    elif not t.dtype.is_complex:
        t = t.to(torch.int64)
    if not label and _is_channels_last(tuple(t.shape)):
        t = t.permute(0, 3, 1, 2).contiguous()  # (N, H, W, C) -> (N, C, H, W)
    return t


def to_tensor_dict(x: Any, y: Any = None) -> dict[str, torch.Tensor]:
    """Build a batch dict from in-memory features ``x`` and optional labels ``y``.

    Args:
        x: numpy array, torch tensor, list, pandas DataFrame or pyarrow Table of numeric columns,
            or a dict of such arrays (multi-input; keys are kept).
        y: Optional labels of the same length (stored under ``"y"``).

    Returns:
        ``{"x": ..., "y": ...}`` (or the dict's keys plus ``"y"``).

    Raises:
        DataError: Non-numeric data, missing values in a DataFrame, or lengths that differ.

    Example:
        >>> import numpy as np
        >>> b = to_tensor_dict({"numeric": np.ones((3, 2)), "categorical": np.array([[1], [2], [0]])}, [0.5, 1.0, 2.0])
        >>> {k: (tuple(v.shape), str(v.dtype)) for k, v in b.items()}
        {'numeric': ((3, 2), 'torch.float32'), 'categorical': ((3, 1), 'torch.int64'), 'y': ((3,), 'torch.float32')}
    """
    if isinstance(x, dict):
        out = {str(k): to_tensor(v, name=str(k)) for k, v in x.items()}
    else:
        out = {"x": to_tensor(x)}
    if y is not None:
        if "y" in out:
            raise DataError(
                "Both x (a dict with key 'y') and y were given; rename the input key 'y'."
            )
        out["y"] = to_tensor(y, label=True, name="y")
    lengths = {k: len(v) for k, v in out.items() if v.ndim > 0}
    if len(set(lengths.values())) > 1:
        raise DataError(
            f"Inputs have different numbers of rows: {lengths}. Expected the same length for all."
        )
    return out
