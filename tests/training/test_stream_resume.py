"""A streamed ``fit`` resumed from its checkpoint reproduces the uninterrupted run, bit for bit.

Regression test of issue 10: ``Model.fit`` used to wrap a ``LazyDataset`` in an adapter that hid
its ``state_dict``, so a resumed run replayed the data from epoch 0 and the weights differed.
Each run records the rows of every training batch (the first feature is a unique row id) and the
final weights; a run is "killed" by raising from ``train_step`` right after a checkpoint step.
The data is shuffled Parquet, read as one shard and as each of two shards (``.shard(rank, 2)``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import deepfuse as df
from deepfuse.distributed.sharding import shard
from deepfuse.training.protocols import ResumableData

ROWS, FEATURES, BATCH = 2_000, 6, 64


class Killed(Exception):
    """Stands in for SIGKILL: raised before the step that would follow ``kill_at``."""


class Recorder(df.Model):
    """A small MLP that records the row ids of each training batch and can be 'killed'."""

    def __init__(self, kill_at: int | None = None) -> None:
        torch.manual_seed(0)  # same initial weights in every run
        super().__init__(
            torch.nn.Sequential(
                torch.nn.Linear(FEATURES, 16),
                torch.nn.ReLU(),
                torch.nn.Dropout(0.1),  # consumes the torch RNG: it must be restored too
                torch.nn.Linear(16, 2),
            )
        )
        self.kill_at = kill_at
        self.seen: list[list[float]] = []

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.kill_at is not None and self.trainer.global_step == self.kill_at:
            raise Killed
        self.seen.append(batch["x"][:, 0].tolist())  # (B,) row ids, in batch order
        return super().train_step(batch)


def _write(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, FEATURES)).astype(np.float32)
    x[:, 0] = np.arange(ROWS)  # the row id, a feature like the others
    y = (x[:, 1] + x[:, 2] > 0).astype(np.int64)
    table = pa.table({**{f"f{i}": x[:, i] for i in range(FEATURES)}, "label": y})
    folder.mkdir()
    for part in range(2):
        half = table.slice(part * ROWS // 2, ROWS // 2)
        pq.write_table(half, folder / f"part-{part}.parquet", row_group_size=250)
    return folder


def _dataset(folder: Path, rank: int, world: int) -> df.data.LazyDataset:
    """A freshly built dataset, as a restarted process builds it."""
    ds = df.data.scan_parquet(folder).shuffle(512, seed=0)
    if world > 1:
        ds = ds.shard(rank, world)
    return ds.batch(BATCH, target="label")


def _fit(model: Recorder, data, **options) -> None:
    model.compile(optimizer={"name": "adam", "lr": 0.01}, loss="cross_entropy")
    model.fit(data, verbose=0, seed=0, **options)


def _weights(model: Recorder) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def parquet(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("stream") / "parts")


@pytest.fixture(scope="module")
def uninterrupted(parquet) -> dict[tuple[int, int], tuple[list, dict]]:
    """Batches and weights of a 2-epoch run, per (rank, world)."""
    out = {}
    for rank, world in [(0, 1), (0, 2), (1, 2)]:
        model = Recorder()
        _fit(model, _dataset(parquet, rank, world), epochs=2)
        out[rank, world] = (model.seen, _weights(model))
    return out


def _assert_same(model: Recorder, weights: dict[str, torch.Tensor]) -> None:
    got = _weights(model)
    assert got.keys() == weights.keys()
    for name, value in weights.items():
        assert torch.equal(got[name], value), name


SHARDS = [(0, 1), (0, 2), (1, 2)]


@pytest.mark.parametrize(("rank", "world"), SHARDS)
def test_resume_at_an_epoch_end(parquet, uninterrupted, tmp_path, rank, world):
    batches, weights = uninterrupted[rank, world]
    first = Recorder()
    _fit(first, _dataset(parquet, rank, world), epochs=1, checkpoint_dir=tmp_path)
    resumed = Recorder()  # fresh model, fresh dataset: a new process
    _fit(resumed, _dataset(parquet, rank, world), epochs=2, checkpoint_dir=tmp_path, resume=True)
    assert first.seen + resumed.seen == batches  # the same rows in the same order
    _assert_same(resumed, weights)


@pytest.mark.parametrize(("rank", "world"), SHARDS)
def test_resume_mid_epoch(parquet, uninterrupted, tmp_path, rank, world):
    batches, weights = uninterrupted[rank, world]
    per_epoch = len(batches) // 2
    every = 5
    # killed 2 steps after the last checkpoint of epoch 2: those 2 steps are trained again
    kill_at = per_epoch + (every - per_epoch % every) + 2
    saved_at = kill_at - 2
    first = Recorder(kill_at=kill_at)
    with pytest.raises(Killed):
        _fit(
            first,
            _dataset(parquet, rank, world),
            epochs=2,
            checkpoint_dir=tmp_path,
            checkpoint_every=every,
        )
    resumed = Recorder()
    _fit(
        resumed,
        _dataset(parquet, rank, world),
        epochs=2,
        checkpoint_dir=tmp_path,
        checkpoint_every=every,
        resume=True,
    )
    assert first.seen[:saved_at] + resumed.seen == batches
    _assert_same(resumed, weights)


def test_fit_hands_the_dataset_to_the_trainer_with_its_state(parquet):
    ds = _dataset(parquet, 0, 1)
    model = Recorder()
    _fit(model, ds, epochs=1)
    assert model.trainer._train_data is ds  # not an adapter that hides state_dict
    assert isinstance(ds, ResumableData)


def test_sharding_splits_the_dataset_itself(parquet):
    ds = _dataset(parquet, 0, 1)
    part = shard(ds, 1, 2, train=True)
    assert isinstance(part, df.data.LazyDataset) and isinstance(part, ResumableData)
    ids = [v for b in part for v in b["x"][:, 0].tolist()]
    other = [v for b in shard(ds, 0, 2, train=True) for v in b["x"][:, 0].tolist()]
    assert len(ids) == len(other) == ROWS // 2 and not set(ids) & set(other)


class StatefulTuples:
    """A foreign resumable loader yielding ``(x, y)`` tuples (like torchdata's StatefulDataLoader):
    a permutation per epoch from (seed, epoch), and its position as state."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y
        self.epoch, self.position, self._skip = 0, 0, 0

    def __len__(self) -> int:
        return len(self.x) // BATCH

    def __iter__(self):
        order = torch.randperm(len(self.x), generator=torch.Generator().manual_seed(self.epoch))
        skip, self._skip = self._skip, 0
        for i in range(skip, len(self)):
            self.position = i + 1
            idx = order[i * BATCH : (i + 1) * BATCH]
            yield self.x[idx].double(), self.y[idx]  # float64: the adapter casts to float32
        self.epoch, self.position = self.epoch + 1, 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self._skip = state["epoch"], state["position"]


def test_a_foreign_resumable_loader_keeps_its_state_through_the_adapter(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(640, FEATURES, generator=g)
    x[:, 0] = torch.arange(640)
    y = (x[:, 1] > 0).long()
    whole = Recorder()
    _fit(whole, StatefulTuples(x, y), epochs=2)
    kill_at, saved_at = 17, 15  # epoch 2 (10 steps per epoch), checkpoints every 5 steps
    first = Recorder(kill_at=kill_at)
    with pytest.raises(Killed):
        _fit(first, StatefulTuples(x, y), epochs=2, checkpoint_dir=tmp_path, checkpoint_every=5)
    assert isinstance(first.trainer._train_data, ResumableData)  # the adapter passes it on
    resumed = Recorder()
    _fit(
        resumed,
        StatefulTuples(x, y),
        epochs=2,
        checkpoint_dir=tmp_path,
        checkpoint_every=5,
        resume=True,
    )
    assert first.seen[:saved_at] + resumed.seen == whole.seen
    _assert_same(resumed, _weights(whole))
