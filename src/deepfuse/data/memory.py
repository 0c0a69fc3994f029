"""In-memory batches: the fast path for data that fits in RAM.

Whole batches are gathered by index from tensors held in memory (one ``index_select`` per
tensor per batch), never sample by sample through ``__getitem__``: that is what keeps ``fit``
as fast as a hand-written loop.

Example:
    >>> import torch
    >>> loader = InMemoryLoader({"x": torch.arange(10.).view(5, 2), "y": torch.arange(5)},
    ...                         batch_size=2, shuffle=False)
    >>> [b["y"].tolist() for b in loader]
    [[0, 1], [2, 3], [4]]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import torch

from deepfuse._utils.errors import DataError

__all__ = ["InMemoryLoader"]


class InMemoryLoader:
    """Iterate over ``dict[str, Tensor]`` batches of tensors that share their first dimension.

    Args:
        tensors: Feature and target tensors, all with the same number of rows.
        batch_size: Rows per batch; the last batch may be smaller unless ``drop_last``.
        shuffle: Shuffle the row order every epoch (a fresh permutation from ``generator``).
        generator: Random generator for the permutation (seeded by ``fit(seed=...)``).
        drop_last: Drop the last incomplete batch.
    """

    def __init__(
        self,
        tensors: Mapping[str, torch.Tensor],
        *,
        batch_size: int,
        shuffle: bool = True,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> None:
        if not tensors:
            raise DataError(
                "No input tensors were given. Pass features (x) and, to train, targets (y)."
            )
        sizes = {k: int(v.shape[0]) for k, v in tensors.items()}
        if len(set(sizes.values())) != 1:
            raise DataError(f"All inputs must have the same number of rows; got {sizes}.")
        self.num_rows = next(iter(sizes.values()))
        if self.num_rows == 0:
            raise DataError("The dataset is empty (0 rows). Check the input file or filter.")
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise DataError(f"batch_size must be a positive int; got {batch_size!r}.")
        self.tensors = dict(tensors)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.drop_last = drop_last
        self.epoch_order: torch.Tensor | None = None  # permutation of the epoch in progress

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_rows // self.batch_size
        return math.ceil(self.num_rows / self.batch_size)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        n, bs = self.num_rows, self.batch_size
        end = (n // bs) * bs if self.drop_last else n
        if not self.shuffle:
            # Contiguous slices are views: no copy at all.
            for start in range(0, end, bs):
                yield {k: v[start : start + bs] for k, v in self.tensors.items()}
            return
        order = torch.randperm(n, generator=self.generator)
        self.epoch_order = order
        items = list(self.tensors.items())
        for start in range(0, end, bs):
            idx = order[start : start + bs]
            yield {k: v.index_select(0, idx) for k, v in items}

    def subset(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the rows at ``index`` (1-D int tensor) as a dict of tensors."""
        return {k: v.index_select(0, index) for k, v in self.tensors.items()}
