"""Reading a run folder: :class:`RunReader`, one typed accessor per file of the run layout.

Everything that reads a run (``deepfuse info``/``evaluate``/``predict``/``report``/``plot``, the
dashboard) reads it here. Files are found by their fixed names (:mod:`deepfuse.run.layout`,
never user input); a symlink that leads out of the run folder counts as missing. A required
file that is missing, and any file that is corrupt, raises a :class:`~deepfuse._utils.errors.DataError`
naming the file and what was expected; optional files (``evaluation.json``,
``histograms.json``, ``cv.json``, ``report.html``) give ``None`` when absent.

Example:
    >>> import tempfile, pathlib
    >>> run = pathlib.Path(tempfile.mkdtemp()) / "demo-20260101-120000"
    >>> run.mkdir()
    >>> _ = (run / "metrics.json").write_text('{"test": {"accuracy": 0.9}, "epochs": 1}')
    >>> _ = (run / "history.csv").write_text("epoch,loss,val_loss\\n1,0.5,0.6\\n")
    >>> reader = RunReader(run)
    >>> reader.metrics()["test"], reader.history(), reader.evaluation()
    ({'accuracy': 0.9}, {'loss': [0.5], 'val_loss': [0.6]}, None)
    >>> reader.model_meta()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    deepfuse._utils.errors.DataError: The run '...demo-20260101-120000' has no model.json (the model's architecture and preprocessing). ...
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, TypedDict

from deepfuse._utils.errors import DataError, UserError
from deepfuse._utils.io import read_json
from deepfuse.run.files import (
    STEP_COLUMNS,
    csv_rows,
    finite_number,
    read_histograms,
    read_history,
    state_history,
)
from deepfuse.run.layout import (
    CHECKPOINT_PREFIX,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    CV_FILE,
    HISTOGRAMS_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PARTIAL_SUFFIX,
    REPORT_FILE,
    REQUIRED_RUN_FILES,
    RUN_FILES,
    STEPS_FILE,
    WEIGHTS_FILE,
    evaluation_file,
)
from deepfuse.run.writer import partial_of

__all__ = ["RunReader", "StepRow", "check_run_dir", "read_run"]

#: What each file of the layout holds, for error messages.
_WHAT = {
    CONFIG_FILE: "the resolved config",
    MODEL_FILE: "the model's architecture and preprocessing",
    METRICS_FILE: "the run's metrics",
    HISTORY_FILE: "the training history",
    WEIGHTS_FILE: "the model's weights",
}


class StepRow(TypedDict):
    """One optimizer step of a run (:meth:`RunReader.steps`); a value not recorded is None."""

    epoch: int | float | None
    step: int | float | None
    global_step: int | float
    loss: int | float | None
    lr: int | float | None


_STEP_KEYS = tuple(StepRow.__annotations__)


class RunReader:
    """One run folder (finished, or ``.partial`` while it trains), read file by file.

    Attributes:
        path: The folder.
        name: Its name without ``.partial``.
        in_progress: Whether it is a ``.partial`` folder (still training, or stopped).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.in_progress = self.path.name.endswith(PARTIAL_SUFFIX)
        self.name = self.path.name.removesuffix(PARTIAL_SUFFIX)

    def __repr__(self) -> str:
        return f"RunReader({self.name!r}, {self.status!r})"

    @property
    def status(self) -> str:
        """``"in progress"`` for a ``.partial`` folder, else ``"finished"``."""
        return "in progress" if self.in_progress else "finished"

    # ------------------------------------------------------------------------- files
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

    def _require(self, name: str) -> Path:
        path = self.file(name)
        if path is None:
            raise DataError(
                f"The run '{self.path}' has no {name} ({_WHAT.get(name, 'a run file')}). "
                "Pass a folder written by 'deepfuse train'; if it is one, it is damaged."
            )
        return path

    def _json(self, name: str, *, required: bool) -> Any:
        path = self._require(name) if required else self.file(name)
        if path is None:
            return None
        doc = read_json(path, what="run file")
        if not isinstance(doc, dict):
            raise DataError(
                f"The run file '{path}' holds a JSON {type(doc).__name__}; expected an object. "
                "The run directory may be damaged."
            )
        return doc

    @property
    def weights_path(self) -> Path:
        """``model.safetensors`` (may not exist yet while the run trains)."""
        return self.path / WEIGHTS_FILE

    @property
    def model_path(self) -> Path:
        """``model.json`` (may not exist yet while the run trains)."""
        return self.path / MODEL_FILE

    def report_path(self) -> Path | None:
        """``report.html`` if the run has one."""
        return self.file(REPORT_FILE)

    # ------------------------------------------------------------------------- documents
    def config_text(self) -> str:
        """``config.yaml`` as written (``""`` when absent)."""
        path = self.file(CONFIG_FILE)
        return path.read_text(encoding="utf-8") if path is not None else ""

    def config(self) -> dict[str, Any]:
        """The resolved config (``config.yaml``); ConfigError if it is not valid YAML."""
        from deepfuse.config import load_config

        return load_config(self._require(CONFIG_FILE))

    def metrics(self) -> dict[str, Any]:
        """``metrics.json``: ``test``, ``final_epoch``, ``epochs``, ``task``, ``classes``,
        ``rows``, timings, ``data`` and ``environment`` (see :mod:`deepfuse.run.facts`)."""
        return self._json(METRICS_FILE, required=True)

    def model_meta(self) -> dict[str, Any]:
        """``model.json``: architecture, input spec, preprocessing, parameter count."""
        return self._json(MODEL_FILE, required=True)

    def evaluation(self, data: str | None = None) -> dict[str, Any] | None:
        """``evaluation.json`` (or ``evaluation-<stem>.json`` of another file), or None."""
        return self._json(evaluation_file(data), required=False)

    def cv(self) -> dict[str, Any] | None:
        """``cv.json`` of a ``deepfuse cv`` folder, or None."""
        return self._json(CV_FILE, required=False)

    def histograms(self) -> dict[str, Any] | None:
        """``histograms.json`` (checked like :func:`read_histograms`), or None."""
        path = self.file(HISTOGRAMS_FILE)
        return None if path is None else read_histograms(path)

    # ------------------------------------------------------------------------- history
    def history(self) -> dict[str, list[float]]:
        """Per-epoch values of ``history.csv`` as columns (see :func:`read_history`)."""
        return read_history(self._require(HISTORY_FILE))

    def epochs(self) -> list[dict[str, Any]]:
        """One dict of numbers (or None) per finished epoch: from history.csv, or while the run
        trains from its newest valid checkpoint (the only place its epochs are until then)."""
        path = self.file(HISTORY_FILE)
        if path is None:
            return self.checkpoint_history() if self.in_progress else []
        header, rows = csv_rows(path, complete_only=False)
        keys = [k for k in header if k not in STEP_COLUMNS]
        if "global_step" not in header:
            return [{k: finite_number(row.get(k)) for k in keys} for row in rows]
        out: list[dict[str, Any]] = []
        for i, row in enumerate(rows):  # per-step form: an epoch's values are on its last row
            last = i + 1 == len(rows) or rows[i + 1].get("epoch") != row.get("epoch")
            values = {k: finite_number(row.get(k)) for k in keys}
            if last and any(values.get(k) is not None for k in keys if k not in ("loss", "lr")):
                out.append(values)
        return out

    def steps(self) -> list[StepRow]:
        """Per-step rows ``{epoch, step, global_step, loss, lr}`` (numbers or None): from
        steps.csv while the run trains (a line being written is left out), else history.csv."""
        path = self.file(STEPS_FILE) if self.in_progress else None
        live = path is not None
        header, rows = csv_rows(path or self.file(HISTORY_FILE), complete_only=live)
        if "global_step" not in header:
            return []  # one row per epoch: no step rows
        out: list[StepRow] = []
        for row in rows:
            item = {k: finite_number(row.get(k)) for k in _STEP_KEYS}
            if item["global_step"] is not None:
                out.append(StepRow(**item))  # type: ignore[typeddict-item]
        return out

    def idle_seconds(self) -> float | None:
        """Seconds since a run in progress last wrote anything (its folder, ``steps.csv`` or a
        checkpoint); ``None`` for a finished run. A live run flushes ``steps.csv`` every second,
        so a long silence means the process died or hangs."""
        if not self.in_progress:
            return None
        newest = 0.0
        for path in (self.path, self.path / STEPS_FILE, self.path / CHECKPOINTS_DIR):
            try:
                newest = max(newest, path.stat().st_mtime)
            except OSError:
                continue
        return max(0.0, time.time() - newest) if newest else None

    # ------------------------------------------------------------------------- checkpoints
    def checkpoints(self) -> list[Path]:
        """The ``checkpoints/step-*`` folders, oldest first (symlinks left out)."""
        folder = self.path / CHECKPOINTS_DIR
        n = len(CHECKPOINT_PREFIX)
        try:
            if folder.is_symlink():  # only the run's own files are read
                return []
            found = [
                p
                for p in folder.iterdir()
                if p.name.startswith(CHECKPOINT_PREFIX) and p.name[n:].isdigit()
                and not p.is_symlink()
            ]  # fmt: skip
        except OSError:
            return []
        return sorted(found, key=lambda p: int(p.name[n:]))

    def checkpoint_history(self) -> list[dict[str, Any]]:
        """Per-epoch history from the newest checkpoint whose state.json matches its manifest.

        Only the two JSON files are read (never the tensors, never with torch): a partial run's
        validation metrics exist only there until the run finishes.
        """
        for folder in reversed(self.checkpoints()):
            history = state_history(folder)
            if history is not None:
                return history
        return []

    # ------------------------------------------------------------------------- summary
    def info(self) -> dict[str, Any]:
        """A JSON-able summary (what ``deepfuse info RUN`` prints): config, model, metrics, files."""
        meta, metrics = self.model_meta(), self.metrics()
        arch = meta.get("architecture") or {}
        return {
            "run_dir": str(self.path.resolve()),
            "name": meta.get("name"),
            "model": {
                "kind": arch.get("kind"),
                "type": arch.get("name") or arch.get("kind"),
                "num_parameters": meta.get("num_parameters"),
                "inputs": meta.get("input_spec"),
            },
            "task": metrics.get("task"),
            "classes": metrics.get("classes"),
            "test": metrics.get("test"),
            "final_epoch": metrics.get("final_epoch"),
            "epochs": metrics.get("epochs"),
            "train_time_s": metrics.get("train_time_s"),
            "rows": metrics.get("rows"),
            "config": self.config(),
            "files": [f for f in RUN_FILES if (self.path / f).exists()],
        }


