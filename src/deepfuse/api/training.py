"""``deepfuse.api.train``: config → data → model → fit → test metrics → a complete run directory.

Example:
    >>> from deepfuse.api import train
    >>> cfg = {"data": {"dataset": "mnist", "limit": 2000}, "trainer": {"epochs": 1, "verbose": 0}}
    >>> result = train(cfg, out_dir="/tmp/deepfuse-doctest-runs")            # doctest: +SKIP
    >>> sorted(p.name for p in result.run_dir.iterdir())                     # doctest: +SKIP
    ['checkpoints', 'config.yaml', 'evaluation.json', 'histograms.json', 'history.csv', 'metrics.json', 'model.json', 'model.safetensors', 'report.html']
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
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
from deepfuse.config import dump_config, load_config, resolve
from deepfuse.config.signatures import params_of
from deepfuse.report import write_report
from deepfuse.run import (
    DEFAULT_RUNS_DIR,
    STEPS_FILE,
    finish_run_dir,
    history_csv,
    new_run_dir,
    resumable_run,
)
from deepfuse.run.facts import run_facts, utc_now
from deepfuse.training.callbacks.histograms import HistogramLog
from deepfuse.training.callbacks.steplog import StepLog

__all__ = ["RunResult", "build_compiled_model", "resolve_config", "train"]


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
    cfg: Mapping[str, Any] | str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: str | os.PathLike | None = None,
) -> RunResult:
    """Train what ``cfg`` describes into ``<out_dir>/<name>-<timestamp>/``, resumably.

    Each file of the run is written atomically, ``metrics.json`` last. Checkpoints go to
    ``<run>/checkpoints/`` at every epoch end and every ``trainer.checkpoint_every`` steps.

    Args:
        cfg: A config dict or the path of a YAML file (sections ``data``, ``model``, ``trainer``).
        out_dir: Folder that receives the run (default ``runs/``).
        resume: An unfinished run directory: continue it from its newest valid checkpoint
            with its own ``config.yaml`` (``cfg`` and ``out_dir`` are then ignored); the result
            is bit-identical to an uninterrupted run on CPU.

    Returns:
        A :class:`RunResult` with the run directory and the metrics (``metrics["test"]``).

    Raises:
        UserError: A bad config or bad data (nothing is written in that case).
    """
    from deepfuse.distributed import get_strategy

    run_dir = None
    if resume is not None:  # the run's own resolved config; the run continues in its folder
        run_dir = resumable_run(resume)
        cfg = load_config(run_dir / "config.yaml")
    elif cfg is None:
        raise ConfigError("train() needs a config (a dict or a YAML path), or resume=RUN_DIR.")
    resolved = resolve_config(cfg)
    strategy = get_strategy(resolved["trainer"].get("strategy"))
    # Absolute: Ray workers run in folders of their own.
    root = Path(out_dir if out_dir is not None else DEFAULT_RUNS_DIR).resolve()
    planned = run_dir is None and strategy.restarts_workers
    if planned:
        run_dir = plan_run_dir(resolved, root)
    with _removed_on_error(run_dir if planned else None):
        return strategy.launch(_train_worker, resolved, root, run_dir, planned)


def plan_run_dir(resolved: Mapping[str, Any], root: Path) -> Path:
    """Create the run folder before the workers start, for a launcher that may restart them
    (Ray): every attempt of the group then writes the same ``<name>-<stamp>.partial/``, and a
    group restarted from a checkpoint finds its ``steps.csv`` and ``checkpoints/`` there."""
    return new_run_dir(root, _run_name(resolved))


def _train_worker(
    strategy: Any,
    resolved: dict[str, Any],
    out_dir: Path,
    run_dir: Path | None = None,
    planned: bool = False,
) -> RunResult | None:
    """What each worker runs (the only one on one process); rank 0 evaluates and writes the run.

    ``run_dir``: with ``planned``, the fresh folder :func:`plan_run_dir` made for this run (a
    restarted worker group continues in it); otherwise an unfinished run to resume from its
    ``checkpoints/`` (``deepfuse train --resume``), or ``None`` for a new folder.
    """
    from deepfuse.api.resume import attach

    data_cfg, trainer = resolved["data"], resolved["trainer"]
    seed = trainer.get("seed")
    prep = prepare(data_cfg, seed=seed if seed is not None else 0, batch_size=trainer["batch_size"])
    if prep.preprocessor is not None and data_cfg.get("dataset") is None:
        data_cfg["features"] = {**prep.features, **(data_cfg.get("features") or {})}
        data_cfg["streaming"] = prep.streaming  # evaluate/predict take the same route later

    model = build_compiled_model(resolved, prep)
    callbacks = _callbacks(trainer)
    restored = attach(strategy, callbacks)  # Ray: checkpoint each epoch, resume after a restart
    resume_folder = run_dir is not None and not planned  # --resume: from the folder's checkpoints/
    fresh = run_dir is None or (planned and not restored)

    # Rank 0 writes the run in place, so a killed run can be resumed from its checkpoints/.
    tmp = (run_dir or new_run_dir(out_dir, model.name)) if strategy.is_main else None
    if tmp is not None and planned and not restored:
        # An attempt that starts over (none before it, or a restart before the first epoch
        # checkpoint): nothing of an earlier attempt stays.
        shutil.rmtree(tmp / "checkpoints", ignore_errors=True)
    if tmp is not None:
        callbacks.append(StepLog(tmp / STEPS_FILE))
        # weight/gradient histograms per epoch for report.html (reads tensors only: same bits)
        if not any(isinstance(cb, HistogramLog) for cb in callbacks):  # the config's own wins
            callbacks.append(HistogramLog(tmp / "histograms.json"))
        options_ckpt = {"checkpoint_dir": tmp / "checkpoints", "resume": resume_folder}
    # A failed fresh run leaves nothing behind; a planned folder is train()'s to remove (a
    # restarted worker group continues in it).
    with _removed_on_error(tmp if fresh and not planned else None):
        if tmp is not None and fresh:
            dump_config(resolved, tmp / "config.yaml")
        started_at = utc_now()
        start = time.perf_counter()
        # Every other fit() argument comes from the trainer section as it is (epochs, seed, ...).
        options = _arguments_of(
            type(model).fit, trainer, skip=("validation_split", "callbacks", "strategy")
        )
        if tmp is not None:
            options.update(options_ckpt)
        history = model.fit(
            prep.train, validation_data=prep.val, callbacks=callbacks, strategy=strategy, **options
        ).history
        train_time = time.perf_counter() - start
        if tmp is None:
            return None  # not rank 0: the run directory is rank 0's to write
        eval_start = time.perf_counter()
        test = model.evaluate(
            prep.test, batch_size=max(256, trainer["batch_size"]), return_dict=True
        )
        eval_time = time.perf_counter() - eval_start
        model.save(tmp)
        history_csv(history, tmp / "history.csv", steps=tmp / STEPS_FILE)
        (tmp / STEPS_FILE).unlink()  # now in history.csv, one row per step
        metrics = _metrics(prep, history, test, train_time)
        eval_start = time.perf_counter()
        _write_evaluation(model, prep, tmp / "evaluation.json", trainer["batch_size"])
        eval_time += time.perf_counter() - eval_start
        metrics.update(run_facts(prep, model, started_at, eval_time))
        # report.html before metrics.json: the run is renamed from .partial only with its report
        report_start = time.perf_counter()
        _write_report(tmp, model, prep, metrics)
        metrics["report_time_s"] = round(time.perf_counter() - report_start, 3)
        atomic_write_json(tmp / "metrics.json", metrics)
    # every file is there: <name>-<stamp>.partial becomes <name>-<stamp> in one rename
    return RunResult(finish_run_dir(tmp), metrics, history)


def build_compiled_model(resolved: dict[str, Any], prep: Prepared) -> Any:
    """The config's model, built for ``prep``, named and compiled (shared with ``deepfuse cv``).

    Completes ``resolved`` in place: ``model`` (the spec used) and ``trainer.loss``/``metrics``.
    """
    trainer = resolved["trainer"]
    seed = trainer.get("seed")
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
    return model


def _write_evaluation(model: Any, prep: Prepared, path: Path, batch_size: int) -> None:
    """The full metric set of the test split (``deepfuse evaluate`` gives the same numbers)."""
    from deepfuse.api.use import evaluation_of

    result = evaluation_of(
        model, prep.test, prep.task, prep.classes, batch_size=max(256, batch_size)
    )
    atomic_write_json(path, result.to_dict())


@contextlib.contextmanager
def _removed_on_error(run_dir: Path | None) -> Iterator[None]:
    """Delete a fresh run folder when training fails with an error (a bad config, a NaN loss);
    keep it on Ctrl-C or a kill, so that ``deepfuse train --resume`` can continue it."""
    try:
        yield
    except Exception:
        if run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


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
        "rows": prep.rows
        or {
            "train": _rows(prep.train),
            "validation": _rows(prep.val) if prep.val is not None else 0,
            "test": _rows(prep.test),
        },
    }


def _write_report(run: Path, model: Any, prep: Prepared, metrics: dict[str, Any]) -> None:
    """report.html of the run; a failure of the report as a whole (each of its parts already
    shows its own failures in the page) is a warning: it never costs the trained run."""
    import warnings

    from deepfuse.report import ReportWarning

    try:
        write_report(run, model=model, test_data=prep.test, metrics=metrics)
    except Exception as exc:
        warnings.warn(
            f"report.html could not be written ({type(exc).__name__}: {exc}); the run is "
            "complete without it. Write it later with 'deepfuse report RUN'.",
            ReportWarning,
            stacklevel=2,
        )


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
