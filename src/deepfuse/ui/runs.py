"""Read-only views of a runs folder for the dashboard: no FastAPI here, only files and dicts.

Every run is read through :class:`deepfuse.run.RunReader` (``config.yaml``, ``metrics.json``,
``history.csv``, ``evaluation.json``, ``report.html``, and while a run trains ``steps.csv`` and
``checkpoints/step-*/state.json``); the dashboard shows what it can and leaves out a file that
is missing or being written. A run is found only by listing the direct children of the runs
folder and comparing names (:func:`find_run`): user input is never joined to a path, and a
symlink that leaves the runs folder is ignored.

One run never breaks the others: a run whose files cannot be read (refused by the read rule of
:mod:`deepfuse.run.reader`, nested too deeply, a config of YAML aliases) is listed with
``"error"`` (the reason) and its readable parts; every value passed on to a page or the JSON API
is bounded first (:func:`bounded`: depth, number of values, string length), so no file makes
the server build, encode or print an unbounded answer. Step rows come a page at a time from a
byte cursor (:func:`live_data`), so polling a run with millions of steps reads only the new rows.

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
from deepfuse.report.generative import sample_grids
from deepfuse.run import (
    CONFIG_FILE,
    METRICS_FILE,
    PARTIAL_SUFFIX,
    REPORT_FILE,
    RunReader,
    finite_number,
)
from deepfuse.run.files import confusion_counts

__all__ = [
    "bounded",
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
#: Bounds of any value shown (config, metrics.json, evaluation tables): nesting depth, number of
#: values and characters per string; what is cut is replaced by a short note.
MAX_DEPTH, MAX_VALUES, MAX_CHARS = 24, 5_000, 2_000
_MAX_REASON = 300


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
def _quiet(read: Callable[[], Any], errors: list[str] | None = None) -> Any:
    """``read()``, or None when the file is missing, corrupt, refused or being written: the
    dashboard shows what it can (a run may be written while it is read). The reason is appended
    to ``errors`` when given."""
    try:
        return read()
    except (UserError, OSError, ValueError, RecursionError, MemoryError) as exc:
        if errors is not None:
            errors.append(_reason(exc))
        return None


def _reason(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, UserError | OSError) else ""
    text = text or f"{type(exc).__name__} while reading the run"
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def bounded(value: Any, *, depth: int = MAX_DEPTH, values: int = MAX_VALUES) -> Any:
    """``value`` (JSON-like) cut to at most ``depth`` levels, ``values`` values in all and
    :data:`MAX_CHARS` characters per string; shared parts (YAML aliases) are counted each time
    they appear, so the result is always small. Cut parts become a note string.

    Example:
        >>> deep = [[[[1]]]]
        >>> bounded(deep, depth=2), bounded(list(range(10)), values=4)
        ([['… (nested deeper)']], [0, 1, 2, '… (7 more)'])
    """
    budget = [values]

    def walk(node: Any, level: int) -> Any:
        budget[0] -= 1
        if isinstance(node, str):
            return node if len(node) <= MAX_CHARS else node[:MAX_CHARS] + "…"
        if not isinstance(node, Mapping | list | tuple):
            return node if node is None or isinstance(node, bool | int | float) else str(node)
        if level >= depth:
            return "… (nested deeper)"
        items = list(node.items()) if isinstance(node, Mapping) else list(enumerate(node))
        out: list[tuple[Any, Any]] = []
        for i, (key, child) in enumerate(items):
            if budget[0] <= 0:
                out.append(("…", f"… ({len(items) - i} more)"))
                break
            out.append(
                (str(key)[:MAX_CHARS] if isinstance(node, Mapping) else key, walk(child, level + 1))
            )
        if isinstance(node, Mapping):
            return dict(out)
        return [v for _, v in out]

    return walk(value, 0)


def _config(run: RunReader, errors: list[str] | None = None) -> Any:
    return _quiet(run.config, errors) if run.file(CONFIG_FILE) is not None else None


def _metrics_json(run: RunReader, errors: list[str] | None = None) -> Any:
    if run.in_progress:
        return None
    return _quiet(lambda: run.metrics() if run.check(METRICS_FILE) else None, errors)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as one ``{"dotted.key": leaf}`` dict (list items by index).

    Example:
        >>> flatten({"trainer": {"optimizer": {"lr": 0.1}, "metrics": ["accuracy"]}})
        {'trainer.optimizer.lr': 0.1, 'trainer.metrics.0': 'accuracy'}
    """
    out: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [(prefix, bounded(tree))]  # bounded: no recursion limit hit
    while stack:
        key, node = stack.pop()
        if isinstance(node, Mapping) and node:
            items = [(f"{key}.{k}" if key else str(k), v) for k, v in node.items()]
        elif isinstance(node, list) and node:
            items = [(f"{key}.{i}" if key else str(i), v) for i, v in enumerate(node)]
        else:
            if key:
                out[key] = node
            continue
        stack.extend(reversed(items))
    return out


