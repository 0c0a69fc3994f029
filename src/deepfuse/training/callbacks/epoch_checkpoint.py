"""Restart-safe training for launchers that restart workers (Ray): a checkpoint every epoch.

When ``strategy.wants_checkpoints`` (Ray workers), :func:`attach` adds an
:class:`EpochCheckpoint` callback. At the end of each epoch rank 0 writes the trainer's full
state (``Trainer.state_dict``: weights, optimizer, RNG, schedule, data position, history) with
:class:`deepfuse.training.checkpoint.CheckpointManager` (safetensors + JSON) and hands the folder
to ``strategy.report`` (Ray copies it to its storage); every rank reports the epoch's metrics.
After a failure every restarted worker gets that checkpoint back from
``strategy.resume_checkpoint()`` and loads it with ``Trainer.load_state_dict`` when training
begins: the loop continues at the next epoch. On one process nothing is added (no cost).

Example:
    >>> from deepfuse.distributed import SingleProcess
    >>> callbacks = []
    >>> attach(SingleProcess(), callbacks), callbacks
    (False, [])
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from deepfuse.training.callbacks.base import Callback
from deepfuse.training.checkpoint import CheckpointManager, load_checkpoint

__all__ = ["EpochCheckpoint", "attach"]


def attach(strategy: Any, callbacks: list[Any]) -> bool:
    """Append an :class:`EpochCheckpoint` to ``callbacks`` when the launcher restarts workers.

    Returns whether a checkpoint will be restored (a restarted group that has one).
    """
    if not strategy.wants_checkpoints:
        return False
    with strategy.resume_checkpoint() as folder:
        state = load_checkpoint(folder) if folder is not None else None  # read while it exists
    callbacks.append(EpochCheckpoint(strategy, state))
    return state is not None


class EpochCheckpoint(Callback):
    """Report each epoch (with rank 0's checkpoint) to the strategy; restore a saved state.

    Args:
        strategy: The worker's strategy (``report`` sends to the launcher).
        state: A loaded ``Trainer.state_dict`` to continue from, or ``None``.
    """

    def __init__(self, strategy: Any, state: dict[str, Any] | None = None) -> None:
        self.strategy = strategy
        self.state = state
        self._folder: str | None = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if self.state is not None:
            # Every worker loads the same checkpoint, so the replicas stay identical; the
            # trainer applies counters, RNG and data position as fit() starts.
            self.trainer.load_state_dict(self.state)
            self.state = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        path = None
        if self.strategy.is_main:
            if self._folder is None:
                self._folder = tempfile.mkdtemp(prefix="deepfuse-ckpt-")
            state = self.trainer.state_dict()
            state["trainer"]["epoch_done"] = True  # taken after the epoch: resume at the next
            path = str(CheckpointManager(self._folder, keep=1).save(state))
        self.strategy.report({"epoch": epoch + 1, **logs}, checkpoint_dir=path)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)  # the launcher holds its own copy
