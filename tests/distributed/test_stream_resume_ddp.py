"""DDP (gloo, 2 processes) on a streamed, shuffled Parquet dataset: fit shards the LazyDataset
itself (no wrapper), and each rank resumed mid-epoch from its checkpoint reproduces the
uninterrupted DDP run: same batches on every rank, bit-identical weights.

Each rank keeps its own checkpoint folder here: a rank's data position is its own shard's.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
import torch.multiprocessing as mp

import deepfuse as df
from deepfuse.distributed import DDPStrategy

ROWS, FEATURES, BATCH, EVERY = 2_000, 6, 64, 5
PER_EPOCH = 16  # 1,000 rows per rank in batches of 64
KILL_AT = 22  # 2 steps after the mid-epoch checkpoint of step 20, in epoch 2
SAVED_AT = 20


class Killed(Exception):
    """Stands in for SIGKILL."""


class Recorder(df.Model):
    def __init__(self, kill_at: int | None = None) -> None:
        torch.manual_seed(0)
        super().__init__(
            torch.nn.Sequential(
                torch.nn.Linear(FEATURES, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
            )
        )
        self.kill_at = kill_at
        self.seen: list[list[float]] = []

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.kill_at is not None and self.trainer.global_step == self.kill_at:
            raise Killed  # on every rank at the same step: no collective is left waiting
        self.seen.append(batch["x"][:, 0].tolist())  # row ids
        return super().train_step(batch)


def _fit(model: Recorder, folder: str, strategy: DDPStrategy, **options: object) -> None:
    ds = df.data.scan_parquet(folder).shuffle(512, seed=0).batch(BATCH, target="label")
    model.compile(optimizer={"name": "adam", "lr": 0.01}, loss="cross_entropy")
    model.fit(ds, epochs=2, verbose=0, seed=0, strategy=strategy, **options)


def _worker(rank: int, world: int, port: int, folder: str, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world)
    )
    torch.set_num_threads(1)
    strategy = DDPStrategy("gloo")
    strategy.setup()
    try:
        whole = Recorder()
        _fit(whole, folder, strategy)
        ckpt = {"checkpoint_dir": Path(out, f"ckpt{rank}"), "checkpoint_every": EVERY}
        killed = Recorder(kill_at=KILL_AT)
        try:
            _fit(killed, folder, strategy, **ckpt)
            raise AssertionError("the run was not killed")
        except Killed:
            pass
        resumed = Recorder()  # fresh model and dataset, as a restarted process
        _fit(resumed, folder, strategy, resume=True, **ckpt)
        result = {
            "whole": whole.seen,
            "killed": killed.seen,
            "resumed": resumed.seen,
            "same_weights": all(
                torch.equal(a, b) for a, b in zip(whole.parameters(), resumed.parameters())
            ),
        }
        Path(out, f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        strategy.teardown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_streamed_fit_resumed_mid_epoch_matches(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, FEATURES)).astype(np.float32)
    x[:, 0] = np.arange(ROWS)
    table = pa.table({**{f"f{i}": x[:, i] for i in range(FEATURES)}, "label": x[:, 1] > 0})
    folder = tmp_path / "parts"
    folder.mkdir()
    for part in range(2):
        pq.write_table(
            table.slice(part * 1000, 1000), folder / f"p{part}.parquet", row_group_size=250
        )
    mp.spawn(_worker, args=(2, _free_port(), str(folder), str(tmp_path)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for got in ranks:
        assert len(got["whole"]) == 2 * PER_EPOCH
        assert got["killed"][:SAVED_AT] + got["resumed"] == got["whole"]
        assert got["same_weights"]
    ids = [{v for b in got["whole"][:PER_EPOCH] for v in b} for got in ranks]
    assert not ids[0] & ids[1]  # each rank read its own shard of the epoch
    assert len(ids[0]) + len(ids[1]) == ROWS
