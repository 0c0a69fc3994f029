"""What users pass to ``fit``/``evaluate``/``predict``, recognised; foreign batches adapted.

Accepted: numpy arrays, torch tensors, pandas DataFrames/Series, pyarrow Tables, dicts of arrays
(multi-input models), lists of numbers, and iterables of batches. In-memory inputs use the keys
``"x"`` and ``"y"`` and are converted by THE array -> tensor rule (:mod:`deepfuse.data.tensors`).

Batches of a foreign iterable (a torch ``DataLoader``, a list of tuples) are adapted by
:class:`ForeignBatches`; one that can resume (``state_dict``/``load_state_dict``, e.g. torchdata's
``StatefulDataLoader``) by :class:`ResumableForeignBatches`, which passes its state through.

Example:
    >>> import numpy as np
    >>> is_array_like(np.zeros((2, 3))), is_array_like([{"x": 1}])
    (True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import torch

from deepfuse._utils.errors import DataError
from deepfuse.data.tensors import X_KEY, Y_KEY, to_batch_tensor, to_tensor

__all__ = ["ForeignBatches", "ResumableForeignBatches", "is_array_like"]


def is_array_like(obj: Any) -> bool:
    """True for numpy arrays, tensors, pandas objects and (nested) lists of numbers."""
    if isinstance(obj, np.ndarray | torch.Tensor):
        return True
    if type(obj).__module__.startswith("pandas"):
        return True
    return isinstance(obj, list | tuple) and len(obj) > 0 and not isinstance(obj[0], Mapping)


class ForeignBatches:
    """Adapt a foreign iterable of batches so that every batch is a ``dict[str, Tensor]``.

    Only for data that is not deepfuse's own: a torch ``DataLoader``, a list of tuples. Tuples
    ``(x, y)`` (what a ``DataLoader`` over a ``TensorDataset`` yields) become
    ``{"x": x, "y": y}``; a bare array becomes ``{"x": x}``. Values follow
    :mod:`deepfuse.data.tensors` (tensors keep their layout, only their dtype is set); tensors
    already inside a dict batch are passed as they are. deepfuse's own datasets never go through
    it: ``fit`` hands them to the trainer as they are, so their position is saved in checkpoints.

    Example:
        >>> batches = ForeignBatches([(np.zeros((2, 3)), np.array([0, 1]))])
        >>> {k: v.dtype for k, v in next(iter(batches)).items()}
        {'x': torch.float32, 'y': torch.int64}
    """

    def __init__(self, source: Iterable[Any]) -> None:
        self.source = source

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for batch in self.source:
            if isinstance(batch, Mapping):
                yield {
                    str(k): v if isinstance(v, torch.Tensor) else to_tensor(v, name=str(k))
                    for k, v in batch.items()
                }
            elif isinstance(batch, list | tuple):
                if len(batch) == 1:
                    yield {X_KEY: to_batch_tensor(batch[0])}
                elif len(batch) == 2:
                    x, y = batch
                    out = dict(x) if isinstance(x, Mapping) else {X_KEY: to_batch_tensor(x)}
                    out[Y_KEY] = to_batch_tensor(y, label=True, name=Y_KEY)
                    yield out
                else:
                    raise DataError(
                        f"A batch tuple must be (x,) or (x, y); got a tuple of {len(batch)} items."
                    )
            else:
                yield {X_KEY: to_batch_tensor(batch)}


class ResumableForeignBatches(ForeignBatches):
    """:class:`ForeignBatches` of a source that can resume: its state passes straight through.

    Example:
        >>> class Stateful(list):
        ...     def state_dict(self): return {"pos": 1}
        ...     def load_state_dict(self, state): pass
        >>> ResumableForeignBatches(Stateful([(np.zeros(1),)])).state_dict()
        {'pos': 1}
    """

    def state_dict(self) -> dict[str, Any]:
        return self.source.state_dict()  # type: ignore[attr-defined]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.source.load_state_dict(state)  # type: ignore[attr-defined]
