"""Turn what users pass to ``fit``/``evaluate``/``predict`` into ``dict[str, Tensor]`` batches.

Accepted: numpy arrays, torch tensors, pandas DataFrames/Series, dicts of arrays (multi-input
models), lists of numbers, and iterables of batches (dicts, or ``(x, y)`` tuples as a torch
``DataLoader`` yields them). In-memory inputs use the keys ``"x"`` and ``"y"``.

Example:
    >>> import numpy as np
    >>> t = as_tensor(np.zeros((2, 3)))
    >>> t.dtype
    torch.float32
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import torch

from deepfuse._utils.errors import DataError

__all__ = ["ForeignBatches", "as_tensor", "is_array_like", "to_tensor_dict"]

X_KEY, Y_KEY = "x", "y"


def is_array_like(obj: Any) -> bool:
    """True for numpy arrays, tensors, pandas objects and (nested) lists of numbers."""
    if isinstance(obj, np.ndarray | torch.Tensor):
        return True
    if type(obj).__module__.startswith("pandas"):
        return True
    return isinstance(obj, list | tuple) and len(obj) > 0 and not isinstance(obj[0], Mapping)


def as_tensor(value: Any, *, name: str = "x") -> torch.Tensor:
    """Convert one array-like to a tensor: floats become float32, integers int64, bools float32."""
    if type(value).__module__.startswith("pandas"):
        value = value.to_numpy()
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        array = np.asarray(value)
        if array.dtype == object:
            raise DataError(
                f"Input '{name}' holds non-numeric values (dtype object). Numeric arrays are "
                "expected; for tables with text or categories use deepfuse.data.Preprocessor "
                "or `deepfuse train` with a CSV."
            )
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.is_floating_point():
        return tensor.float() if tensor.dtype != torch.float32 else tensor
    if tensor.dtype == torch.bool:
        return tensor.float()
    if tensor.dtype == torch.uint8:
        return tensor.float()  # images as 0..255 floats, like Keras (scale them yourself)
    if tensor.dtype in (torch.int8, torch.int16, torch.int32, torch.int64):
        return tensor.long()
    raise DataError(f"Input '{name}' has unsupported dtype {tensor.dtype}.")


def to_tensor_dict(x: Any, y: Any = None) -> dict[str, torch.Tensor]:
    """Build the in-memory batch dict: ``{"x": ..., "y": ...}`` or the keys of a dict input."""
    if isinstance(x, Mapping):
        tensors = {str(k): as_tensor(v, name=str(k)) for k, v in x.items()}
    else:
        tensors = {X_KEY: as_tensor(x, name="x")}
    if y is not None:
        target = as_tensor(y, name="y")
        tensors[Y_KEY] = target
    rows = {k: v.shape[0] if v.dim() else 0 for k, v in tensors.items()}
    if len(set(rows.values())) != 1:
        raise DataError(f"Inputs and targets must have the same number of rows; got {rows}.")
    if next(iter(rows.values())) == 0:
        raise DataError("The dataset is empty (0 rows). Pass at least one sample.")
    return tensors


class ForeignBatches:
    """Adapt a foreign iterable of batches so that every batch is a ``dict[str, Tensor]``.

    Only for data that is not deepfuse's own: a torch ``DataLoader``, a list of tuples. Tuples
    ``(x, y)`` (what a ``DataLoader`` over a ``TensorDataset`` yields) become
    ``{"x": x, "y": y}``; a bare tensor becomes ``{"x": x}``. Resumable datasets
    (``state_dict``/``load_state_dict``) never go through it: ``fit`` hands them to the trainer
    as they are, so their position is saved in checkpoints.

    Example:
        >>> batches = ForeignBatches([(np.zeros((2, 3)), np.array([0, 1]))])
        >>> sorted(next(iter(batches)))
        ['x', 'y']
    """

    def __init__(self, source: Iterable[Any]) -> None:
        self.source = source

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for batch in self.source:
            if isinstance(batch, Mapping):
                yield {
                    str(k): v if isinstance(v, torch.Tensor) else as_tensor(v, name=str(k))
                    for k, v in batch.items()
                }
            elif isinstance(batch, list | tuple):
                if len(batch) == 1:
                    yield {X_KEY: as_tensor(batch[0])}
                elif len(batch) == 2:
                    x, y = batch
                    out = dict(x) if isinstance(x, Mapping) else {X_KEY: as_tensor(x)}
                    out[Y_KEY] = as_tensor(y, name="y")
                    yield out
                else:
                    raise DataError(
                        f"A batch tuple must be (x,) or (x, y); got a tuple of {len(batch)} items."
                    )
            else:
                yield {X_KEY: as_tensor(batch)}
