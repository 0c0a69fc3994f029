"""Read-only views of a runs folder for the dashboard: no FastAPI here, only files and dicts.

Everything reads the run-directory contract (``config.yaml``, ``metrics.json``, ``history.csv``,
``evaluation.json``, ``report.html``, and while a run trains ``steps.csv`` and
``checkpoints/step-*/state.json``). A run is found only by listing the direct children of the
runs folder and comparing names (:func:`find_run`): user input is never joined to a path, and a
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

import csv
import hashlib
import io
import json
import math
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "PARTIAL_SUFFIX",
    "Run",
    "config_diff",
    "find_run",
    "flatten",
    "list_runs",
    "live_data",
    "run_detail",
    "safe_name",
]

PARTIAL_SUFFIX = ".partial"  # same as deepfuse.api.rundir (not imported: it pulls in torch)
STEPS_FILE = "steps.csv"
_STAMP = re.compile(r"-(\d{8})-(\d{6})(?:-\d+)?$")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")
#: Metric groups of metrics.json shown as columns, in this order.
_METRIC_GROUPS = ("test", "final_epoch")
#: Numbers of an epoch's logs that are not scores (the config diff shows the learning rate).
_NOT_METRICS = ("lr", "time")


class Run:
    """One run folder: ``name`` (without ``.partial``), ``path`` and whether it still trains."""

    def __init__(self, name: str, path: Path, in_progress: bool) -> None:
        self.name = name
        self.path = path
        self.in_progress = in_progress

    def idle_seconds(self) -> float | None:
        """Seconds since a run in progress last wrote anything (its folder, ``steps.csv`` or a
        checkpoint); ``None`` for a finished run. A live run flushes ``steps.csv`` every second,
        so a long silence means the process died or hangs."""
        if not self.in_progress:
            return None
        newest = 0.0
        for path in (self.path, self.path / "steps.csv", self.path / "checkpoints"):
            try:
                newest = max(newest, path.stat().st_mtime)
            except OSError:
                continue
        return max(0.0, time.time() - newest) if newest else None

    @property
    def status(self) -> str:
        """``"in progress"`` for a ``.partial`` folder, else ``"finished"``."""
        return "in progress" if self.in_progress else "finished"

    def file(self, name: str) -> Path | None:
        """The run's own file ``name`` (a fixed name, never user input) if it is a regular file
        inside the run folder; a symlink leading out of the run is refused (``None``)."""
        path = self.path / name
        try:
            if not path.is_file():
                return None
            if path.is_symlink() and not _inside(path.resolve(), self.path.resolve()):
                return None
        except OSError:
            return None
        return path

    def __repr__(self) -> str:
        return f"Run({self.name!r}, {self.status!r})"


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


def _entries(root: Path) -> Iterator[Run]:
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
            if not path.is_dir() or not (path / "config.yaml").is_file():
                continue
        except OSError:
            continue
        in_progress = entry.name.endswith(PARTIAL_SUFFIX)
        name = entry.name[: -len(PARTIAL_SUFFIX)] if in_progress else entry.name
        yield Run(name, path, in_progress)


def find_run(root: str | os.PathLike, name: str) -> Run | None:
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
def _read_json(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_yaml(path: Path | None) -> Any:
    if path is None:
        return None
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def _number(value: Any) -> float | int | None:
    """A finite number as int/float, else ``None`` (JSON has no NaN)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)  # step and epoch numbers stay ints
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


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
            number = _number(value)
            if number is not None:
                out[key] = number
    train_time = _number(metrics.get("train_time_s"))
    if train_time is not None:
        out["train_time_s"] = train_time
    return out


def _started(run: Run) -> str | None:
    """The run's start as ISO time, from the ``-YYYYMMDD-HHMMSS`` stamp of its name or the
    config's modification time."""
    match = _STAMP.search(run.name)
    if match:
        day, hour = match.groups()
        return f"{day[:4]}-{day[4:6]}-{day[6:]} {hour[:2]}:{hour[2:4]}:{hour[4:]}"
    try:
        mtime = (run.path / "config.yaml").stat().st_mtime
    except OSError:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(mtime))


def _summary(run: Run) -> dict[str, Any]:
    config = _read_yaml(run.file("config.yaml")) or {}
    metrics = _read_json(run.file("metrics.json")) if not run.in_progress else None
    trainer = config.get("trainer") if isinstance(config, Mapping) else None
    planned = _number((trainer or {}).get("epochs")) if isinstance(trainer, Mapping) else None
    if isinstance(metrics, Mapping):
        epochs = _number(metrics.get("epochs"))
        task = metrics.get("task")
    else:
        epochs = len(_checkpoint_history(run))
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
        "report": run.file("report.html") is not None,
    }


def list_runs(root: str | os.PathLike) -> list[dict[str, Any]]:
    """A summary of every run in ``root``, newest first: name, status, started, task, epochs,
    planned_epochs, idle_s (seconds since a run in progress last wrote), metrics (flattened numbers of metrics.json) and whether a report exists."""
    runs = [_summary(run) for run in _entries(Path(root))]
    runs.sort(key=lambda r: (r["started"] or "", r["name"]), reverse=True)
    return runs


