"""Run directories: built in a hidden temp folder, renamed into place only when complete.

A run that crashes (or is killed) leaves at most a hidden ``runs/.tmp-<name>-XXXX`` folder,
never a ``runs/<name>-<timestamp>`` that looks finished.

Example:
    >>> import tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> with RunWriter(root, "demo") as tmp:
    ...     _ = (tmp / "metrics.json").write_text("{}")
    >>> os.listdir(root)[0].startswith("demo-")
    True
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepfuse._utils.errors import UserError
from deepfuse._utils.io import atomic_write_text

__all__ = ["RUN_FILES", "RunWriter", "check_run_dir", "history_csv", "read_json"]

#: Files every finished run has (see docs/internals.md, "Run directory").
RUN_FILES = ("config.yaml", "model.safetensors", "model.json", "history.csv", "metrics.json")
DEFAULT_RUNS_DIR = "runs"


class RunWriter:
    """Context manager: yields a temp folder; on success renames it to ``<root>/<name>-<time>``.

    On an exception the temp folder is deleted and the exception propagates.

    Attributes:
        run_dir: The final path (set after a successful exit).
    """

    def __init__(self, root: str | os.PathLike | None, name: str) -> None:
        self.root = Path(root if root is not None else DEFAULT_RUNS_DIR)
        self.name = name
        self.tmp: Path | None = None
        self.run_dir: Path | None = None

    def __enter__(self) -> Path:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(
                f"Cannot create the runs folder '{self.root}': {exc.strerror}. "
                "Choose another folder with --out."
            ) from None
        self.tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{self.name}-", dir=self.root))
        return self.tmp

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        _relax_permissions(self.tmp)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for attempt in range(1000):
            suffix = "" if attempt == 0 else f"-{attempt + 1}"
            final = self.root / f"{self.name}-{stamp}{suffix}"
            try:
                # os.rename onto an existing non-empty folder fails: no run is ever overwritten.
                if final.exists():
                    continue
                os.rename(self.tmp, final)
            except OSError:
                if final.exists():
                    continue
                raise
            self.run_dir = final.resolve()
            return
        raise UserError(f"Too many runs named '{self.name}-{stamp}' in '{self.root}'.")


def _relax_permissions(folder: Path) -> None:
    """mkdtemp/mkstemp create 0700/0600 entries; give the run the usual umask-based modes."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def check_run_dir(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path if it is a finished run directory, else raise a UserError.

    Example:
        >>> check_run_dir("/no/such/run")
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.UserError: Run directory '/no/such/run' does not exist. Pass a folder written by 'deepfuse train' (runs/<name>-<timestamp>).
    """
    run = Path(path)
    if not run.is_dir():
        raise UserError(
            f"Run directory '{path}' does not exist. Pass a folder written by "
            "'deepfuse train' (runs/<name>-<timestamp>)."
        )
    missing = [f for f in RUN_FILES if not (run / f).is_file()]
    if missing:
        raise UserError(
            f"'{path}' is not a complete deepfuse run: missing {', '.join(missing)}. "
            "Pass a folder written by 'deepfuse train'."
        )
    return run


def read_json(path: Path) -> Any:
    """Read a JSON file of a run, with a clear error if it is corrupt."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"Cannot read '{path}': {exc}. The run directory may be damaged.") from None


def history_csv(history: Mapping[str, list[float]], path: Path) -> None:
    """Write ``{"loss": [...], "val_loss": [...]}`` as ``epoch,loss,val_loss`` rows (atomically)."""
    keys = list(history)
    rows = max((len(v) for v in history.values()), default=0)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for i in range(rows):
        writer.writerow([i + 1, *(_cell(history[k], i) for k in keys)])
    atomic_write_text(path, buf.getvalue())


def _cell(values: list[Any], i: int) -> Any:
    if i >= len(values):
        return ""
    v = values[i]
    return repr(float(v)) if isinstance(v, float | int) else v
