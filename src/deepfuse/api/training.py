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
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepfuse._utils.errors import ConfigError
from deepfuse._utils.io import DiskFullError, atomic_write_json, is_disk_full
from deepfuse.api.outcome import stop_reason
from deepfuse.api.tasks import Task, task_for, task_signatures
from deepfuse.config import dump_config, freeze, load_config, resolve, thaw
from deepfuse.data.routes import Prepared, route_for
from deepfuse.models.from_config import (
    arguments_of,
    build_compiled_model,
    config_signatures,
)
from deepfuse.report import write_report
from deepfuse.run import (
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    DEFAULT_RUNS_DIR,
    HISTOGRAMS_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    SEARCH_FILE,
    STEPS_FILE,
    RunReader,
    finish_run_dir,
    history_csv,
    new_run_dir,
    read_run,
    resumable_run,
)
from deepfuse.run.facts import run_facts, utc_now
from deepfuse.run.writer import all_written, remove_run_entry
from deepfuse.training.callbacks.epoch_checkpoint import attach
from deepfuse.training.callbacks.histograms import HistogramLog
from deepfuse.training.callbacks.steplog import StepLog

__all__ = [
    "RunResult",
    "config_callbacks",
    "fit_options",
    "resolve_config",
    "run_config",
    "run_name",
    "train",
]


@dataclass
class RunResult:
    """What :func:`train` returns.

    Attributes:
        run_dir: The finished run directory (absolute path).
        metrics: ``{"test": {...}, "final_epoch": {...}, ...}`` as written to metrics.json.
        history: Per-epoch values, ``{"loss": [...], "val_accuracy": [...]}``.
        config: The run's frozen config (:func:`run_config`): exactly what ``config.yaml`` holds.
    """

    run_dir: Path
    metrics: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)
    config: Mapping[str, Any] | None = None


def resolve_config(cfg: Mapping[str, Any] | str | os.PathLike) -> dict[str, Any]:
    """Load (if a path), validate against the real signatures, fill defaults, absolutise paths."""
    if not isinstance(cfg, Mapping):
        path = Path(cfg)
        cfg = load_config(path)
        cfg.setdefault("name", path.name.split(".")[0])  # runs/<config name>-<timestamp>
    from deepfuse.models.auto_defaults import is_no_config, resolve_run_kind

    resolved = resolve(cfg, {**config_signatures(), "tasks": task_signatures()})
    # time_budget / search follow from whether the config leaves every choice to deepfuse
    resolved["trainer"] = resolve_run_kind(resolved["trainer"], no_config=is_no_config(cfg))
    data = resolved["data"]
    for key in ("train", "test"):
        if data.get(key):
            data[key] = str(Path(data[key]).expanduser().resolve())
    return resolved


def run_config(
    resolved: Mapping[str, Any], prep: Prepared, task: Task | None = None
) -> Mapping[str, Any]:
    """The config a run uses, computed once and frozen: ``resolved`` completed from the data
    (feature types and the route taken, for your own files; the model section with its
    data-derived sizes; default loss and metrics). ``config.yaml`` holds exactly this.

    Example:
        >>> cfg = run_config(resolve_config({"data": {"dataset": "mnist", "limit": 100}}),
        ...                  route_for({"dataset": "mnist"}).prepare({"dataset": "mnist",
        ...                  "limit": 100}, seed=0, batch_size=32))        # doctest: +SKIP
        >>> cfg["model"]["type"], cfg["trainer"]["loss"]                   # doctest: +SKIP
        ('cnn', 'cross_entropy')
    """
    task = task or task_for(resolved)
    cfg = thaw(resolved)
    data = cfg["data"]
    if prep.preprocessor is not None and data.get("dataset") is None:
        data["features"] = {**prep.features, **(data.get("features") or {})}
        data["streaming"] = prep.streaming  # evaluate/predict take the same route later
    cfg["model"] = task.model_section(cfg.get("model"), prep)
    cfg["trainer"] = task.trainer_section(cfg["trainer"], prep, cfg["model"]["type"])
    return freeze(cfg)


def fit_options(trainer: Mapping[str, Any], model: Any) -> dict[str, Any]:
    """``Model.fit`` arguments from the trainer section (epochs, seed, ...), data aside."""
    return arguments_of(
        type(model).fit, trainer, skip=("validation_split", "callbacks", "strategy")
    )


def _seed(trainer: Mapping[str, Any]) -> int:
    return trainer["seed"] if trainer.get("seed") is not None else 0


