"""Learning-rate callbacks: :class:`LRScheduler` steps a deepfuse :class:`Schedule` at the right
time; :class:`LearningRateScheduler` is Keras' (a function ``schedule(epoch, lr) -> lr``).

Example:
    >>> cb = LRScheduler({"name": "cosine", "warmup_epochs": 1})  # built when training starts
    >>> keras_cb = LearningRateScheduler(lambda epoch, lr: lr * 0.5)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from deepfuse._utils.errors import UserError
from deepfuse.training.callbacks.base import Callback
from deepfuse.training.schedules import Schedule, build_schedule

__all__ = ["LRScheduler", "LearningRateScheduler"]


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


class LearningRateScheduler(Callback):
    """Keras' ``LearningRateScheduler``: sets the learning rate at the start of every epoch.

    At ``on_epoch_begin(epoch)`` the optimizer's learning rate becomes ``schedule(epoch, lr)``
    (``lr``: the current rate; a one-argument ``schedule(epoch)`` works too, as in Keras); at
    ``on_epoch_end`` the rate is written to the logs as ``"learning_rate"``, so it appears in
    ``history.history["learning_rate"]`` exactly as in Keras 3.

    Args:
        schedule: ``schedule(epoch, lr) -> float`` (``epoch`` 0-based) or ``schedule(epoch)``.
        verbose: ``1`` prints the rate set at each epoch.

    Raises:
        UserError: The schedule returned something other than a float (Keras' rule).

    Example:
        >>> import torch
        >>> from deepfuse.training.optim import build_optimizer
        >>> w = torch.nn.Parameter(torch.zeros(2))
        >>> cb = LearningRateScheduler(lambda epoch, lr: lr if epoch < 1 else lr * 0.1)
        >>> cb.set_model(type("M", (), {"optimizer": build_optimizer({"name": "sgd", "lr": 0.5}, [w])})())
        >>> logs = {}
        >>> for epoch in range(3):
        ...     cb.on_epoch_begin(epoch, {})
        >>> cb.on_epoch_end(2, logs)
        >>> round(logs["learning_rate"], 6)
        0.005
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        self.schedule = schedule
        self.verbose = int(verbose)

    def _optimizer(self) -> Any:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "param_groups"):
            raise UserError(
                "LearningRateScheduler needs the model's compiled optimizer "
                f"(model.optimizer); got {optimizer!r}. Compile the model with an optimizer "
                "before fit, or change the rates of a custom train_step's own optimizers in a "
                "callback of your own."
            )
        return optimizer

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        optimizer = self._optimizer()
        current = float(optimizer.param_groups[0]["lr"])
        if len(inspect.signature(self.schedule).parameters) >= 2:
            rate = self.schedule(epoch, current)
        else:  # Keras' older one-argument form
            rate = self.schedule(epoch)
        if isinstance(rate, torch.Tensor) and rate.numel() == 1:
            rate = float(rate)
        if not isinstance(rate, float | np.floating):  # Keras refuses ints and tensors too
            raise UserError(
                f"The schedule of LearningRateScheduler must return a float; got {rate!r} at "
                f"epoch {epoch}. Return e.g. float(lr * 0.5)."
            )
        for group in optimizer.param_groups:
            group["lr"] = float(rate)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}.")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        logs["learning_rate"] = float(self._optimizer().param_groups[0]["lr"])
