"""THE training loop: short enough to read in one sitting.

The loop knows nothing about layers, losses or distribution. It asks the model for one step at a
time (``model.train_step(batch)`` / ``model.test_step(batch)``), keeps the running loss, steps the
learning-rate schedule and calls the callbacks that actually override a hook (no per-step cost for
the rest). Extend training by overriding ``train_step`` on the model, not by adding flags here.

Example:
    >>> import torch, deepfuse as df
    >>> model = df.Sequential([df.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x, y = torch.randn(64, 3), torch.randn(64, 1)
    >>> hist = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    >>> len(hist.history["loss"])
    2
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import torch

from deepfuse._utils.errors import DataError, NaNLossError

__all__ = ["TrainableModel", "Trainer"]

_HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_end",
    "on_validation_end",
)


class TrainableModel(Protocol):
    """What the loop needs from a model (``deepfuse.Model`` implements it)."""

    optimizer: torch.optim.Optimizer

    def train(self, mode: bool = True) -> Any: ...
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...
    def test_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...
    def reset_metrics(self) -> None: ...
    def compute_metrics(self) -> dict[str, float]: ...


def _rows(batch: dict[str, torch.Tensor]) -> int:
    for value in batch.values():
        return int(value.shape[0])
    return 0


class Trainer:
    """Runs epochs of ``train_step`` with validation, schedules and callbacks.

    Args:
        model: The model (anything implementing :class:`TrainableModel`).
        callbacks: Callback objects (``deepfuse.training.callbacks.Callback``).
        schedule: Optional learning-rate schedule with ``interval`` ("step" or "epoch") and ``step()``.
        check_every: How often (in steps) the loss is checked for NaN/inf on accelerators; on CPU
            every step is checked (reading a CPU scalar costs nothing).
    """

    def __init__(
        self,
        model: TrainableModel,
        *,
        callbacks: Sequence[Any] = (),
        schedule: Any = None,
        check_every: int = 50,
    ) -> None:
        self.model = model
        self.callbacks = list(callbacks)
        self.schedule = schedule
        self.check_every = check_every
        self.stop_training = False
        self.epoch = 0
        self.epochs = 0
        self.global_step = 0
        self.steps_per_epoch: int | None = None
        self.history: list[dict[str, float]] = []
        self._loss_sum = 0.0
        self._seen = 0
        self._last_finite_loss = float("nan")
        # Only callbacks that override a hook get called for it.
        self._hooks: dict[str, list[Any]] = {h: [] for h in _HOOKS}
        for cb in self.callbacks:
            if hasattr(cb, "set_trainer"):
                cb.set_trainer(self)
            for hook in _HOOKS:
                if _overrides(cb, hook):
                    self._hooks[hook].append(cb)

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.model.optimizer

    # ------------------------------------------------------------------ public
    def fit(
        self,
        train_data: Iterable[dict[str, torch.Tensor]],
        *,
        epochs: int,
        val_data: Iterable[dict[str, torch.Tensor]] | None = None,
        initial_epoch: int = 0,
    ) -> list[dict[str, float]]:
        """Train for ``epochs`` epochs; returns the per-epoch logs (also in ``self.history``)."""
        self.epochs = epochs
        try:
            self.steps_per_epoch = len(train_data)  # type: ignore[arg-type]
        except TypeError:
            self.steps_per_epoch = None
        self._call("on_train_begin", {})
        for epoch in range(initial_epoch, epochs):
            self.epoch = epoch
            self._call("on_epoch_begin", epoch, {})
            start = time.perf_counter()
            self._train_epoch(train_data)
            logs = self.running_logs()
            if val_data is not None:
                val_logs = self.evaluate(val_data)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
                self._call("on_validation_end", logs)
            logs["lr"] = float(self.optimizer.param_groups[0]["lr"])
            logs["time"] = time.perf_counter() - start
            if self.schedule is not None and self.schedule.interval == "epoch":
                self.schedule.step(metrics=logs)
            self.history.append(logs)
            self._call("on_epoch_end", epoch, logs)
            if self.stop_training:
                break
        self._call("on_train_end", self.history[-1] if self.history else {})
        return self.history

    @torch.no_grad()
    def evaluate(self, data: Iterable[dict[str, torch.Tensor]]) -> dict[str, float]:
        """Loss and metrics over the whole of ``data``, exact (sums, not batch means of means)."""
        model = self.model
        model.train(False)
        model.reset_metrics()
        loss_sum, seen = 0.0, 0
        for batch in data:
            out = model.test_step(batch)
            n = _rows(batch)
            loss_sum += float(out["loss"]) * n
            seen += n
        if seen == 0:
            raise DataError("Evaluation data is empty: no batch was produced.")
        return {"loss": loss_sum / seen, **model.compute_metrics()}

    def running_logs(self) -> dict[str, float]:
        """Loss and metrics of the epoch so far (what the progress bar shows)."""
        loss = self._loss_sum / self._seen if self._seen else float("nan")
        return {"loss": loss, **self.model.compute_metrics()}

    # ----------------------------------------------------------------- private
    def _train_epoch(self, data: Iterable[dict[str, torch.Tensor]]) -> None:
        model = self.model
        model.train(True)
        model.reset_metrics()
        self._loss_sum, self._seen = 0.0, 0
        batch_end = self._hooks["on_train_batch_end"]
        step_schedule = (
            self.schedule
            if (self.schedule is not None and self.schedule.interval == "step")
            else None
        )
        device_sum: torch.Tensor | None = None  # on accelerators: sum on device, sync rarely
        for step, batch in enumerate(data):
            out = model.train_step(batch)
            loss = out["loss"].detach()
            n = _rows(batch)
            if loss.device.type == "cpu":
                value = float(loss)  # reading a CPU scalar costs nothing: check every step
                self._check_finite(value, step)
                self._loss_sum += value * n
            else:
                device_sum = loss * n if device_sum is None else device_sum + loss * n
                if step % self.check_every == 0:
                    self._check_finite(float(loss), step)
                    self._loss_sum += float(device_sum)
                    device_sum = None
            self._seen += n
            self.global_step += 1
            if step_schedule is not None:
                step_schedule.step()
            for cb in batch_end:
                cb.on_train_batch_end(step, {"loss": self._loss_sum / self._seen})
            if self.stop_training:
                break
        if device_sum is not None:
            self._loss_sum += float(device_sum)
        if self._seen == 0:
            raise DataError(
                "The training data produced no batch in this epoch. "
                "Check that the dataset is not empty and batch_size is not larger than it "
                "with drop_last."
            )

    def _check_finite(self, value: float, step: int) -> None:
        if math.isfinite(value):
            self._last_finite_loss = value
            return
        self.stop_training = True
        raise NaNLossError(
            f"The loss became {value} at epoch {self.epoch + 1}, step {step + 1} "
            f"(global step {self.global_step + 1}); the last finite loss was "
            f"{self._last_finite_loss:.6g}. Training stopped. Lower the learning rate, set "
            "gradient clipping (grad_clip=1.0), or check the inputs for NaN/inf values."
        )

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self._hooks[hook]:
            getattr(cb, hook)(*args)


def _overrides(callback: Any, hook: str) -> bool:
    """True when ``callback`` defines ``hook`` itself rather than inheriting the no-op base."""
    method = getattr(type(callback), hook, None)
    if method is None:
        return False
    for klass in type(callback).__mro__:
        if hook in vars(klass):
            # The first class in the MRO defining the hook: is it the abstract base?
            return klass.__name__ != "Callback" or klass.__module__.split(".")[0] != "deepfuse"
    return False
