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
from typing import Any

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
        if shuffle and generator is None:
            # An own generator (seeded from torch's global one) makes the data order part of
            # this loader's state_dict, so an unseeded run also resumes mid-epoch exactly.
            generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, ())))
        self.generator = generator
        self.drop_last = drop_last
        self.epoch_order: torch.Tensor | None = None  # permutation of the epoch in progress
        # Resume bookkeeping (see state_dict): generator state before this epoch's permutation,
        # batches handed out so far, whether an epoch is in progress, batches to skip next time.
        self._epoch_start: torch.Tensor | None = None
        self._position = 0
        self._in_epoch = False
        self._skip = 0

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_rows // self.batch_size
        return math.ceil(self.num_rows / self.batch_size)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        n, bs = self.num_rows, self.batch_size
        end = (n // bs) * bs if self.drop_last else n
        skip, self._skip = self._skip, 0  # batches already consumed before a resume
        self._position, self._in_epoch = skip, True
        if not self.shuffle:
            # Contiguous slices are views: no copy at all.
            for start in range(skip * bs, end, bs):
                self._position += 1
                yield {k: v[start : start + bs] for k, v in self.tensors.items()}
            self._in_epoch = False
            return
        if self.generator is not None:
            self._epoch_start = self.generator.get_state()
        order = torch.randperm(n, generator=self.generator)
        self.epoch_order = order
        items = list(self.tensors.items())
        for start in range(skip * bs, end, bs):
            idx = order[start : start + bs]
            self._position += 1  # counted before the yield: the consumer holds this batch
            yield {k: v.index_select(0, idx) for k, v in items}
        self._in_epoch = False

    def state_dict(self) -> dict[str, Any]:
        """Where the iteration is: resume it exactly with :meth:`load_state_dict`.

        Holds the generator state (before this epoch's permutation while an epoch is in
        progress) and the number of batches handed out.

        Example:
            >>> g = torch.Generator().manual_seed(0)
            >>> data = {"y": torch.arange(6)}
            >>> loader = InMemoryLoader(data, batch_size=2, generator=g)
            >>> it = iter(loader); first = next(it)["y"].tolist()
            >>> fresh = InMemoryLoader(data, batch_size=2, generator=torch.Generator())
            >>> fresh.load_state_dict(loader.state_dict())
            >>> [b["y"].tolist() for b in fresh] == [b["y"].tolist() for b in it]
            True
        """
        generator = None
        if self.generator is not None:
            in_epoch = self._in_epoch and self._epoch_start is not None
            generator = self._epoch_start if in_epoch else self.generator.get_state()
        return {
            "generator": generator,
            "position": self._position if self._in_epoch else 0,
            "num_rows": self.num_rows,
            "batch_size": self.batch_size,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Make the next iteration continue where :meth:`state_dict` was taken."""
        if (state["num_rows"], state["batch_size"]) != (self.num_rows, self.batch_size):
            raise DataError(
                f"The saved data position is for {state['num_rows']} rows in batches of "
                f"{state['batch_size']}; this loader has {self.num_rows} rows in batches of "
                f"{self.batch_size}. Resume with the same data and batch_size."
            )
        if state.get("generator") is not None and self.generator is not None:
            self.generator.set_state(state["generator"])
        self._skip = int(state["position"])

    def subset(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the rows at ``index`` (1-D int tensor) as a dict of tensors."""
        return {k: v.index_select(0, index) for k, v in self.tensors.items()}
