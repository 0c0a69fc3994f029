"""Read-only views of a runs folder for the dashboard: no FastAPI here, only files and dicts.

Every run is read through :class:`deepfuse.run.RunReader` (``config.yaml``, ``metrics.json``,
``history.csv``, ``evaluation.json``, ``report.html``, and while a run trains ``steps.csv`` and
``checkpoints/step-*/state.json``); the dashboard shows what it can and leaves out a file that
is missing or being written. A run is found only by listing the direct children of the runs
folder and comparing names (:func:`find_run`): user input is never joined to a path, and a
symlink that leaves the runs folder is ignored.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> run = root / "demo-20260101-120000"
    >>> run.mkdir()
    >>> _ = (run / "config.yaml").write_text("trainer: {epochs: 1}\\n")
    >>> _ = (run / "metrics.json").write_text('{"test": {"accuracy": 0.9}, "epochs": 1}')
    >>> [(r["name"], r["status"], r["metrics"]) for r in list_runs(root)]
    [('demo-20260101-120000', 'finished', {'test.accuracy': 0.9})]
    >>> find_run(root, "../etc") is None
    True
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from deepfuse._utils.errors import UserError
from deepfuse.run import (
    CONFIG_FILE,
    EVALUATION_FILE,
    METRICS_FILE,
    PARTIAL_SUFFIX,
    REPORT_FILE,
    RunReader,
    finite_number,
)

__all__ = [
    "config_diff",
    "find_run",
    "flatten",
    "list_runs",
    "live_data",
    "run_detail",
    "safe_name",
]

_STAMP = re.compile(r"-(\d{8})-(\d{6})(?:-\d+)?$")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")
#: Metric groups of metrics.json shown as columns, in this order.
_METRIC_GROUPS = ("test", "final_epoch")
#: Numbers of an epoch's logs that are not scores (the config diff shows the learning rate).
_NOT_METRICS = ("lr", "time")


# ----------------------------------------------------------------------------- finding runs
def safe_name(name: str) -> bool:
    """Whether ``name`` can be a run name: one path component, no ``..``, no hidden names.

    Example:
        >>> [safe_name(n) for n in ["mlp-20260101-120000", "..", "a/b", "/etc", ".tmp-x", "%2e%2e"]]
        [True, False, False, False, False, False]
    """
    return bool(_NAME.match(name)) and ".." not in name


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _entries(root: Path) -> Iterator[RunReader]:
    """The run folders directly in ``root`` (hidden temp folders and outside symlinks skipped)."""
    real_root = root.resolve()
    try:
        children = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in children:
        if entry.name.startswith(".") or not safe_name(entry.name):
            continue
        path = root / entry.name
        try:
            if entry.is_symlink() and not _inside(path.resolve(), real_root):
                continue  # a link that leaves the runs folder is not a run of it
            if not path.is_dir() or not (path / CONFIG_FILE).is_file():
                continue
        except OSError:
            continue
        yield RunReader(path)


def find_run(root: str | os.PathLike, name: str) -> RunReader | None:
    """The run called ``name`` in ``root`` (with or without ``.partial``), or ``None``.

    The name is compared with the listed folder names; it is never used to build a path. A
    finished folder wins over a ``.partial`` one of the same name.
    """
    if not isinstance(name, str) or not safe_name(name):
        return None
    name = name.removesuffix(PARTIAL_SUFFIX)
    found = [run for run in _entries(Path(root)) if run.name == name]
    found.sort(key=lambda run: run.in_progress)
    return found[0] if found else None


# ----------------------------------------------------------------------------- reading files
def _quiet(read: Callable[[], Any]) -> Any:
    """``read()``, or None when the file is missing, corrupt or being written: the dashboard
    shows what it can (a run may be written while it is read)."""
    try:
        return read()
    except (UserError, OSError, ValueError):
        return None


def _config(run: RunReader) -> Any:
    return _quiet(run.config) if run.file(CONFIG_FILE) is not None else None


def _metrics_json(run: RunReader) -> Any:
    if run.in_progress or run.file(METRICS_FILE) is None:
        return None
    return _quiet(run.metrics)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as one ``{"dotted.key": leaf}`` dict (list items by index).

    Example:
        >>> flatten({"trainer": {"optimizer": {"lr": 0.1}, "metrics": ["accuracy"]}})
        {'trainer.optimizer.lr': 0.1, 'trainer.metrics.0': 'accuracy'}
    """
    out: dict[str, Any] = {}
    if isinstance(tree, Mapping) and tree:
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(tree, list) and tree:
        for i, value in enumerate(tree):
            out.update(flatten(value, f"{prefix}.{i}" if prefix else str(i)))
    elif prefix:
        out[prefix] = tree
    return out


def _metrics(metrics: Any) -> dict[str, float | int]:
    """Every number of the test and final-epoch sections of metrics.json, as ``test.accuracy``."""
    out: dict[str, float | int] = {}
    if not isinstance(metrics, Mapping):
        return out
    for group in _METRIC_GROUPS:
        for key, value in flatten(metrics.get(group) or {}, group).items():
            if key.rsplit(".", 1)[-1] in _NOT_METRICS:
                continue
            number = finite_number(value)
            if number is not None:
                out[key] = number
    train_time = finite_number(metrics.get("train_time_s"))
    if train_time is not None:
        out["train_time_s"] = train_time
    return out