def run_name(cfg: Mapping[str, Any]) -> str:
    """The run's name: ``name``, else the dataset or the training file's stem (safe characters)."""
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
    Finishing follows the protocol of :mod:`deepfuse.run.writer`: a run killed at any point,
    training done or not, is completed by ``resume``; a full disk raises a
    :class:`~deepfuse._utils.io.DiskFullError` and keeps the run and its checkpoints.

    Args:
        cfg: A config dict or the path of a YAML file (sections ``data``, ``model``, ``trainer``).
        out_dir: Folder that receives the run (default ``runs/``).
        resume: An unfinished run directory: continue it from its newest valid checkpoint
            with its own ``config.yaml`` (``cfg`` and ``out_dir`` are then ignored); the result
            is bit-identical to an uninterrupted run on CPU.

    Returns:
        A :class:`RunResult` with the run directory and the metrics (``metrics["test"]``).

    Raises:
        UserError: A bad config or bad data (nothing is written in that case); a full disk
            (:class:`~deepfuse._utils.io.DiskFullError`, the run folder stays for ``resume``).
    """
    from deepfuse.distributed import get_strategy

    run_dir = None
    if resume is not None:  # the run's own resolved config; the run continues in its folder
        run_dir = resumable_run(resume)
        if all_written(run_dir):  # killed after metrics.json: only the rename is left
            return _finish_written(run_dir)
        cfg = RunReader(run_dir).config()  # the run contract's read rule (regular file, size)
    elif cfg is None:
        raise ConfigError("train() needs a config (a dict or a YAML path), or resume=RUN_DIR.")
    resolved = resolve_config(cfg)
    strategy = get_strategy(resolved["trainer"].get("strategy"))
    # Absolute: Ray workers run in folders of their own.
    root = Path(out_dir if out_dir is not None else DEFAULT_RUNS_DIR).resolve()
    planned = run_dir is None and strategy.restarts_workers
    if planned:
        run_dir = plan_run_dir(resolved, root)
    with _run_guard(run_dir if planned else None, remove=True):
        return strategy.launch(_train_worker, resolved, root, run_dir, planned)


def _finish_written(partial: Path) -> RunResult:
    """Step 4 of the finishing protocol alone: every file is written, rename the run."""
    run = read_run(finish_run_dir(partial))
    return RunResult(run.path, run.metrics(), run.history(), freeze(run.config()))


def plan_run_dir(resolved: Mapping[str, Any], root: Path) -> Path:
    """Create the run folder before the workers start, for a launcher that may restart them
    (Ray): every attempt of the group then writes the same ``<name>-<stamp>.partial/``, and a
    group restarted from a checkpoint finds its ``steps.csv`` and ``checkpoints/`` there."""
    return new_run_dir(root, run_name(resolved))


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
    from deepfuse.models.auto_defaults import prepare_batch_size

    data, trainer = resolved["data"], resolved["trainer"]
    batch = prepare_batch_size(trainer)  # streamed splits are batched by the route
    task = task_for(resolved)
    prep = task.adapt(route_for(data).prepare(data, seed=_seed(trainer), batch_size=batch))
    search = None
    if task.searches and _searches(
        resolved, prep, strategy
    ):  # a fresh no-config run: pick the model first
        from deepfuse.api.search import run_search

        resolved, search = run_search(
            resolved, prep, budget_s=trainer.get("time_budget"), verbose=trainer.get("verbose")
        )
    cfg = run_config(resolved, prep, task)
    trainer = cfg["trainer"]
    model = build_compiled_model(cfg, prep, name=run_name(cfg))
    callbacks = config_callbacks(trainer)
    restored = attach(strategy, callbacks)  # Ray: checkpoint each epoch, resume after a restart
    resume_folder = run_dir is not None and not planned  # --resume: from the folder's checkpoints/
    fresh = run_dir is None or (planned and not restored)

    # Rank 0 writes the run in place, so a killed run can be resumed from its checkpoints/.
    tmp = (run_dir or new_run_dir(out_dir, model.name)) if strategy.is_main else None
    if tmp is not None and planned and not restored:
        # An attempt that starts over (none before it, or a restart before the first epoch
        # checkpoint): nothing of an earlier attempt stays.
        remove_run_entry(tmp / CHECKPOINTS_DIR)
    if tmp is not None:
        callbacks.append(StepLog(tmp / STEPS_FILE))
        # weight/gradient histograms per epoch for report.html (reads tensors only: same bits)
        if not any(isinstance(cb, HistogramLog) for cb in callbacks):  # the config's own wins
            callbacks.append(HistogramLog(tmp / HISTOGRAMS_FILE))
        options_ckpt = {"checkpoint_dir": tmp / CHECKPOINTS_DIR, "resume": resume_folder}
        callbacks.extend(task.callbacks(tmp, prep, trainer))
    # A failed fresh run leaves nothing behind; a planned folder is train()'s to remove (a
    # restarted worker group continues in it). A full disk keeps a resumable run.
    with _run_guard(tmp, remove=fresh and not planned):
        if tmp is not None and search is not None:
            atomic_write_json(tmp / SEARCH_FILE, search)  # the leaderboard survives a resume
        if tmp is not None and fresh:
            dump_config(cfg, tmp / CONFIG_FILE)
        started_at = utc_now()
        start = time.perf_counter()
        options = fit_options(trainer, model)
        if tmp is not None:
            options.update(options_ckpt)
        history = model.fit(
            prep.train, validation_data=prep.val, callbacks=callbacks, strategy=strategy, **options
        ).run_history()  # with the lr and time columns of history.csv
        train_time = time.perf_counter() - start
        stopped = stop_reason(callbacks, history, trainer["epochs"])
        task.after_fit(model, prep, trainer)  # e.g. a binary run's decision threshold
        if tmp is None:
            return None  # not rank 0: the run directory is rank 0's to write
        # The finishing protocol (run/writer.py): the last checkpoint marks training as done;
        # every file below is redone by --resume from it; steps.csv goes only at the rename.
        model.save(tmp)
        history_csv(history, tmp / HISTORY_FILE, steps=tmp / STEPS_FILE)
        metrics = _metrics(prep, history, train_time)
        metrics["stopped"] = stopped
        eval_start = time.perf_counter()
        metrics.update(task.evaluate(model, prep, tmp, trainer))  # test metrics, evaluation file
        eval_time = time.perf_counter() - eval_start
        if (tmp / SEARCH_FILE).is_file():
            metrics["search"] = RunReader(tmp).search()
        metrics.update(task.compare(prep, trainer))  # baselines on the same split
        metrics.update(run_facts(prep, model, started_at, eval_time))
        # report.html before metrics.json: the run is renamed from .partial only with its report
        report_start = time.perf_counter()
        _write_report(tmp, model, prep, metrics)
        metrics["report_time_s"] = round(time.perf_counter() - report_start, 3)
        atomic_write_json(tmp / METRICS_FILE, metrics)
    # every file is there: <name>-<stamp>.partial becomes <name>-<stamp> in one rename
    return RunResult(finish_run_dir(tmp), metrics, history, cfg)


def _searches(resolved: Mapping[str, Any], prep: Prepared, strategy: Any) -> bool:
    """Whether this run searches: ``trainer.search`` on, no model section, validation rows in
    memory to compare on (a streamed split would be read again per candidate), one process
    (workers of a group must all train the same model)."""
    return (
        resolved["trainer"].get("search") is True
        and resolved.get("model") is None
        and prep.val is not None
        and not prep.streaming
        and getattr(strategy, "world_size", 1) == 1
    )


@contextlib.contextmanager
def _run_guard(run_dir: Path | None, *, remove: bool) -> Iterator[None]:
    """What a failure does to the run folder ``run_dir``.

    A full disk (ENOSPC, EDQUOT) keeps a resumable run (its ``config.yaml`` is written), with
    every checkpoint, and becomes one :class:`DiskFullError` line naming the file and the
    ``--resume`` to run once space is freed. Another error (a bad config, a NaN loss) deletes
    the folder when ``remove`` (a fresh run); Ctrl-C or a kill keeps it for ``--resume``.
    """
    try:
        yield
    except Exception as exc:
        if run_dir is None:
            raise
        if is_disk_full(exc):
            where = getattr(exc, "path", None) or getattr(exc, "filename", None) or run_dir
            if (run_dir / CONFIG_FILE).is_file():
                fix = f"free space and run `deepfuse train --resume {run_dir}`"
                raise DiskFullError(where, fix=fix) from None
            if remove:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise DiskFullError(where, fix="free space and run `deepfuse train` again") from None
        if remove:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _metrics(
    prep: Prepared, history: Mapping[str, list[float]], train_time: float
) -> dict[str, Any]:
    final = {k: v[-1] for k, v in history.items() if v}
    return {
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
        if is_disk_full(exc):  # not a failure of the report: the run stops, resumable
            raise
        warnings.warn(
            f"report.html could not be written ({type(exc).__name__}: {exc}); the run is "
            "complete without it. Write it later with 'deepfuse report RUN'.",
            ReportWarning,
            stacklevel=2,
        )


def _rows(tensors: Mapping[str, Any]) -> int:
    return int(next(iter(tensors.values())).shape[0])


def config_callbacks(trainer: Mapping[str, Any], *, verbose: bool = True) -> list[Any]:
    """``trainer.callbacks`` (names or ``{name: ..., **kwargs}``), ``trainer.early_stopping``
    and ``trainer.time_budget``; ``verbose=False`` silences the last two (search trials)."""
    specs, stop = thaw(list(trainer.get("callbacks") or [])), thaw(trainer.get("early_stopping"))
    budget = trainer.get("time_budget")
    if not specs and not stop and not budget:
        return []
    from deepfuse.training import callbacks as cb

    out = [cb.get(s) for s in specs]
    if stop:
        options = {} if stop is True else dict(stop)
        out.append(cb.EarlyStopping(**{**options, **({} if verbose else {"verbose": False})}))
    if budget:
        out.append(cb.TimeBudget(budget, verbose=verbose))
    if not all(out):
        raise ConfigError("A callback in 'trainer.callbacks' could not be built.")
    return out
