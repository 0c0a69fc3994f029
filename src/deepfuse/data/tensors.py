"""THE array -> tensor rule: one conversion for ``fit``/``evaluate``/``predict``, the CLI and
``deepfuse.data.to_tensor_dict``, so the same arrays always become the same tensors.

Inputs: numpy arrays, torch tensors, (nested) lists of numbers, pandas DataFrames/Series and
pyarrow Tables/Arrays of numeric columns, or a dict of those (multi-input; keys are kept).

The rule, decided from the array alone:

======================  ======================================  ==============================
array                   feature (``x``)                          target (``y``)
======================  ======================================  ==============================
float (any width)       float32                                  float32
bool                    float32 (0/1)                            float32 (binary targets)
uint8                   float32 scaled to [0, 1] (pixels, as     int64 (class labels)
                        torchvision's ``ToTensor``)
other integers          int64 (token ids, category codes)        int64 (class indices)
strings / objects       DataError (encode them first)            DataError
======================  ======================================  ==============================

Tables (pyarrow, pandas) and streamed columns (``LazyDataset.batch(target=...)``) are stacked into
one ``(N, F)`` float32 matrix, each column by the feature rule (:func:`feature_matrix`): a uint8
column is scaled as the same uint8 array would be.

Images: a 4-D feature array ``(N, H, W, C)`` is **channels-last** when ``C`` is 1, 3 or 4 and
both ``H`` and ``W`` are larger than 4 (so ``H`` cannot be a channel count); it becomes
``(N, C, H, W)`` here, once, at the data boundary (one copy), which is what ``torch.nn.Conv2d``
takes. Anything else keeps its shape: ``(N, C, H, W)`` stays, and ``(N, H, W)`` stays too (a
model whose first layer is a Conv2D adds the channel itself, see ``deepfuse.models.layout``,
which leaves arrays that are already NCHW alone, so nothing is transposed twice).
:func:`images_to_tensor` is the same rule for image arrays, with the channel added.

Example:
    >>> import numpy as np
    >>> b = to_tensor_dict(np.full((2, 28, 28, 3), 255, np.uint8), np.array([True, False]))
    >>> tuple(b["x"].shape), b["x"].dtype, float(b["x"].max()), b["y"].dtype
    ((2, 3, 28, 28), torch.float32, 1.0, torch.float32)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from deepfuse._utils.errors import DataError
from deepfuse.data.columns import as_array, is_numeric_type

__all__ = [
    "cast",
    "check_rows",
    "feature_matrix",
    "images_to_tensor",
    "is_channels_last",
    "to_batch_tensor",
    "to_tensor",
    "to_tensor_dict",
]

X_KEY, Y_KEY = "x", "y"
_CHANNEL_SIZES = (1, 3, 4)  # grayscale, RGB, RGBA
_UINT8 = np.dtype(np.uint8)  # one object: `is` is a cheap per-column test


def is_channels_last(shape: tuple[int, ...] | torch.Size) -> bool:
    """True for an ``(N, H, W, C)`` image batch with C in {1, 3, 4} and H, W > 4.

    Example:
        >>> is_channels_last((8, 28, 28, 1)), is_channels_last((8, 1, 28, 28))
        (True, False)
    """
    return len(shape) == 4 and shape[3] in _CHANNEL_SIZES and shape[1] > 4 and shape[2] > 4


def _table_to_tensor(table: pa.Table, what: str, *, label: bool) -> torch.Tensor:
    """A numeric table as one ``(N, columns)`` tensor; refuses text and missing values.

    Features: each column by the rule (:func:`feature_matrix`), so a uint8 pixel column is
    scaled as the same array would be. A target table keeps its values (float).
    """
    bad = [
        f.name for f in table.schema if not (is_numeric_type(f.type) or pa.types.is_boolean(f.type))
    ]
    if bad:
        raise DataError(
            f"{what} has non-numeric columns ({', '.join(bad)}); expected numbers only. Use "
            "deepfuse.data.Preprocessor to encode categorical/text columns."
        )
    cols: list[np.ndarray] = []
    for i in range(table.num_columns):
        col = as_array(table.column(i))
        if not label and pa.types.is_uint8(col.type) and col.null_count == 0:
            cols.append(col.to_numpy(zero_copy_only=False))  # pixels: scaled by the rule
        else:  # float64 holds every integer column exactly (decimals too), nulls as NaN
            cols.append(pa.compute.cast(col, pa.float64()).to_numpy(zero_copy_only=False))
    missing = [np.isnan(c) for c in cols if c.dtype.kind == "f"]  # (N,) per float column
    if missing and np.logical_or.reduce(missing).any():
        row = int(np.argmax(np.logical_or.reduce(missing))) + 1
        raise DataError(
            f"{what} has missing values (first in row {row}); fill them or use "
            "deepfuse.data.Preprocessor."
        )
    if label:
        stacked = np.stack(cols, axis=1) if cols else np.zeros((table.num_rows, 0))
        return torch.from_numpy(stacked)
    return feature_matrix(cols, names=table.column_names, rows=table.num_rows)


def _as_raw_tensor(value: Any, name: str, *, label: bool = False) -> torch.Tensor:
    """``value`` as a tensor of its own dtype (no copy for numpy arrays and tensors).

    A table is stacked into one matrix (see :func:`_table_to_tensor`).
    """
    if type(value).__module__.startswith("pandas"):
        value = pa.table(value) if hasattr(value, "columns") else pa.array(value.to_numpy())
    if isinstance(value, pa.Table):
        return _table_to_tensor(value, f"Input '{name}'", label=label)
    if isinstance(value, pa.Array | pa.ChunkedArray):
        value = as_array(value).to_numpy(zero_copy_only=False)
    if isinstance(value, torch.Tensor):
        return value
    arr = _numeric_array(value, name)
    arr = np.ascontiguousarray(arr)
    # arrow-backed arrays are read-only; torch warns on those (and writes would be undefined)
    return torch.from_numpy(arr if arr.flags.writeable else arr.copy())


def _numeric_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a numpy array; strings and objects are refused with what to do instead."""
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype.kind in "OUSV":
        raise DataError(
            f"Input '{name}' holds {arr.dtype} values (strings/objects); expected numbers. Encode "
            "them with deepfuse.data.Preprocessor (or `deepfuse train` with a CSV), or map labels "
            "to integers first."
        )
    return arr