def _started(run: RunReader) -> str | None:
    """The run's start as ISO time, from the ``-YYYYMMDD-HHMMSS`` stamp of its name or the
    config's modification time."""
    match = _STAMP.search(run.name)
    if match:
        day, hour = match.groups()
        return f"{day[:4]}-{day[4:6]}-{day[6:]} {hour[:2]}:{hour[2:4]}:{hour[4:]}"
    try:
        mtime = (run.path / CONFIG_FILE).stat().st_mtime
    except OSError:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(mtime))


def _summary(run: RunReader) -> dict[str, Any]:
    config = _config(run) or {}
    metrics = _metrics_json(run)
    trainer = config.get("trainer") if isinstance(config, Mapping) else None
    planned = finite_number((trainer or {}).get("epochs")) if isinstance(trainer, Mapping) else None
    if isinstance(metrics, Mapping):
        epochs = finite_number(metrics.get("epochs"))
        task = metrics.get("task")
    else:
        epochs = len(run.checkpoint_history())
        task = None
    return {
        "name": run.name,
        "status": run.status,
        "started": _started(run),
        "task": task if isinstance(task, str) else None,
        "epochs": epochs,
        "planned_epochs": planned,
        "idle_s": run.idle_seconds(),
        "metrics": _metrics(metrics),
        "report": run.file(REPORT_FILE) is not None,
    }


def list_runs(root: str | os.PathLike) -> list[dict[str, Any]]:
    """A summary of every run in ``root``, newest first: name, status, started, task, epochs,
    planned_epochs, idle_s (seconds since a run in progress last wrote), metrics (flattened numbers of metrics.json) and whether a report exists."""
    runs = [_summary(run) for run in _entries(Path(root))]
    runs.sort(key=lambda r: (r["started"] or "", r["name"]), reverse=True)
    return runs


# ----------------------------------------------------------------------------- history
def live_data(run: RunReader, offset: int = 0) -> dict[str, Any]:
    """Training progress of ``run`` from step row ``offset`` on (for polling clients).

    Returns ``{"status", "offset", "steps", "epochs", "planned_epochs"}``: ``steps`` are the
    per-step rows after ``offset`` (from steps.csv while the run trains, history.csv once it is
    finished), ``offset`` the number of step rows so far (pass it back to get only new ones),
    ``epochs`` every finished epoch's metrics (history.csv, or the newest checkpoint while the
    run trains).
    """
    offset = max(0, int(offset))
    steps = run.steps()
    epochs = run.epochs()
    config = _config(run) or {}
    trainer = config.get("trainer") if isinstance(config, Mapping) else None
    return {
        "name": run.name,
        "status": run.status,
        "offset": len(steps),
        "steps": steps[offset:],
        "epochs": epochs,
        "planned_epochs": finite_number(trainer.get("epochs"))
        if isinstance(trainer, Mapping)
        else None,
    }


# ----------------------------------------------------------------------------- one run
def _evaluation(run: RunReader) -> dict[str, Any] | None:
    """The parts of evaluation.json the pages show (the curves stay in the file)."""
    ev = _quiet(run.evaluation) if run.file(EVALUATION_FILE) is not None else None
    if not isinstance(ev, Mapping):
        return None
    cm = ev.get("confusion_matrix")
    if isinstance(cm, Mapping):
        cm = {"labels": cm.get("labels"), "counts": cm.get("counts")}
    else:
        cm = None
    return {
        "task": ev.get("task"),
        "n": ev.get("n"),
        "metrics": {
            k: v for k, v in (ev.get("metrics") or {}).items() if finite_number(v) is not None
        },
        "per_class": ev.get("per_class"),
        "confusion_matrix": cm,
        "notes": ev.get("notes") or [],
    }


def run_detail(run: RunReader) -> dict[str, Any]:
    """Everything the run page shows: summary, config, metrics.json, per-epoch and per-step
    history, the evaluation summary (with the confusion matrix) and whether a report exists."""
    live = live_data(run)
    return {
        **_summary(run),
        "config": _config(run),
        "metrics_json": _metrics_json(run),
        "history": {"epochs": live["epochs"], "steps": live["steps"]},
        "evaluation": None if run.in_progress else _evaluation(run),
    }


def config_diff(configs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Keys whose values differ between the configs (flattened to dotted keys).

    Returns one ``{"key", "values": {run: value or None}, "missing": [runs without the key]}``
    per differing key, sorted by key.

    Example:
        >>> a = {"trainer": {"optimizer": {"lr": 0.1}, "epochs": 2}}
        >>> b = {"trainer": {"optimizer": {"lr": 0.01}, "epochs": 2, "seed": 0}}
        >>> [(d["key"], d["values"], d["missing"]) for d in config_diff({"a": a, "b": b})]
        [('trainer.optimizer.lr', {'a': 0.1, 'b': 0.01}, []), ('trainer.seed', {'a': None, 'b': 0}, ['a'])]
    """
    flat = {name: flatten(cfg or {}) for name, cfg in configs.items()}
    keys = sorted({k for f in flat.values() for k in f})
    out = []
    for key in keys:
        present = [name for name in flat if key in flat[name]]
        values = {name: flat[name].get(key) for name in flat}
        distinct = {json.dumps(flat[n][key], sort_keys=True, default=str) for n in present}
        if len(present) < len(flat) or len(distinct) > 1:
            missing = [name for name in flat if key not in flat[name]]
            out.append({"key": key, "values": values, "missing": missing})
    return out
