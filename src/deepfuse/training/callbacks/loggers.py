"""Loggers: :class:`CSVLogger` (one row per epoch) and :class:`TensorBoard` (optional extra).

Example:
    >>> csv_log = CSVLogger("runs/exp1/history.csv")
    >>> tb = TensorBoard("runs/exp1/tb")  # needs: pip install 'deepfuse[tensorboard]'
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepfuse._utils.io import atomic_write_text
from deepfuse._utils.optional import require
from deepfuse.training.callbacks.base import Callback

__all__ = ["CSVLogger", "TensorBoard"]


class CSVLogger(Callback):
    """Writes the epoch logs to a CSV file, one row per epoch (column ``epoch`` is 1-based).

    The whole file is rewritten atomically after every epoch (a temporary file renamed over the
    old one; a few KB even for long runs), so it is always complete and its header is the union
    of all keys seen, in first-seen order. Missing values are empty cells.

    Args:
        path: The CSV file.
        append: Keep the rows already in ``path`` (for a resumed run) instead of starting over.
        separator: Field separator.

    Example:
        >>> import tempfile, os, types
        >>> path = os.path.join(tempfile.mkdtemp(), "history.csv")
        >>> log = CSVLogger(path)
        >>> log.on_train_begin({})
        >>> log.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.75})
        >>> print(open(path).read().strip())
        epoch,loss,accuracy
        1,0.5,0.75
    """

    def __init__(self, path: str | os.PathLike, append: bool = False, separator: str = ",") -> None:
        self.path = Path(path)
        self.append = append
        self.separator = separator
        self.rows: list[dict[str, Any]] = []

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.rows = []
        if self.append and self.path.exists():
            with open(self.path, newline="", encoding="utf-8") as fh:
                self.rows = list(csv.DictReader(fh, delimiter=self.separator))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        self.rows.append({"epoch": epoch + 1, **logs})
        fields: dict[str, None] = {}
        for row in self.rows:
            fields.update(dict.fromkeys(row))
        buf = io.StringIO()
        writer = csv.DictWriter(
            buf, fieldnames=list(fields), delimiter=self.separator, lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, buf.getvalue())

    def state_dict(self) -> dict[str, Any]:
        return {"rows": len(self.rows)}


class TensorBoard(Callback):
    """Writes the epoch logs (and optionally the batch loss) to TensorBoard event files.

    Tags: ``loss/train`` and ``loss/val`` side by side for every metric, ``lr``,
    ``time/epoch``; with ``update_freq=N``, ``batch/loss`` every N steps. Needs the
    ``tensorboard`` package: ``pip install 'deepfuse[tensorboard]'``.

    Args:
        log_dir: Folder for the event files.
        update_freq: ``"epoch"``, or an int N to also log the running loss every N steps.

    Example:
        >>> tb = TensorBoard("runs/exp1/tb", update_freq=100)  # then: tensorboard --logdir runs
    """

    def __init__(self, log_dir: str | os.PathLike, update_freq: str | int = "epoch") -> None:
        self.log_dir = Path(log_dir)
        self.update_freq = 0 if update_freq == "epoch" else int(update_freq)
        self.writer: Any = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        require("tensorboard", extra="tensorboard", purpose="the TensorBoard callback")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def on_train_batch_end(self, step: int, logs: dict[str, Any]) -> None:
        if self.update_freq and self.trainer.global_step % self.update_freq == 0:
            self.writer.add_scalar("batch/loss", float(logs["loss"]), self.trainer.global_step)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any]) -> None:
        for key, value in logs.items():
            if key == "time":
                tag = "time/epoch"
            elif key == "lr":
                tag = "lr"
            elif key.startswith("val_"):
                tag = f"{key[4:]}/val"
            else:
                tag = f"{key}/train"
            self.writer.add_scalar(tag, float(value), epoch + 1)
        self.writer.flush()

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
