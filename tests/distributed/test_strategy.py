"""DDP (gloo, 2 local processes) trains exactly like one process on the same global batch."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

import deepfuse as df
from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.distributed import DDPStrategy, SingleProcess, get_strategy
from deepfuse.distributed.reduce import merge_all, portable

EPOCHS, BATCH = 3, 16


def _data() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(96, 5, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 1).long()  # 3 classes
    xv = torch.randn(37, 5, generator=g)  # 37: an uneven last batch for the evaluation shards
    yv = (xv[:, 0] + xv[:, 1] > 0).long()
    return x, y, xv, yv


def _fit(strategy: object) -> tuple[df.Model, dict[str, list[float]]]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    model = df.Model(net)
    model.compile(
        optimizer={"name": "sgd", "lr": 0.2, "momentum": 0.9},
        loss="cross_entropy",
        metrics=["accuracy", "f1"],
    )
    x, y, xv, yv = _data()
    hist = model.fit(
        x,
        y,
        epochs=EPOCHS,
        batch_size=BATCH,
        validation_data=(xv, yv),
        seed=3,
        verbose=0,
        strategy=strategy,
    )
    return model, hist.history


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world)
    )
    torch.set_num_threads(1)
    strategy = DDPStrategy("gloo")
    strategy.setup()
    try:
        model, history = _fit(strategy)
        assert "forward" not in vars(model)  # unwrapped after fit
        assert model.trainer._seen == 48  # this rank trained on its half of the 96 rows
        weights = {k: v.tolist() for k, v in model.state_dict().items()}
        Path(out, f"rank{rank}.json").write_text(json.dumps({"w": weights, "h": history}))
    finally:
        strategy.teardown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_processes_equal_single_process(tmp_path: Path) -> None:
    model, history = _fit(None)
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    for rank in (0, 1):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        for name, value in model.state_dict().items():
            torch.testing.assert_close(torch.tensor(got["w"][name]), value, rtol=1e-5, atol=1e-6)
        assert set(got["h"]) == set(history)
        for key, values in history.items():
            if key == "time":
                continue
            assert got["h"][key] == pytest.approx(values, rel=1e-5, abs=1e-6), key


def test_sharded_loader_splits_every_global_batch() -> None:
    from deepfuse.data.memory import InMemoryLoader
    from deepfuse.distributed.sharding import ShardedLoader

    loader = InMemoryLoader({"y": torch.arange(10)}, batch_size=4, shuffle=False)
    parts = [list(ShardedLoader(loader, rank=r, world_size=3, train=True)) for r in range(3)]
    # global batches [0..3], [4..7]; the last one (2 rows < 3 ranks) is dropped for training
    assert [[b["y"].tolist() for b in p] for p in parts] == [
        [[0], [4]],
        [[1], [5]],
        [[2, 3], [6, 7]],
    ]
    evals = [list(ShardedLoader(loader, rank=r, world_size=3, train=False)) for r in range(3)]
    rows = sorted(v for p in evals for b in p for v in b["y"].tolist())
    assert rows == list(range(10))  # evaluation keeps every row exactly once
    shuffled = InMemoryLoader(
        {"y": torch.arange(12)},
        batch_size=6,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    ref = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    got = [ShardedLoader(shuffled, rank=r, world_size=2) for r in range(2)]
    shuffled.generator.manual_seed(0)
    a = [b["y"] for b in got[0]]
    shuffled.generator.manual_seed(0)
    b = [b["y"] for b in got[1]]
    assert torch.cat([a[0], b[0], a[1], b[1]]).tolist() == ref.tolist()


def test_sharding_refuses_what_cannot_be_split() -> None:
    from deepfuse.distributed.sharding import shard

    with pytest.raises(DataError, match="Cannot split list"):
        shard([{"x": torch.zeros(2)}], 0, 2, train=True)
    from deepfuse.data.memory import InMemoryLoader

    with pytest.raises(ConfigError, match="batch_size 2 is smaller than the 4 workers"):
        shard(InMemoryLoader({"y": torch.arange(8)}, batch_size=2), 0, 4, train=True)


def test_metric_states_merge_like_one_process() -> None:
    from deepfuse.metrics import MetricSet

    g = torch.Generator().manual_seed(0)
    out, target = torch.randn(50, 3, generator=g), torch.randint(0, 3, (50,), generator=g)
    reg_out, reg_t = torch.randn(50, generator=g), torch.randn(50, generator=g)
    for name, (o, t) in {
        "accuracy": (out, target),
        "f1": (out, target),
        "auc": (out, target),
        "mse": (reg_out, reg_t),
        "r2": (reg_out, reg_t),
    }.items():
        whole, parts = MetricSet([name]), [MetricSet([name]) for _ in range(3)]
        whole.update(o, t)
        for part, idx in zip(parts, torch.tensor_split(torch.arange(50), 3), strict=True):
            part.update(o[idx], t[idx])
        merge_all(parts[0], [portable(p) for p in parts], device=torch.device("cpu"))
        assert parts[0].compute() == pytest.approx(whole.compute(), rel=1e-9), name


def test_get_strategy_names_and_errors() -> None:
    assert isinstance(get_strategy(None), SingleProcess)
    assert isinstance(get_strategy("single"), SingleProcess)
    assert get_strategy({"name": "ddp", "backend": "gloo"}).backend == "gloo"
    assert isinstance(get_strategy("DDP"), DDPStrategy)  # names ignore case
    with pytest.raises(
        ConfigError,
        match=r"'trainer.strategy'.*'rya'\. Allowed values: 'ddp', 'ray', 'single'\. "
        r"Did you mean 'ray'",
    ):
        get_strategy("rya")
    with pytest.raises(ConfigError, match="Invalid arguments for strategy 'ddp'"):
        get_strategy({"name": "ddp", "workers": 2})
    with pytest.raises(ConfigError, match="no process group"):
        DDPStrategy("gloo").setup()