# ----------------------------------------------------------------------------- history
def _csv_rows(path: Path | None, *, complete_only: bool) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file; with ``complete_only`` a last line without its newline
    (being written right now) is left out."""
    if path is None:
        return [], []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [], []
    if complete_only and text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


_STEP_KEYS = ("epoch", "step", "global_step", "loss", "lr")


def _steps(header: list[str], rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Per-step rows ``{epoch, step, global_step, loss, lr}`` (numbers) of steps/history CSV."""
    if "global_step" not in header:
        return []  # one row per epoch: no step rows
    out = []
    for row in rows:
        item = {k: _number(row.get(k)) for k in _STEP_KEYS}
        if item["global_step"] is not None:
            out.append(item)
    return out


def _epochs_from_history(header: list[str], rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One dict per epoch from history.csv (per-step form: the last row of each epoch)."""
    keys = [k for k in header if k not in ("epoch", "step", "global_step")]
    if "global_step" not in header:
        return [{k: _number(row.get(k)) for k in keys} for row in rows]
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        last = i + 1 == len(rows) or rows[i + 1].get("epoch") != row.get("epoch")
        values = {k: _number(row.get(k)) for k in keys}
        if last and any(values.get(k) is not None for k in keys if k not in ("loss", "lr")):
            out.append(values)
    return out


_STATE_CACHE: dict[tuple[str, int, int], list[dict[str, Any]]] = {}


def _checkpoint_history(run: Run) -> list[dict[str, Any]]:
    """Per-epoch history from the newest checkpoint whose state.json matches its manifest.

    Only the two JSON files are read (never the tensors, never with torch): a partial run's
    validation metrics exist only there until the run finishes.
    """
    folder = run.path / "checkpoints"
    try:
        if folder.is_symlink():  # only the run's own files are read
            return []
        found = [
            p
            for p in folder.iterdir()
            if p.name.startswith("step-") and p.name[5:].isdigit() and not p.is_symlink()
        ]
    except OSError:
        return []
    for path in sorted(found, key=lambda p: int(p.name[5:]), reverse=True):
        history = _state_history(path)
        if history is not None:
            return history
    return []


def _state_history(folder: Path) -> list[dict[str, Any]] | None:
    state, manifest = folder / "state.json", folder / "manifest.json"
    try:
        if state.is_symlink() or manifest.is_symlink():
            return None
        stat = state.stat()
    except OSError:
        return None
    key = (str(state), stat.st_size, stat.st_mtime_ns)
    if key in _STATE_CACHE:
        return _STATE_CACHE[key]
    entry = (_read_json(manifest) or {}).get("files", {}).get("state.json")
    try:
        data = state.read_bytes()
    except OSError:
        return None
    if (
        not isinstance(entry, Mapping)
        or entry.get("size") != len(data)
        or entry.get("sha256") != hashlib.sha256(data).hexdigest()
    ):
        return None  # being written, truncated or altered: try the previous checkpoint
    try:
        doc = json.loads(data)
        history = doc["state"]["trainer"]["history"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(history, list):
        return None
    clean = [
        {str(k): _number(v) for k, v in epoch.items()}
        for epoch in history
        if isinstance(epoch, Mapping)
    ]
    if len(_STATE_CACHE) > 256:
        _STATE_CACHE.clear()
    _STATE_CACHE[key] = clean
    return clean


def live_data(run: Run, offset: int = 0) -> dict[str, Any]:
    """Training progress of ``run`` from step row ``offset`` on (for polling clients).

    Returns ``{"status", "offset", "steps", "epochs", "planned_epochs"}``: ``steps`` are the
    per-step rows after ``offset`` (from steps.csv while the run trains, history.csv once it is
    finished), ``offset`` the number of step rows so far (pass it back to get only new ones),
    ``epochs`` every finished epoch's metrics (history.csv, or the newest checkpoint while the
    run trains).
    """
    offset = max(0, int(offset))
    if run.in_progress:
        header, rows = _csv_rows(run.file(STEPS_FILE), complete_only=True)
        steps = _steps(header, rows)
        epochs = _checkpoint_history(run)
    else:
        header, rows = _csv_rows(run.file("history.csv"), complete_only=False)
        steps = _steps(header, rows)
        epochs = _epochs_from_history(header, rows)
    config = _read_yaml(run.file("config.yaml")) or {}
    trainer = config.get("trainer") if isinstance(config, Mapping) else None
    return {
        "name": run.name,
        "status": run.status,
        "offset": len(steps),
        "steps": steps[offset:],
        "epochs": epochs,
        "planned_epochs": _number(trainer.get("epochs")) if isinstance(trainer, Mapping) else None,
    }


# ----------------------------------------------------------------------------- one run
def _evaluation(run: Run) -> dict[str, Any] | None:
    """The parts of evaluation.json the pages show (the curves stay in the file)."""
    ev = _read_json(run.file("evaluation.json"))
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
        "metrics": {k: v for k, v in (ev.get("metrics") or {}).items() if _number(v) is not None},
        "per_class": ev.get("per_class"),
        "confusion_matrix": cm,
        "notes": ev.get("notes") or [],
    }


def run_detail(run: Run) -> dict[str, Any]:
    """Everything the run page shows: summary, config, metrics.json, per-epoch and per-step
    history, the evaluation summary (with the confusion matrix) and whether a report exists."""
    live = live_data(run)
    metrics = _read_json(run.file("metrics.json")) if not run.in_progress else None
    return {
        **_summary(run),
        "config": _read_yaml(run.file("config.yaml")),
        "metrics_json": metrics,
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
