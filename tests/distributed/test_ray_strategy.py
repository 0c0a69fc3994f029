"""Ray Train: 2 workers, one killed mid-run, recover from the last epoch checkpoint and finish."""

from __future__ import annotations

import builtins
import csv
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from deepfuse._utils.errors import MissingDependencyError


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfuse.distributed import RayStrategy

    real_import = builtins.__import__

    def no_ray(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(MissingDependencyError, match=r"pip install 'deepfuse\[ray\]'"):
        RayStrategy(workers=2).launch(lambda strategy: None)


def test_ray_strategy_arguments_are_checked() -> None:
    from deepfuse._utils.errors import ConfigError, UserError
    from deepfuse.distributed import RayStrategy

    with pytest.raises(ConfigError, match="'workers' argument of the Ray strategy"):
        RayStrategy(workers=0)
    with pytest.raises(UserError, match=r"cannot be passed to Model\.fit"):
        RayStrategy().wrap_model(None)  # type: ignore[arg-type]


def _dying(data: Any, step: int, marker: str) -> Any:
    for i, batch in enumerate(data):
        if i == step:
            Path(marker).write_text("killed once")
            os.kill(os.getpid(), signal.SIGKILL)  # a hard crash: no cleanup, no exception
        yield batch


def _train_killing_rank1_once(
    strategy: Any, resolved: dict, root: Path, run_dir: Path, marker: str
) -> Any:
    """Runs in every Ray worker: rank 1 kills itself at step 5 of epoch 2, first attempt only."""
    from deepfuse.api import training
    from deepfuse.training.trainer import Trainer

    original = Trainer._train_epoch

    def train_epoch(self: Trainer, data: Any, *args: Any, **kwargs: Any) -> None:
        if strategy.rank == 1 and self.epoch == 1 and not os.path.exists(marker):
            data = _dying(data, step=5, marker=marker)
        original(self, data, *args, **kwargs)

    Trainer._train_epoch = train_epoch  # type: ignore[method-assign]
    return training._train_worker(strategy, resolved, root, run_dir, True)


@pytest.mark.slow
def test_ray_two_workers_survive_a_killed_worker(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    pytest.importorskip("pydantic")
    from deepfuse.api import train
    from deepfuse.api.training import plan_run_dir, resolve_config
    from deepfuse.distributed import RayStrategy

    cfg = {
        "name": "mlp",
        "data": {"dataset": "mnist", "limit": 20000},
        "model": {
            "type": "sequential",
            "layers": [
                {"Flatten": {}},
                {"Dense": {"units": 128, "activation": "relu"}},
                {"Dense": {"units": 10}},
            ],
        },
        "trainer": {
            "epochs": 3,
            "batch_size": 128,
            "seed": 0,
            "verbose": 0,
            "optimizer": {"name": "adam", "lr": 1e-3},
        },
    }
    single = train(cfg, out_dir=tmp_path / "single")
    marker = str(tmp_path / "killed.marker")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    strategy = RayStrategy(workers=2, max_failures=1, storage_path=str(tmp_path / "ray"))
    resolved, root = resolve_config(cfg), (tmp_path / "ray_runs").resolve()
    run_dir = plan_run_dir(resolved, root)  # what train() does for a launcher that restarts
    result = strategy.launch(_train_killing_rank1_once, resolved, root, run_dir, marker)
    assert Path(marker).exists()  # the worker really was killed once
    assert result is not None and (result.run_dir / "metrics.json").is_file()
    assert result.metrics["epochs"] == 3  # 1 epoch from the checkpoint + 2 after the restart
    got, want = result.metrics["test"]["accuracy"], single.metrics["test"]["accuracy"]
    print(f"test accuracy: killed-worker Ray run {got:.4f}, single process {want:.4f}")
    assert abs(got - want) <= 0.005, (got, want)
    # Regression: every attempt writes the one planned folder (a restarted group used to start a
    # new one and fail on the checkpoint's step log); no orphan, every step logged once.
    assert [p.name for p in (tmp_path / "ray_runs").iterdir()] == [result.run_dir.name]
    with open(result.run_dir / "history.csv", newline="") as fh:
        steps = [int(row["global_step"]) for row in csv.DictReader(fh)]
    assert steps == list(range(1, len(steps) + 1)), steps


def test_ray_data_shard_collates_and_is_not_sharded_again() -> None:
    import torch

    from deepfuse._utils.errors import DataError
    from deepfuse.distributed.raydata import RayDataShard
    from deepfuse.distributed.sharding import shard

    class FakeShard:  # the part of ray.train.DataIterator that deepfuse uses
        def iter_torch_batches(self, batch_size: int, drop_last: bool) -> Any:
            for start in range(0, 5, batch_size):
                n = min(batch_size, 5 - start)
                if drop_last and n < batch_size:
                    return
                ids = torch.arange(start, start + n)
                yield {"a": ids.double(), "b": -ids, "y": ids % 2}

    data = RayDataShard(FakeShard(), batch_size=2, target="y", features=["b", "a"])
    batches = list(data)
    assert [b["y"].tolist() for b in batches] == [[0, 1], [0, 1], [0]]
    assert batches[1]["x"].dtype == torch.float32
    assert batches[1]["x"].tolist() == [[-2.0, 2.0], [-3.0, 3.0]]  # columns in `features` order
    assert len(list(RayDataShard(FakeShard(), batch_size=2, drop_last=True))) == 2
    assert shard(data, 1, 2, train=True) is data  # Ray Train already split it per worker
    with pytest.raises(DataError, match="Target column 'label'"):
        next(iter(RayDataShard(FakeShard(), batch_size=2, target="label")))


def _fit_on_ray_data(strategy: Any) -> Any:
    """Runs in every Ray worker: fit on this worker's split of the Ray Dataset."""
    import torch

    import deepfuse as df

    data = strategy.dataset("train", batch_size=32, target="y")
    rows = torch.zeros(strategy.world_size)
    rows[strategy.rank] = sum(len(b["y"]) for b in data)
    rows = strategy.all_reduce_sum(rows)
    model = df.Sequential([df.layers.Dense(16, activation="relu"), df.layers.Dense(2)])
    model.compile(
        optimizer={"name": "adam", "lr": 0.01}, loss="cross_entropy", metrics=["accuracy"]
    )
    history = model.fit(data, epochs=10, strategy=strategy, verbose=0, seed=0)
    return {"rows": rows.tolist(), "accuracy": history.history["accuracy"][-1]}


@pytest.mark.slow
def test_ray_dataset_is_split_equally_and_trains(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    pytest.importorskip("pydantic")
    import numpy as np

    from deepfuse.distributed import RayStrategy

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=400), rng.normal(size=400)
    items = [{"a": float(u), "b": float(v), "y": int(u + v > 0)} for u, v in zip(a, b)]
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    ray.init(include_dashboard=False, logging_level="ERROR")
    try:
        strategy = RayStrategy(
            workers=2,
            storage_path=str(tmp_path / "ray"),
            datasets={"train": ray.data.from_items(items)},
        )
        result = strategy.launch(_fit_on_ray_data)
    finally:
        ray.shutdown()
    assert result["rows"] == [200.0, 200.0]  # equal split, every row once
    assert result["accuracy"] > 0.85  # a learnable rule: the workers really trained on it
