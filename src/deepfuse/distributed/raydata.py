"""Ray Data in the fit loop: each Ray Train worker iterates its own split of a Ray Dataset.

Pass the dataset to :class:`~deepfuse.distributed.RayStrategy` (``datasets={"train": ds}``); Ray
Train splits it between the workers (``streaming_split(..., equal=True)``, so every rank gets the
same number of rows) and, inside the worker, ``strategy.dataset("train", ...)`` gives batches for
``Model.fit``. The split is already per worker, so deepfuse does not shard it again.

Example:
    >>> class FakeShard:  # what ray.train.get_dataset_shard returns, reduced to what is used
    ...     def iter_torch_batches(self, batch_size, drop_last):
    ...         import torch
    ...         yield {"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([3.0, 4.0]), "y": torch.tensor([0, 1])}
    >>> batch = next(iter(RayDataShard(FakeShard(), batch_size=2, target="y")))
    >>> batch["x"].tolist(), batch["y"].tolist()
    ([[1.0, 3.0], [2.0, 4.0]], [0, 1])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from deepfuse._utils.errors import DataError
from deepfuse.data.tensors import cast, feature_matrix

__all__ = ["RayDataShard"]


class RayDataShard:
    """This worker's split of a Ray Dataset as ``dict[str, Tensor]`` batches.

    Args:
        shard: ``ray.train.get_dataset_shard(name)`` (a ``DataIterator``).
        batch_size: Rows per batch on this worker (the global batch is ``batch_size * workers``).
        target: With a target column, batches are ``{"x": (N, F) float32, "y": target}`` like
            ``LazyDataset.batch(target=...)``; without, the columns as they come.
        features: Columns stacked into ``x`` (default: every other column, in batch order).
        drop_last: Drop a final short batch.
    """

    #: Already split by Ray Train: :func:`deepfuse.distributed.sharding.shard` leaves it alone.
    sharded = True

    def __init__(
        self,
        shard: Any,
        *,
        batch_size: int,
        target: str | None = None,
        features: Sequence[str] | None = None,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}")
        self.shard = shard
        self.batch_size = int(batch_size)
        self.target = target
        self.features = list(features) if features is not None else None
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for batch in self.shard.iter_torch_batches(
            batch_size=self.batch_size, drop_last=self.drop_last
        ):
            yield self._collate(batch)

    def _collate(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.target is None:
            return dict(batch)
        if self.target not in batch:
            raise DataError(
                f"Target column {self.target!r} is not in the Ray Dataset; columns: {sorted(batch)}."
            )
        names = self.features or [c for c in batch if c != self.target]
        missing = [c for c in names if c not in batch]
        if missing:
            raise DataError(
                f"Feature columns {missing} are not in the Ray Dataset; columns: {sorted(batch)}."
            )
        x = feature_matrix([batch[c] for c in names], names=names)  # (N, F), the tensor rule
        return {"x": x, "y": cast(batch[self.target], label=True, name=self.target)}
