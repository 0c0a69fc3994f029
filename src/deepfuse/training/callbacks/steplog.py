"""``StepLog``: one CSV row per optimizer step that survives kills and resumes exactly once.

Rows are ``epoch,step,global_step,loss,lr`` (1-based epoch and step; ``loss`` is the running mean
loss of the epoch so far, what the progress bar shows), then one column per other loss a custom
``train_step`` returns (``d_loss``, ``g_loss``: running means too), fixed by the first step's
logs; the header is written with the first row. Writes are buffered and flushed (not
fsynced) at most once per second of wall time, so a reader such as ``deepfuse ui`` sees the run
progress live; a training checkpoint calls :meth:`StepLog.state_dict`, which flushes and fsyncs
the file and records its length. On resume :meth:`StepLog.load_state_dict` truncates the file
back to that length, so rows written after the checkpoint (steps that will be trained again) and
any half-written last line are dropped: every step appears exactly once. The file is opened with
the run contract's :func:`deepfuse.run.writer.open_run_file`: a symlink (or FIFO) named
``steps.csv`` is refused, never truncated or appended through. A full disk raises
:class:`~deepfuse._utils.io.DiskFullError` naming the file.

Example:
    >>> import tempfile, os, deepfuse as df, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "steps.csv")
    >>> model = df.Sequential([df.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> _ = model.fit(torch.randn(8, 2), torch.randn(8, 1), batch_size=4, epochs=2, verbose=0,
    ...               callbacks=[StepLog(path)])
    >>> [line.split(",")[:3] for line in open(path).read().splitlines()]
    [['epoch', 'step', 'global_step'], ['1', '1', '1'], ['1', '2', '2'], ['2', '1', '3'], ['2', '2', '4']]
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, NoReturn

from deepfuse._utils.errors import DataError
from deepfuse._utils.io import disk_full_names
from deepfuse.run.writer import open_run_file
from deepfuse.training.callbacks.base import Callback

__all__ = ["STEP_COLUMNS", "StepLog"]

STEP_COLUMNS = ("epoch", "step", "global_step", "loss", "lr")
#: Seconds between two flushes of the rows written so far (live progress for readers).
FLUSH_EVERY_S = 1.0


class StepLog(Callback):
    """Append one row per optimizer step to ``path`` (see the module docstring).

    Args:
        path: The CSV file; a fresh run overwrites it, a resumed run appends to it.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fh: IO[str] | None = None
        self._resumed = False
        self._extra: list[str] | None = None
        self._flushed_at = 0.0

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._extra = None  # the other loss columns: from the header, or the first step
        if self._resumed:  # the header written before the checkpoint names the columns
            with open_run_file(self.path, "r") as fh:
                self._extra = fh.readline().rstrip("\n").split(",")[len(STEP_COLUMNS) :]
        self._fh = open_run_file(self.path, "a" if self._resumed else "w")
        self._flushed_at = time.monotonic()

    def on_train_batch_end(self, step: int, logs: dict[str, Any]) -> None:
        trainer = self.trainer
        # model.optimizer's rate; a custom step with only its own optimizers (a GAN) logs none,
        # and a step that returns no "loss" (d_loss, g_loss ...) leaves the loss cell empty
        opt = trainer.optimizer
        lr = repr(float(opt.param_groups[0]["lr"])) if opt is not None else ""
        loss = repr(float(logs["loss"])) if "loss" in logs else ""
        if self._extra is None:  # the first step: its losses fix the columns
            running = trainer.running_logs()  # once: every log the step returned so far
            self._extra = sorted(k for k in running if k.endswith("_loss") and "," not in k)
            with disk_full_names(self.path):
                self._fh.write(",".join([*STEP_COLUMNS, *self._extra]) + "\n")
        # the running means of the step's other losses (only a custom step has any: no cost
        # for a plain run, whose metrics are not computed per step)
        running = trainer.running_logs() if self._extra else {}
        extra = "".join(
            "," + (repr(float(running[k])) if k in running else "") for k in self._extra
        )
        now = time.monotonic()
        with disk_full_names(self.path):
            # repr of a float round-trips exactly: the same bits before and after a resume.
            self._fh.write(
                f"{trainer.epoch + 1},{step + 1},{trainer.global_step},{loss},{lr}{extra}\n"
            )
            if now - self._flushed_at >= FLUSH_EVERY_S:
                # Whole rows reach the file for live readers; no fsync (only checkpoints need it).
                self._fh.flush()
                self._flushed_at = now

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self._close()

    def state_dict(self) -> dict[str, Any]:
        """Flush and fsync the rows so far; return the file length they end at."""
        if self._fh is None:
            return {"bytes": self.path.stat().st_size if self.path.exists() else 0}
        with disk_full_names(self.path):
            self._fh.flush()
            os.fsync(self._fh.fileno())
        return {"bytes": self._fh.tell()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Cut the file back to the checkpoint's length; the next run appends after it."""
        size = int(state["bytes"])
        self._close()
        if size == 0:  # not even the header was logged: on_train_begin starts the file over
            self._resumed = False
            return
        if not os.path.lexists(self.path):
            self._too_short(0, size)
        with open_run_file(self.path, "r+", binary=True) as fh:  # a symlink is refused here
            have = os.fstat(fh.fileno()).st_size
            if have < size:
                self._too_short(have, size)
            fh.truncate(size)
            os.fsync(fh.fileno())
        self._resumed = True

    def _too_short(self, have: int, size: int) -> NoReturn:
        raise DataError(
            f"The step log '{self.path}' has {have} bytes, fewer than the {size} its "
            "checkpoint recorded: it was truncated or replaced. Delete the run's "
            "checkpoints to start over."
        )

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
