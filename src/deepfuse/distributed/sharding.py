"""Each worker's part of the data, with the same number of batches on every rank.

``batch_size`` stays the **global** batch size: rank ``r`` of ``W`` takes the ``r``-th of ``W``
near-equal slices of every global batch of the epoch's permutation (the permutation is the same on
every rank: same generator seed). Averaging the ``W`` gradients therefore gives exactly the
gradient of the single-process batch, and a config gives the same model on 1 or N workers.

Example:
    >>> import torch
    >>> from deepfuse.data.memory import InMemoryLoader
    >>> loader = InMemoryLoader({"y": torch.arange(8)}, batch_size=4, shuffle=False)
    >>> [b["y"].tolist() for b in ShardedLoader(loader, rank=1, world_size=2)]
    [[2, 3], [6, 7]]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import torch

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.data.memory import InMemoryLoader

__all__ = ["PreSharded", "Shardable", "ShardedLoader", "shard"]


class ShardedLoader:
    """Rank ``rank``'s slice of every global batch of an :class:`InMemoryLoader`.

    Args:
        loader: The single-process loader (its ``batch_size`` is the global batch size).
        rank: This worker's index.
        world_size: Number of workers.
        train: True: a final global batch with fewer rows than workers is dropped, so every rank
            runs the same number of steps (DDP needs it). False (evaluation): every row is kept
            exactly once; ranks may get one batch less.
        device: Where batches go (``None``: stay where the tensors are).
    """

    def __init__(
        self,
        loader: InMemoryLoader,
        *,
        rank: int,
        world_size: int,
        train: bool = True,
        device: torch.device | None = None,
    ) -> None:
        if train and loader.batch_size < world_size:
            raise ConfigError(
                f"batch_size {loader.batch_size} is smaller than the {world_size} workers. "
                "batch_size is the global batch (split over the workers): set "
                f"trainer.batch_size >= {world_size}."
            )
        self.loader, self.rank, self.world_size = loader, rank, world_size
        self.train = train
        self.device = device if device is not None and device.type != "cpu" else None
        # Resume bookkeeping, as InMemoryLoader: generator state before this epoch's
        # permutation, batches handed out, batches to skip on the next iteration.
        self._epoch_start: torch.Tensor | None = None
        self._position, self._in_epoch, self._skip = 0, False, 0

    def _bounds(self) -> list[tuple[int, int]]:
        """``(start, stop)`` of each global batch of the epoch."""
        n, bs = self.loader.num_rows, self.loader.batch_size
        end = (n // bs) * bs if self.loader.drop_last else n
        out = [(s, min(s + bs, end)) for s in range(0, end, bs)]
        if self.train and out and out[-1][1] - out[-1][0] < self.world_size:
            out.pop()  # too few rows to give every rank one: drop, like drop_last
        return out

    def __len__(self) -> int:
        return len(self._bounds())

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        loader, r, w = self.loader, self.rank, self.world_size
        if loader.shuffle and loader.generator is not None:
            self._epoch_start = loader.generator.get_state()
        # Same generator state on every rank -> the same permutation everywhere.
        order = (
            torch.randperm(loader.num_rows, generator=loader.generator) if loader.shuffle else None
        )
        items = list(loader.tensors.items())
        skip, self._skip = self._skip, 0
        self._position, self._in_epoch = skip, True
        for start, stop in self._bounds()[skip:]:
            self._position += 1
            size = stop - start
            lo, hi = start + size * r // w, start + size * (r + 1) // w  # near-equal slices
            if hi == lo:
                continue  # evaluation only: this rank has no row of this small last batch
            if order is None:
                batch = {k: v[lo:hi] for k, v in items}  # views, no copy
            else:
                idx = order[lo:hi]
                batch = {k: v.index_select(0, idx) for k, v in items}
            if self.device is not None:
                batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
            yield batch
        self._in_epoch = False

    def state_dict(self) -> dict[str, Any]:
        """Where the iteration is (same layout as ``InMemoryLoader.state_dict``)."""
        generator = self.loader.generator
        state = None
        if generator is not None:
            in_epoch = self._in_epoch and self._epoch_start is not None
            state = self._epoch_start if in_epoch else generator.get_state()
        return {
            "generator": state,
            "position": self._position if self._in_epoch else 0,
            "num_rows": self.loader.num_rows,
            "batch_size": self.loader.batch_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue where :meth:`state_dict` was taken (checks rows and batch size)."""
        self.loader.load_state_dict({**state, "position": 0})
        self._skip = int(state["position"])


@runtime_checkable
class PreSharded(Protocol):
    """Data already split per worker by its launcher (``RayDataShard``): not split again."""

    sharded: bool  # True: Ray Train already gave this worker its split


@runtime_checkable
class Shardable(Protocol):
    """Data that reads only one rank's part itself (``LazyDataset.shard``)."""

    def shard(self, rank: int, world_size: int) -> Any: ...


def shard(
    data: Any, rank: int, world_size: int, *, train: bool, device: torch.device | None = None
) -> Any:
    """This rank's part of ``data``: an in-memory loader or a dataset that can shard itself.

    Raises:
        DataError: ``data`` cannot be split between workers (a plain list or DataLoader).
    """
    if data is None or world_size == 1 or (isinstance(data, PreSharded) and data.sharded):
        return data  # RayDataShard: Ray Train already gave this worker its split
    if isinstance(data, InMemoryLoader):
        return ShardedLoader(data, rank=rank, world_size=world_size, train=train, device=device)
    if isinstance(data, Shardable):  # LazyDataset: reads only this rank's row groups
        return data.shard(rank, world_size)
    raise DataError(
        f"Cannot split {type(data).__name__} between {world_size} workers: every worker would "
        "read all of it. Pass in-memory arrays, a deepfuse streaming dataset "
        "(deepfuse.data.streaming, which has .shard(rank, world_size)), or a Ray Dataset through "
        "RayStrategy(datasets={'train': ds}) and strategy.dataset('train', batch_size=...)."
    )