def _unit_pixels(t: torch.Tensor) -> torch.Tensor:
    """float32 pixel values 0..255 -> [0, 1], in place (as torchvision's ``ToTensor``)."""
    return t.div_(255.0)


def cast(t: torch.Tensor, *, label: bool = False, name: str = "x") -> torch.Tensor:
    """The dtype half of the rule, for a tensor (no copy when the dtype is already right).

    Example:
        >>> cast(torch.tensor([0, 255], dtype=torch.uint8)).tolist()
        [0.0, 1.0]
    """
    if t.is_floating_point():
        return t.float()  # no copy when already float32
    if t.dtype == torch.bool:
        return t.float()
    if t.dtype == torch.uint8:
        return t.long() if label else _unit_pixels(t.float())
    if t.dtype.is_complex:
        raise DataError(f"Input '{name}' has complex dtype {t.dtype}; expected real numbers.")
    return t.long()


def to_tensor(value: Any, *, label: bool = False, name: str = "x") -> torch.Tensor:
    """Convert one array-like with the rule of this module (``label=True``: the target column).

    Example:
        >>> to_tensor(np.array([0, 255], np.uint8)).tolist(), to_tensor([1, 2], label=True).dtype
        ([0.0, 1.0], torch.int64)
    """
    t = cast(_as_raw_tensor(value, name, label=label), label=label, name=name)
    if not label and is_channels_last(t.shape):
        t = t.permute(0, 3, 1, 2).contiguous()  # (N, H, W, C) -> (N, C, H, W)
    return t


def to_batch_tensor(value: Any, *, label: bool = False, name: str = X_KEY) -> torch.Tensor:
    """One value of a batch built elsewhere (a torch ``DataLoader``, ``(x, y)`` tuples).

    Tensors such a loader built keep their layout (a per-batch transpose would copy every
    batch) and only take the dtype half of the rule (:func:`cast`); arrays take the whole rule
    (:func:`to_tensor`).

    Example:
        >>> to_batch_tensor(torch.zeros(2, 8, 8, 3, dtype=torch.uint8)).shape
        torch.Size([2, 8, 8, 3])
        >>> to_batch_tensor(np.zeros((2, 8, 8, 3), np.uint8)).shape
        torch.Size([2, 3, 8, 8])
    """
    if isinstance(value, torch.Tensor):
        return cast(value, label=label, name=name)
    return to_tensor(value, label=label, name=name)


