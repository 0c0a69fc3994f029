"""Reading a run folder: :class:`RunReader`, one typed accessor per file of the run layout.

Everything that reads a run (``deepfuse info``/``evaluate``/``predict``/``report``/``plot``, the
dashboard, ``train --resume``) reads it here. Files are found by their fixed names
(:mod:`deepfuse.run.layout`, never user input).

**The read rule** (one place: :meth:`RunReader.check`, built on
:func:`deepfuse._utils.safefiles.regular_file`): a run file is read only if it is a *regular
file inside the run folder* (a symlink that leads out of the run counts as missing; a FIFO,
device, socket or folder under a file's name is never opened) and *no larger than its kind's
limit*, checked before a byte is read:

====================  ==========  =====================================================
file                  limit       why
====================  ==========  =====================================================
config.yaml           4 MB        YAML parsing is slow; a resolved config is a few KB
metrics.json, cv.json 16 MB       numbers and facts
model.json            32 MB       architecture and preprocessing (vocabularies)
evaluation*.json      64 MB       curves and per-class tables
histograms.json       64 MB       per-epoch histograms
report.html           64 MB       self-contained page with inline images
manifest.json         1 MB        a checkpoint's file list
state.json            64 MB       trainer state, data position, metric states
history.csv/steps.csv 512 MB      one row per step (the dashboard reads only the tail)
====================  ==========  =====================================================

(:data:`deepfuse.run.files.MAX_BYTES`; any other file: 64 MB.) A loaded ``config.yaml`` also
expands to at most :data:`~deepfuse.run.files.MAX_CONFIG_VALUES` values, so a file of YAML
aliases cannot make a reader (``info``, the dashboard) build or print gigabytes.

A required file that is missing, and any file that is corrupt, refused or nested too deeply,
raises a :class:`~deepfuse._utils.errors.DataError` naming the file and what was expected;
optional files (``evaluation.json``, ``histograms.json``, ``cv.json``, ``report.html``) give
``None`` when absent.

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
from deepfuse._utils.safefiles import OutsideRootError, regular_file
from deepfuse.run.files import (
    MAX_TAIL_ROWS,
    STEP_COLUMNS,
    csv_rows,
    finite_number,
    iter_csv,
    limit_of,
    read_config,
    read_histograms,
    read_history,
    read_tail,
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
    SEARCH_FILE,
    STEPS_FILE,
    WEIGHTS_FILE,
    evaluation_file,
)
from deepfuse.run.writer import partial_of

__all__ = ["RunReader", "StepRow", "StepsPage", "check_run_dir", "read_run"]

#: What each file of the layout holds, for error messages.
_WHAT = {
    CONFIG_FILE: "the resolved config",
    MODEL_FILE: "the model's architecture and preprocessing",
    METRICS_FILE: "the run's metrics",
    HISTORY_FILE: "the training history",
    WEIGHTS_FILE: "the model's weights",
}


class StepRow(TypedDict):
    """One optimizer step of a run (:meth:`RunReader.steps`); a value not recorded is None.
    A custom ``train_step``'s other losses (``d_loss``, ``g_loss``: at most 8) come as extra
    keys of the same kind."""

    epoch: int | float | None
    step: int | float | None
    global_step: int | float
    loss: int | float | None
    lr: int | float | None


_STEP_KEYS = tuple(StepRow.__annotations__)


class StepsPage(TypedDict):
    """Step rows from a cursor on (:meth:`RunReader.steps_page`): ``cursor`` (pass it back to
    get the rows after these), ``more`` (whether more rows are ready now) and ``restart``
    (the cursor given was stale: the log was cut back or the run finished, rows start at 0)."""

    steps: list[StepRow]
    cursor: str
    more: bool
    restart: bool


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
    def check(self, name: str) -> Path | None:
        """The run's own file ``name`` (a fixed name of the layout, or ``checkpoints/...``) if
        the read rule allows it (see the module docstring), ``None`` when it does not exist
        (a symlink leading out of the run counts as missing: it is not the run's file).

        Raises:
            DataError: it exists but is not a regular file, or is over its limit.
        """
        path = self.path / name
        try:
            regular_file(path, limit=limit_of(path.name), root=self.path, what="run file")
        except (FileNotFoundError, OutsideRootError):
            return None
        except OSError as exc:  # NotADirectoryError, permissions, too many links ...
            raise DataError(f"The run file '{path}' cannot be read: {exc.strerror}.") from None
        return path

    def file(self, name: str) -> Path | None:
        """The run's own file ``name`` if it may be read (:meth:`check`), else ``None`` (missing,
        a symlink leading out of the run, a FIFO or device, over its size limit)."""
        try:
            return self.check(name)
        except DataError:
            return None

    def _require(self, name: str) -> Path:
        path = self.check(name)
        if path is None:
            raise DataError(
                f"The run '{self.path}' has no {name} ({_WHAT.get(name, 'a run file')}). "
                "Pass a folder written by 'deepfuse train'; if it is one, it is damaged."
            )
        return path

    def _json(self, name: str, *, required: bool) -> Any:
        path = self._require(name) if required else self.check(name)
        if path is None:
            return None
        try:
            doc = read_json(path, what="run file")
        except RecursionError:
            raise DataError(
                f"The run file '{path}' is nested too deeply to read. The run directory may be "
                "damaged."
            ) from None
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
        from deepfuse._utils.safefiles import read_regular

        path = self.check(CONFIG_FILE)
        if path is None:
            return ""
        data = read_regular(path, limit=limit_of(CONFIG_FILE), root=self.path, what="run file")
        return data.decode("utf-8", errors="replace")

    def config(self) -> dict[str, Any]:
        """The resolved config (``config.yaml``); ConfigError if it is not valid YAML or expands
        to more than :data:`~deepfuse.run.files.MAX_CONFIG_VALUES` values. Parsed once per
        version of the file."""
        return read_config(self._require(CONFIG_FILE))

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

    def search(self) -> dict[str, Any] | None:
        """``search.json`` (the leaderboard of a no-config run's model search), if any."""
        return self._json(SEARCH_FILE, required=False)

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
        trains from its newest valid checkpoint (the only place its epochs are until then).
        history.csv is streamed: only one row per epoch is kept."""
        path = self.check(HISTORY_FILE)
        if path is None:
            return self.checkpoint_history() if self.in_progress else []
        header, rows = iter_csv(path, complete_only=False)
        keys = [k for k in header if k not in STEP_COLUMNS]
        if "global_step" not in header:
            return [{k: finite_number(row.get(k)) for k in keys} for row in rows]
        out: list[dict[str, Any]] = []
        previous: dict[str, str] | None = None
        for row in [*rows, None]:  # per-step form: an epoch's values are on its last row
            if previous is not None and (row is None or row.get("epoch") != previous.get("epoch")):
                values = {k: finite_number(previous.get(k)) for k in keys}
                if any(values.get(k) is not None for k in keys if k not in ("loss", "lr")):
                    out.append(values)
            previous = row
        return out

    def _step_log(self) -> tuple[str, Path | None]:
        """Which file holds the step rows: steps.csv while the run trains, else history.csv."""
        live = self.check(STEPS_FILE) if self.in_progress else None
        return ("steps", live) if live is not None else ("history", self.check(HISTORY_FILE))

    def steps(self) -> list[StepRow]:
        """Per-step rows ``{epoch, step, global_step, loss, lr}`` (numbers or None): from
        steps.csv while the run trains (a line being written is left out), else history.csv."""
        kind, path = self._step_log()
        header, rows = csv_rows(path, complete_only=kind == "steps")
        if "global_step" not in header:
            return []  # one row per epoch: no step rows
        return [row for row in map(_step_row, rows) if row is not None]

    def steps_page(self, cursor: str | None = None, *, max_rows: int = MAX_TAIL_ROWS) -> StepsPage:
        """At most ``max_rows`` step rows after ``cursor`` (``None``: from the first row).

        Only the bytes after the cursor are read (at most about 1 MB a call), so a client
        polling a run with millions of steps reads only what is new. The cursor is
        ``"<steps|history>:<byte>"``; one that no longer fits the file (cut back by a resume,
        or the run finished and its rows moved to history.csv) starts over with ``restart``.

        Example:
            >>> import tempfile, pathlib
            >>> run = pathlib.Path(tempfile.mkdtemp()) / "demo.partial"
            >>> run.mkdir()
            >>> rows = "epoch,step,global_step,loss,lr\\n1,1,1,0.5,0.1\\n"
            >>> _ = (run / "steps.csv").write_text(rows)
            >>> page = RunReader(run).steps_page()
            >>> [s["global_step"] for s in page["steps"]], page["cursor"], page["more"]
            ([1], 'steps:45', False)
            >>> RunReader(run).steps_page(page["cursor"])["steps"]
            []
        """
        kind, path = self._step_log()
        given, _, pos = (cursor or "").partition(":")
        start = int(pos) if given == kind and pos.isdigit() else 0
        restart = cursor is not None and start == 0 and cursor != f"{kind}:0"
        try:
            header, rows, end, more = read_tail(
                path, start, complete_only=kind == "steps", max_rows=max_rows
            )
        except ValueError:  # the file was cut back or replaced: start over
            restart = True
            header, rows, end, more = read_tail(
                path, 0, complete_only=kind == "steps", max_rows=max_rows
            )
        steps = [] if "global_step" not in header else [r for r in map(_step_row, rows) if r]
        return StepsPage(steps=steps, cursor=f"{kind}:{end}", more=more, restart=restart)

    def idle_seconds(self) -> float | None:
        """Seconds since a run in progress last wrote anything (its folder, ``steps.csv`` or a
        checkpoint); ``None`` for a finished run. A live run flushes ``steps.csv`` every second,
        so a long silence means the process died or hangs."""
        if not self.in_progress:
            return None
        newest = 0.0
        for path in (self.path, self.path / STEPS_FILE, self.path / CHECKPOINTS_DIR):  # lstat:
            # a link out of the run or a FIFO tells nothing about this run's progress
            try:
                newest = max(newest, path.lstat().st_mtime)
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
            "files": [f for f in RUN_FILES if self.file(f) is not None],
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
    reader = RunReader(run)
    missing = [f for f in REQUIRED_RUN_FILES if reader.check(f) is None]  # refused: DataError
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


#: At most this many other losses per step row (a custom step's ``d_loss``, ``g_loss``, ...).
_MAX_EXTRA_LOSSES = 8


def _step_row(row: dict[str, str]) -> StepRow | None:
    item = {k: finite_number(row.get(k)) for k in _STEP_KEYS}
    if item["global_step"] is None:
        return None
    # the step's other running losses (a GAN's d_loss, g_loss), bounded in number
    extra = [k for k in row if k and k.endswith("_loss") and not k.startswith("val_")]
    item.update({k: finite_number(row[k]) for k in extra[:_MAX_EXTRA_LOSSES]})
    return StepRow(**item)  # type: ignore[typeddict-item]
