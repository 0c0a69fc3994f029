"""Stop training when a wall-clock budget is spent: :class:`TimeBudget`.

The budget counts training time only (the seconds between ``on_train_begin`` and now, summed
over a killed run and its resumption: the spent seconds are part of the callback's state, so a
resumed run does not get a fresh budget). It is checked after every batch, so a run never runs
more than one step past it; the epoch in progress is then cut short and still validated, and
:class:`~deepfuse.training.callbacks.EarlyStopping` (when present) restores the best epoch.

Example:
    >>> budget = TimeBudget(seconds=60)
    >>> budget.state_dict()
    {'seconds': 60.0, 'spent': 0.0, 'stopped_at_epoch': None}
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from deepfuse._utils.errors import ConfigError
from deepfuse.training.callbacks.base import Callback

__all__ = ["TimeBudget"]


class TimeBudget(Callback):
    """Stop training once ``seconds`` of training time are spent.

    Args:
        seconds: The budget (> 0).
        verbose: Print one line when the budget stops training.

    Attributes:
        stopped_at_epoch: 0-based epoch during which the budget ran out, or ``None``.
        message: What it did (empty when the budget was not reached).
    """

    def __init__(self, seconds: float, verbose: bool = True) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ConfigError(
                f"TimeBudget needs seconds > 0; got {seconds!r}. Set trainer.time_budget to a "
                "number of seconds, or null for no limit."
            )
        self.seconds = float(seconds)
        self.verbose = verbose
        self.spent = 0.0  # seconds of earlier sessions of this run (restored on resume)
        self.stopped_at_epoch: int | None = None
        self.message = ""
        self._start: float | None = None
        self._epoch = 0

    def elapsed(self) -> float:
        """Training seconds spent so far (earlier sessions included)."""
        now = time.perf_counter()
        return self.spent + (now - self._start if self._start is not None else 0.0)

    def remaining(self) -> float:
        """Seconds left (may be negative once spent)."""
        return self.seconds - self.elapsed()

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._start = time.perf_counter()
        self.message = ""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, step: int, logs: dict[str, Any]) -> None:
        if self.stopped_at_epoch is None and self.elapsed() >= self.seconds:
            self.stopped_at_epoch = self._epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self.stopped_at_epoch is not None:
            self.message = (
                f"TimeBudget: stopped during epoch {self.stopped_at_epoch + 1}: the time budget "
                f"of {self.seconds:g} s (trainer.time_budget) was spent."
            )
            if self.verbose:
                print(self.message, flush=True)
        if self._start is not None:
            self.spent, self._start = self.elapsed(), None

    def state_dict(self) -> dict[str, Any]:
        """JSON-able: the budget, the seconds spent (so a resumed run keeps its budget)."""
        return {
            "seconds": self.seconds,
            "spent": round(self.elapsed(), 6),
            "stopped_at_epoch": self.stopped_at_epoch,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.spent = float(state.get("spent", 0.0))
        self.stopped_at_epoch = state.get("stopped_at_epoch")
        self._start = None if self._start is None else time.perf_counter()
