"""The :class:`LRScheduler` callback: steps a learning-rate :class:`Schedule` at the right time.

Example:
    >>> cb = LRScheduler({"name": "cosine", "warmup_epochs": 1})  # built when training starts
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepfuse.training.callbacks.base import Callback
from deepfuse.training.schedules import Schedule, build_schedule

__all__ = ["LRScheduler"]


class LRScheduler(Callback):
    """Steps a schedule after every batch (``interval == "step"``) or every epoch.

    ``reduce_on_plateau`` reads its ``monitor`` (default ``val_loss``) from the epoch logs.
    Do not also hand the same schedule to the trainer, or it steps twice.

    Args:
        schedule: A :class:`~deepfuse.training.schedules.Schedule`, or anything
            :func:`~deepfuse.training.schedules.build_schedule` accepts (``"cosine"``,
            ``{"name": "step", "step_size": 10}``...); a spec is built at ``on_train_begin`` from
            the trainer's optimizer, ``steps_per_epoch`` and ``epochs``.

    Example:
        >>> import torch, types
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> cb = LRScheduler({"name": "exponential", "gamma": 0.5})
        >>> cb.set_trainer(types.SimpleNamespace(optimizer=opt, steps_per_epoch=4, epochs=3))
        >>> cb.on_train_begin({})
        >>> opt.step(); cb.on_epoch_end(0, {"loss": 1.0})
        >>> opt.param_groups[0]["lr"]
        0.05
    """

    def __init__(self, schedule: Any) -> None:
        self.spec = schedule
        self.schedule: Schedule | None = schedule if isinstance(schedule, Schedule) else None
        self._pending_state: Mapping[str, Any] | None = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if self.schedule is None:
            t = self.trainer
            self.schedule = build_schedule(
                self.spec, t.optimizer, steps_per_epoch=t.steps_per_epoch, epochs=t.epochs
            )
        if self._pending_state is not None:
            self.schedule.load_state_dict(self._pending_state)
            self._pending_state = None
        self._per_step = self.schedule.interval == "step"

    def on_train_batch_end(self, step: int, logs: dict[str, Any]) -> None:
        if self._per_step:
            self.schedule.step()  # type: ignore[union-attr]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if not self._per_step:
            self.schedule.step(logs)  # type: ignore[union-attr]

    def state_dict(self) -> dict[str, Any]:
        """The schedule's JSON-able state (empty before training started)."""
        return {"schedule": self.schedule.state_dict()} if self.schedule is not None else {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if "schedule" not in state:
            return
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
        else:  # built later, at on_train_begin
            self._pending_state = state["schedule"]
