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
from deepfuse.api.build import (
    build_model,
    default_loss,
    default_metrics,
    default_model_type,
    output_units,
)
from deepfuse.api.data import Prepared, prepare
from deepfuse.api.registry import signatures
from deepfuse.api.rundir import RunWriter, history_csv
from deepfuse.config import dump_config, load_config, resolve
from deepfuse.config.signatures import params_of

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
        path = Path(cfg)
        cfg = load_config(path)
        cfg.setdefault("name", path.name.split(".")[0])  # runs/<config name>-<timestamp>
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


def train(
    cfg: Mapping[str, Any] | str | os.PathLike, out_dir: str | os.PathLike | None = None
) -> RunResult:
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
    elif spec["type"] != "sequential":
        trainer["loss"] = _for_logits(trainer["loss"])
    if not trainer.get("metrics"):
        trainer["metrics"] = default_metrics(prep.task)
    elif not isinstance(trainer["metrics"], list):
        trainer["metrics"] = [trainer["metrics"]]
    model.compile(**_arguments_of(type(model).compile, trainer))
    if (
        prep.task in ("binary", "multiclass")
        and model.output_activation is None
        and getattr(model.loss_fn, "from_logits", False)
    ):
        # The network ends in logits (zoo models do): predict() must still give probabilities.
        model.output_activation = "sigmoid" if output_units(prep) == 1 else "softmax"
    callbacks = _callbacks(trainer)

    writer = RunWriter(out_dir, model.name)
    with writer as tmp:
        dump_config(resolved, tmp / "config.yaml")
        start = time.perf_counter()
        # Every other fit() argument comes from the trainer section as it is (epochs, seed, ...).
        options = _arguments_of(type(model).fit, trainer, skip=("validation_split", "callbacks"))
        history = model.fit(
            prep.train, validation_data=prep.val, callbacks=callbacks, **options
        ).history
        train_time = time.perf_counter() - start
        test = model.evaluate(
            prep.test, batch_size=max(256, trainer["batch_size"]), return_dict=True
        )
        model.save(tmp)
        history_csv(history, tmp / "history.csv")
        metrics = _metrics(prep, history, test, train_time)
        atomic_write_json(tmp / "metrics.json", metrics)
    assert writer.run_dir is not None
    return RunResult(writer.run_dir, metrics, history)


def _for_logits(spec: Any) -> Any:
    """Zoo models output logits: a Keras probability loss (``sparse_categorical_crossentropy``)
    gets ``from_logits: true`` unless the config set it, so the loss sees what the model gives."""
    from deepfuse import losses

    if isinstance(spec, Mapping) and "from_logits" in spec:
        return spec
    if getattr(losses.get(spec), "from_logits", True):
        return spec
    return {**({"name": spec} if isinstance(spec, str) else dict(spec)), "from_logits": True}


def _arguments_of(method: Any, trainer: Mapping[str, Any], skip: tuple = ()) -> dict[str, Any]:
    """The trainer keys that are parameters of ``method`` (``Model.compile`` or ``Model.fit``)."""
    names = params_of(method)
    return {k: v for k, v in trainer.items() if k in names and k not in skip}


def _metrics(
    prep: Prepared, history: Mapping[str, list[float]], test: Mapping[str, float], train_time: float
) -> dict[str, Any]:
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
