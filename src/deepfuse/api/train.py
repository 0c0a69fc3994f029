"""``deepfuse.api.train``: config → data → model → fit → test metrics → a complete run directory.

Example:
    >>> from deepfuse.api import train
    >>> cfg = {"data": {"dataset": "mnist", "limit": 2000}, "trainer": {"epochs": 1, "verbose": 0}}
    >>> result = train(cfg, out_dir="/tmp/deepfuse-doctest-runs")            # doctest: +SKIP
    >>> sorted(p.name for p in result.run_dir.iterdir())                     # doctest: +SKIP
    ['config.yaml', 'history.csv', 'metrics.json', 'model.json', 'model.safetensors']
"""

from __future__ import annotations

import copy
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepfuse._utils.errors import ConfigError
from deepfuse._utils.io import atomic_write_json
from deepfuse.api.build import build_model, default_loss, default_metrics, default_model_type
from deepfuse.api.data import Prepared, prepare
from deepfuse.api.registry import signatures
from deepfuse.api.rundir import RunWriter, history_csv
from deepfuse.config import dump_config, load_config, resolve

__all__ = ["RunResult", "resolve_config", "train"]


@dataclass
class RunResult:
    """What :func:`train` returns.

    Attributes:
        run_dir: The finished run directory (absolute path).
        metrics: ``{"test": {...}, "final_epoch": {...}, ...}`` as written to metrics.json.
        history: Per-epoch values, ``{"loss": [...], "val_accuracy": [...]}``.
    """

    run_dir: Path
    metrics: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)


def resolve_config(cfg: Mapping[str, Any] | str | os.PathLike) -> dict[str, Any]:
    """Load (if a path), validate against the real signatures, fill defaults, absolutise paths."""
    if not isinstance(cfg, Mapping):
        cfg = load_config(cfg)
    resolved = resolve(cfg, signatures())
    data = resolved["data"]
    for key in ("train", "test"):
        if data.get(key):
            data[key] = str(Path(data[key]).expanduser().resolve())
    return resolved


def _run_name(cfg: Mapping[str, Any]) -> str:
    data = cfg["data"]
    if cfg.get("name"):
        name = cfg["name"]
    elif data.get("dataset") is not None:
        ds = data["dataset"]
        name = ds["name"] if isinstance(ds, Mapping) else ds
    else:
        name = Path(str(data["train"])).name.split(".")[0] or "run"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("._") or "run"


def train(cfg: Mapping[str, Any] | str | os.PathLike, out_dir: str | os.PathLike | None = None) -> RunResult:
    """Train what ``cfg`` describes and write ``<out_dir>/<name>-<timestamp>/`` atomically.

    Args:
        cfg: A config dict or the path of a YAML file (sections ``data``, ``model``, ``trainer``).
        out_dir: Folder that receives the run (default ``runs/``).

    Returns:
        A :class:`RunResult` with the run directory and the metrics (``metrics["test"]``).

    Raises:
        UserError: A bad config or bad data (nothing is written in that case).
    """
    resolved = resolve_config(cfg)
    data_cfg, trainer = resolved["data"], resolved["trainer"]
    seed = trainer.get("seed")
    prep = prepare(data_cfg, seed=seed if seed is not None else 0)
    if prep.preprocessor is not None and data_cfg.get("dataset") is None:
        data_cfg["features"] = {**prep.features, **(data_cfg.get("features") or {})}

    spec = resolved.get("model") or {"type": default_model_type(prep.kind, prep.features)}
    if seed is not None:
        from deepfuse._utils.seed import seed_everything

        seed_everything(seed)  # weights created at construction are reproducible too
    model, _ = build_model(spec, prep)
    resolved["model"] = copy.deepcopy(dict(spec))
    model.name = _run_name(resolved)
    model.target_key = prep.target
    model.preprocessor = prep.preprocessor
    if trainer.get("loss") is None:
        trainer["loss"] = default_loss(prep.task)
    if not trainer.get("metrics"):
        trainer["metrics"] = default_metrics(prep.task)
    elif not isinstance(trainer["metrics"], list):
        trainer["metrics"] = [trainer["metrics"]]
    model.compile(**{k: trainer[k] for k in ("optimizer", "loss", "metrics", "l1", "l2",
                                             "grad_clip", "schedule")})
    callbacks = _callbacks(trainer)

    writer = RunWriter(out_dir, model.name)
    with writer as tmp:
        dump_config(resolved, tmp / "config.yaml")
        start = time.perf_counter()
        history = model.fit(
            prep.train,
            epochs=trainer["epochs"],
            batch_size=trainer["batch_size"],
            validation_data=prep.val,
            callbacks=callbacks,
            shuffle=trainer["shuffle"],
            seed=seed,
            verbose=trainer["verbose"],
        ).history
        train_time = time.perf_counter() - start
        test = model.evaluate(prep.test, batch_size=max(256, trainer["batch_size"]), return_dict=True)
        model.save(tmp)
        history_csv(history, tmp / "history.csv")
        metrics = _metrics(prep, history, test, train_time)
        atomic_write_json(tmp / "metrics.json", metrics)
    assert writer.run_dir is not None
    return RunResult(writer.run_dir, metrics, history)


def _metrics(prep: Prepared, history: Mapping[str, list[float]], test: Mapping[str, float],
             train_time: float) -> dict[str, Any]:
    final = {k: v[-1] for k, v in history.items() if v}
    return {
        "test": {k: float(v) for k, v in test.items()},
        "final_epoch": final,
        "epochs": max((len(v) for v in history.values()), default=0),
        "train_time_s": round(train_time, 3),
        "task": prep.task,
        "classes": prep.classes,
        "rows": {
            "train": _rows(prep.train),
            "validation": _rows(prep.val) if prep.val is not None else 0,
            "test": _rows(prep.test),
        },
    }


def _rows(tensors: Mapping[str, Any]) -> int:
    return int(next(iter(tensors.values())).shape[0])


def _callbacks(trainer: Mapping[str, Any]) -> list[Any]:
    """``trainer.callbacks`` (names or ``{name: ..., **kwargs}``) and ``trainer.early_stopping``."""
    specs = list(trainer.get("callbacks") or [])
    stop = trainer.get("early_stopping")
    if not specs and not stop:
        return []
    from deepfuse.training import callbacks as cb

    out = [cb.get(s) for s in specs]
    if stop:
        options = {} if stop is True else dict(stop)
        out.append(cb.EarlyStopping(**options))
    if not all(out):
        raise ConfigError("A callback in 'trainer.callbacks' could not be built.")
    return out