def feature_matrix(
    columns: Sequence[Any], *, names: Sequence[str] | None = None, rows: int | None = None
) -> torch.Tensor:
    """One-value-per-row feature columns stacked into one ``(N, F)`` float32 matrix.

    Each column follows the feature rule of this module, as the same array alone would: uint8
    -> [0, 1], bool -> 0/1, floats and other integers keep their values. Unlike an ``(N, F)``
    integer array (int64 token ids), the stacked matrix is always float32: a table of columns
    is numbers for a dense layer. Used for numeric tables (``fit``/:func:`to_tensor_dict`) and
    streamed batches (``LazyDataset.batch(target=...)``), so both give the same tensors.

    Args:
        columns: ``F`` numpy arrays or tensors of ``N`` numbers each (tensors: on one device).
        names: The column names, for error messages.
        rows: ``N`` when there may be no column.

    Returns:
        The ``(N, F)`` float32 matrix (on the tensors' device; CPU for numpy columns).

    Raises:
        DataError: A column that is not one number per row, or lengths that differ.

    Example:
        >>> feature_matrix([np.array([0, 255], np.uint8), np.array([True, False])]).tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """
    names = list(names) if names is not None else [f"column {i}" for i in range(len(columns))]
    n = rows if not columns else len(columns[0])
    n = n or 0
    cols = [_feature_column(col, name, n) for name, col in zip(names, columns)]
    if any(isinstance(c, torch.Tensor) for c in cols):  # a loader's tensors (any device)
        device = next(c.device for c in cols if isinstance(c, torch.Tensor))
        ts = [c if isinstance(c, torch.Tensor) else torch.from_numpy(c.copy()) for c in cols]
        parts = [cast(t.to(device), name=name).float() for t, name in zip(ts, names)]
        return torch.stack(parts, dim=1) if parts else torch.empty((n, 0), device=device)
    block = np.empty((len(cols), n), dtype=np.float32)  # (F, N): one contiguous row per column
    for i, col in enumerate(cols):
        block[i] = col  # bool -> 0/1, numbers -> float32 (uint8: 0..255, exact)
        if col.dtype is _UINT8:
            _unit_pixels(torch.from_numpy(block[i]))  # the rule: pixels -> [0, 1], in place
    return torch.from_numpy(block).T.contiguous()  # (N, F), a cache-friendly transpose


def _feature_column(col: Any, name: str, n: int) -> np.ndarray | torch.Tensor:
    """``col`` as a numpy array (or a tensor kept), checked to hold one number per row."""
    if not isinstance(col, torch.Tensor):
        col = _numeric_array(col, name)
    if tuple(col.shape) != (n,):
        raise DataError(
            f"Feature column {name!r} has shape {tuple(col.shape)}; expected one number per row "
            f"({n} rows). Stack only scalar columns, or convert multi-value columns yourself "
            "(LazyDataset.batch(collate=...))."
        )
    return col


def images_to_tensor(images: Any) -> torch.Tensor:
    """Image arrays ``(N, H, W)`` or ``(N, H, W, C)`` → NCHW tensors with :func:`to_tensor`'s rule.

    uint8 pixels become float32 in [0, 1]; a missing channel dimension is added.

    Example:
        >>> images_to_tensor(np.zeros((2, 28, 28), np.uint8)).shape
        torch.Size([2, 1, 28, 28])
    """
    x = to_tensor(images)
    return x.unsqueeze(1) if x.dim() == 3 else x  # (N, H, W) -> (N, 1, H, W)


def to_tensor_dict(x: Any, y: Any = None) -> dict[str, torch.Tensor]:
    """Build a batch dict from in-memory features ``x`` and optional targets ``y``.

    Args:
        x: An array-like (numpy, torch, list, pandas, pyarrow Table of numeric columns) or a
            dict of them (multi-input; keys are kept).
        y: Optional targets of the same length (stored under ``"y"``).

    Returns:
        ``{"x": ..., "y": ...}`` (or the dict's keys plus ``"y"``), converted by the rule of this
        module.

    Raises:
        DataError: Non-numeric data, missing values in a table, no rows, or lengths that differ.

    Example:
        >>> b = to_tensor_dict({"numeric": np.ones((3, 2)), "categorical": np.array([[1], [2], [0]])}, [0.5, 1.0, 2.0])
        >>> {k: (tuple(v.shape), str(v.dtype)) for k, v in b.items()}
        {'numeric': ((3, 2), 'torch.float32'), 'categorical': ((3, 1), 'torch.int64'), 'y': ((3,), 'torch.float32')}
    """
    if isinstance(x, Mapping):
        out = {str(k): to_tensor(v, name=str(k)) for k, v in x.items()}
    else:
        out = {X_KEY: to_tensor(x)}
    if y is not None:
        if Y_KEY in out:
            raise DataError(
                "Both x (a dict with key 'y') and y were given; rename the input key 'y'."
            )
        out[Y_KEY] = to_tensor(y, label=True, name=Y_KEY)
    check_rows(out)
    return out


def check_rows(batch: Mapping[str, torch.Tensor]) -> None:
    """Every array of a dataset has the same number of rows, and at least one.

    Example:
        >>> check_rows({"x": torch.zeros(3, 2), "y": torch.zeros(2)})
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: Inputs have different numbers of rows: {'x': 3, 'y': 2}. Every input and the target must have the same number of rows.
    """
    rows = {k: int(v.shape[0]) for k, v in batch.items() if v.dim() > 0}
    if len(set(rows.values())) > 1:
        raise DataError(
            f"Inputs have different numbers of rows: {rows}. Every input and the target must "
            "have the same number of rows."
        )
    if rows and next(iter(rows.values())) == 0:
        raise DataError("The dataset is empty (0 rows). Pass at least one sample.")