def _metrics(metrics: Any) -> dict[str, float | int]:
    """Every number of the test and final-epoch sections of metrics.json, as ``test.accuracy``."""
    out: dict[str, float | int] = {}
    if not isinstance(metrics, Mapping):
        return out
    for group in _METRIC_GROUPS:
        for key, value in flatten(metrics.get(group) or {}, group).items():
            leaf = key.rsplit(".", 1)[-1]
            if leaf in _NOT_METRICS or leaf.endswith("_lr"):  # a GAN's d_optimizer_lr ...
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


def _planned(config: Any) -> float | int | None:
    trainer = config.get("trainer") if isinstance(config, Mapping) else None
    return finite_number(trainer.get("epochs")) if isinstance(trainer, Mapping) else None


def _summary(run: RunReader, errors: list[str] | None = None) -> dict[str, Any]:
    """One row of the runs table; the reasons a file could not be read go to ``error``."""
    errors = [] if errors is None else errors
    config = _config(run, errors)
    metrics = _metrics_json(run, errors)
    if isinstance(metrics, Mapping):
        epochs = finite_number(metrics.get("epochs"))
        task = metrics.get("task")
    else:
        epochs = len(_quiet(run.checkpoint_history, errors) or [])
        task = None
    return {
        "name": run.name,
        "status": run.status,
        "started": _started(run),
        "task": task[:MAX_CHARS] if isinstance(task, str) else None,
        "epochs": epochs,
        "planned_epochs": _planned(config),
        "idle_s": run.idle_seconds(),
        "metrics": _metrics(metrics),
        "report": run.file(REPORT_FILE) is not None,
        "error": "; ".join(dict.fromkeys(errors)) or None,
    }


def _unreadable(run: RunReader, exc: BaseException) -> dict[str, Any]:
    """The row of a run that could not be summarised at all (listed, with the reason)."""
    return {
        "name": run.name,
        "status": run.status,
        "started": None,
        "task": None,
        "epochs": None,
        "planned_epochs": None,
        "idle_s": None,
        "metrics": {},
        "report": False,
        "error": _reason(exc),
    }


def summary(run: RunReader) -> dict[str, Any]:
    """:func:`_summary`, or the row of an unreadable run: one run never fails the list."""
    try:
        return _summary(run)
    except Exception as exc:  # any failure of one run is shown on its row
        return _unreadable(run, exc)


def list_runs(root: str | os.PathLike) -> list[dict[str, Any]]:
    """A summary of every run in ``root``, newest first: name, status, started, task, epochs,
    planned_epochs, idle_s (seconds since a run in progress last wrote), metrics (flattened numbers of metrics.json) and whether a report exists."""
    runs = [summary(run) for run in _entries(Path(root))]
    runs.sort(key=lambda r: (r["started"] or "", r["name"]), reverse=True)
    return runs