def check_run_dir(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path if it is a finished run directory, else raise a UserError.

    Example:
        >>> check_run_dir("/no/such/run")
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.UserError: Run directory '/no/such/run' does not exist. Pass a folder written by 'deepfuse train' (runs/<name>-<timestamp>).
    """
    run = Path(path)
    if partial_of(run) is not None and not (run / METRICS_FILE).is_file():
        raise UserError(
            f"'{path}' is an unfinished run (still training, or stopped). Finish it with "
            f"'deepfuse train --resume {path}'."
        )
    if not run.is_dir():
        raise UserError(
            f"Run directory '{path}' does not exist. Pass a folder written by "
            "'deepfuse train' (runs/<name>-<timestamp>)."
        )
    missing = [f for f in REQUIRED_RUN_FILES if not (run / f).is_file()]
    if missing:
        raise UserError(
            f"'{path}' is not a complete deepfuse run: missing {', '.join(missing)}. "
            "Pass a folder written by 'deepfuse train'."
        )
    return run


def read_run(path: str | os.PathLike) -> RunReader:
    """A :class:`RunReader` of the finished run ``path`` (checked by :func:`check_run_dir`).

    Example:
        >>> read_run("/no/such/run")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.UserError: Run directory '/no/such/run' does not exist. ...
    """
    return RunReader(check_run_dir(path))


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