# ----------------------------------------------------------------------------- history
def live_data(run: RunReader, offset: int = 0, cursor: str | None = None) -> dict[str, Any]:
    """Training progress of ``run``: step rows after a cursor (for polling clients).

    Returns ``{"name", "status", "offset", "cursor", "more", "restart", "steps", "epochs",
    "planned_epochs"}``. ``steps`` are at most :data:`deepfuse.run.files.MAX_TAIL_ROWS` per-step
    rows (from steps.csv while the run trains, history.csv once it is finished) after
    ``cursor``, read from the byte the cursor names: pass back ``cursor`` and ``offset`` (the
    number of step rows so far) to get only new rows; ``more`` says more rows are ready now
    (``epochs`` is then None: it comes with the last page).
    Without a cursor the first ``offset`` rows are skipped (older clients; this reads the log
    from its start). ``restart`` means the log was cut back (a resumed run) or the run
    finished: the rows start again from the first. ``epochs`` are every finished epoch's
    metrics (history.csv, or the newest checkpoint while the run trains).
    """
    offset = max(0, int(offset))
    errors: list[str] = []
    found = _quiet(lambda: _steps_after(run, offset, cursor), errors)
    page, total = found or ({"steps": [], "cursor": cursor, "more": False, "restart": False}, 0)
    # the epochs once caught up (one read of history.csv, not one per page of a long log)
    epochs = None if page["more"] else bounded(_quiet(run.epochs, errors) or [])
    return {
        "name": run.name,
        "status": run.status,
        "offset": total,
        "cursor": page["cursor"],
        "more": page["more"],
        "restart": page["restart"],
        "steps": page["steps"],
        "epochs": epochs,
        "planned_epochs": _planned(_config(run)),
        "error": "; ".join(dict.fromkeys(errors)) or None,
    }


def _steps_after(run: RunReader, offset: int, cursor: str | None) -> tuple[Any, int]:
    """The page of step rows after ``cursor`` (or after the first ``offset`` rows when there is
    no cursor) and the number of step rows up to its end."""
    if cursor is None and offset:
        page, seen = run.steps_page(), 0
        while seen + len(page["steps"]) <= offset and page["more"]:  # skip whole pages
            seen += len(page["steps"])
            page = run.steps_page(page["cursor"])
        total = seen + len(page["steps"])
        page["steps"] = page["steps"][offset - seen :]
        return page, total
    page = run.steps_page(cursor)
    return page, (0 if page["restart"] else offset) + len(page["steps"])


# ----------------------------------------------------------------------------- one run
def _evaluation(run: RunReader, errors: list[str]) -> dict[str, Any] | None:
    """The parts of evaluation.json the pages show (the curves stay in the file), bounded; a
    confusion matrix whose counts are not a square table of counts is left out with a note."""
    ev = _quiet(lambda: run.evaluation(), errors)
    if not isinstance(ev, Mapping):
        return None
    notes = ev.get("notes") if isinstance(ev.get("notes"), list) else []
    cm = ev.get("confusion_matrix")
    counts = confusion_counts(cm.get("counts")) if isinstance(cm, Mapping) else None
    if isinstance(cm, Mapping) and counts is None:
        notes = [*notes, "The confusion matrix in evaluation.json is not a table of counts."]
    labels = cm.get("labels") if isinstance(cm, Mapping) else None
    metrics = ev.get("metrics") if isinstance(ev.get("metrics"), Mapping) else {}
    return bounded(
        {
            "task": ev.get("task") if isinstance(ev.get("task"), str) else None,
            "n": finite_number(ev.get("n")),
            "metrics": {
                str(k): finite_number(v) for k, v in metrics.items() if finite_number(v) is not None
            },
            "per_class": ev.get("per_class"),
            "confusion_matrix": None
            if counts is None
            else {"labels": labels if isinstance(labels, list) else None, "counts": counts},
            "notes": notes,
        }
    )


def run_detail(run: RunReader) -> dict[str, Any]:
    """Everything the run page shows: summary, config, metrics.json, per-epoch history and the
    first page of per-step rows, the evaluation summary (with the confusion matrix), the epochs
    with a sample grid and whether a report exists. Every part is bounded; a part that cannot be read is None, with the reason
    in ``error``."""
    live = live_data(run)
    errors: list[str] = [live["error"]] if live["error"] else []
    evaluation = None if run.in_progress else _evaluation(run, errors)
    return {
        **_summary(run, errors),
        "config": bounded(_config(run)),
        "metrics_json": bounded(_metrics_json(run)),
        "history": {
            "epochs": live["epochs"]
            if live["epochs"] is not None
            else bounded(_quiet(run.epochs) or []),
            "steps": live["steps"],
            "cursor": live["cursor"],
            "more": live["more"],
        },
        "evaluation": evaluation,
        # epochs with a sample grid (task: generate), served by /runs/{name}/samples/{file}
        "samples": bounded(_quiet(lambda: [e for e, _ in sample_grids(run)], errors) or []),
        "error": "; ".join(dict.fromkeys(errors)) or None,
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
    flat = {name: flatten(cfg or {}) for name, cfg in configs.items()}  # bounded by flatten
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
