"""THE training loop: short enough to read in one sitting.

The loop knows nothing about layers, losses or distribution. It asks the model for one step at a
time (``model.train_step(batch)`` / ``model.test_step(batch)``), keeps the running loss, steps the
learning-rate schedule and calls the callbacks that actually override a hook (no per-step cost for
the rest). Extend training by overriding ``train_step`` on the model, not by adding flags here.

**What the logs show.** Every key a step returns reaches the progress bar, the callbacks' logs and
``History`` (``"loss"`` is not required). Per epoch, a key named like one of ``model.metrics``
(a metric object whose ``result()`` the step returned, e.g. Keras' ``Mean`` trackers ``d_loss``
/ ``g_loss``, or the compiled loss tracker ``"loss"`` once a step updated it) shows the value
returned at the epoch's last step, as Keras does; any other key (a raw per-batch loss) shows its
running mean over the epoch's rows. Each epoch's logs also carry ``lr`` and ``time`` for the
callbacks; ``History`` keeps those two apart (``history.lr``, ``history.epoch_time``). A step
that uses optimizers of its own (a GAN's ``d_optimizer`` / ``g_optimizer``) gets
``d_optimizer_lr`` / ``g_optimizer_lr`` instead of ``lr`` (:mod:`~deepfuse.training.
optimizers_in_use`, ``history.optimizer_lr``); checkpoints hold every optimizer in use.

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

import itertools
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch

from deepfuse._utils.errors import DataError, NaNLossError
from deepfuse.training.optimizers_in_use import OptimizersInUse
from deepfuse.training.protocols import (
    CheckpointedCallback,
    EpochAware,
    ResumableData,
    StatefulCallback,
    TrainableModel,
    TrainerAware,
)
from deepfuse.training.step_logs import (
    StepLogs,
    load_metric_states,
    metric_states,
    tracker_states,
)

__all__ = ["Trainer"]

_HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_end",
    "on_validation_end",
)


def _rows(batch: dict[str, torch.Tensor]) -> int:
    for value in batch.values():
        return int(value.shape[0])
    return 0


class Trainer:
    """Runs epochs of ``train_step`` with validation, schedules and callbacks.

    Args:
        model: The model (anything implementing :class:`~deepfuse.training.protocols.TrainableModel`).
        callbacks: Callback objects (``deepfuse.training.callbacks.Callback``).
        schedule: Optional learning-rate schedule with ``interval`` ("step" or "epoch") and ``step()``.
        check_every: How often (in steps) the loss is checked for NaN/inf on accelerators; on CPU
            every step is checked (reading a CPU scalar costs nothing).
        strategy: How the loop is distributed (``deepfuse.distributed``); the default
            ``SingleProcess`` makes every reduction a no-op. Epoch and evaluation logs are
            reduced over all workers; the per-step running logs stay local (no sync per step).
        checkpoint: A :class:`~deepfuse.training.checkpoint.CheckpointManager`: save the full
            training state at every epoch end (and every ``checkpoint_every`` steps).
        checkpoint_every: Steps between checkpoints inside an epoch; 0 = at epoch ends only.
    """

    def __init__(
        self,
        model: TrainableModel,
        *,
        callbacks: Sequence[Any] = (),
        schedule: Any = None,
        check_every: int = 50,
        strategy: Any = None,
        checkpoint: Any = None,
        checkpoint_every: int = 0,
    ) -> None:
        from deepfuse.distributed.single import SingleProcess

        self.model = model
        self.strategy = strategy if strategy is not None else SingleProcess()
        self.callbacks = list(callbacks)
        self.schedule = schedule
        self.check_every = check_every
        self._stop_training = False
        self.stop_training = False  # also resets model.stop_training
        self.epoch = 0
        self.epochs = 0
        self.global_step = 0
        self.steps_per_epoch: int | None = None
        self.history: list[dict[str, float]] = []
        self._loss_sum = 0.0
        self._seen = 0
        self._extras = StepLogs(model)  # what a step returns besides "loss"
        self._in_use: OptimizersInUse | None = None  # found once, when fit or a resume needs it
        self._last_finite_loss = float("nan")
        self.checkpoint = checkpoint
        self.checkpoint_every = int(checkpoint_every or 0)
        self._train_data: Any = None  # the loader whose position a checkpoint records
        self._resume: dict[str, Any] | None = None  # loaded state, applied when fit starts
        self._epoch_done = False
        self._step_in_epoch = 0
        self._replay = False  # resumed mid-epoch without a saved data position: skip batches
        self._step_limit: int | None = None  # fit(steps_per_epoch=...)
        # Only callbacks that override a hook get called for it.
        self._hooks: dict[str, list[Any]] = {h: [] for h in _HOOKS}
        for cb in self.callbacks:
            if isinstance(cb, TrainerAware):
                cb.set_trainer(self)
            if callable(getattr(cb, "set_model", None)):  # Keras callbacks read self.model
                cb.set_model(model)
            for hook in _HOOKS:
                if _overrides(cb, hook):
                    self._hooks[hook].append(cb)

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.model.optimizer

    @property
    def optimizers_in_use(self) -> OptimizersInUse:
        """``model.optimizer`` and the optimizers a custom step keeps (found once, see
        :mod:`~deepfuse.training.optimizers_in_use`)."""
        if self._in_use is None:
            self._in_use = OptimizersInUse(self.model)
        return self._in_use

    @property
    def stop_training(self) -> bool:
        """Set by a callback (``trainer.stop_training`` or Keras' ``model.stop_training``) to
        stop after the current step/epoch."""
        return self._stop_training or bool(getattr(self.model, "stop_training", False))

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        self._stop_training = bool(value)
        if hasattr(self.model, "stop_training"):
            self.model.stop_training = bool(value)

    # ------------------------------------------------------------------ public
    def fit(
        self,
        train_data: Iterable[dict[str, torch.Tensor]],
        *,
        epochs: int,
        val_data: Iterable[dict[str, torch.Tensor]] | None = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
    ) -> list[dict[str, float]]:
        """Train for ``epochs`` epochs; returns the per-epoch logs (also in ``self.history``).

        ``steps_per_epoch`` ends each epoch after that many batches (``None``: all of them).
        """
        self.epochs = epochs
        try:
            self.steps_per_epoch = len(train_data)  # type: ignore[arg-type]
        except TypeError:
            self.steps_per_epoch = None
        if steps_per_epoch is not None:
            if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
                raise DataError(f"steps_per_epoch must be a positive int; got {steps_per_epoch!r}.")
            self.steps_per_epoch = min(steps_per_epoch, self.steps_per_epoch or steps_per_epoch)
        self._step_limit = steps_per_epoch
        self._train_data = train_data
        if self._resume is None:  # else found by load_state_dict, with this fit's optimizers
            self._in_use = OptimizersInUse(self.model)
        self._call("on_train_begin", {})
        resume_step = 0
        if self._resume is not None:  # continue exactly where the checkpoint was taken
            initial_epoch, resume_step = self._apply_resume(train_data)
        for epoch in range(initial_epoch, epochs):
            if self.stop_training:  # a checkpoint taken after the stopping epoch
                break
            self.epoch = epoch
            self._call("on_epoch_begin", epoch, {})
            start = time.perf_counter()
            self._train_epoch(train_data, start_step=resume_step)
            resume_step = 0
            logs = self._global_logs(self._loss_sum, self._seen)
            if val_data is not None:
                val_logs = self.evaluate(val_data)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
                self._call("on_validation_end", logs)
            logs.update(self.optimizers_in_use.lr_logs())  # "lr", or one per optimizer used
            logs["time"] = time.perf_counter() - start
            if self.schedule is not None and self.schedule.interval == "epoch":
                self.schedule.step(metrics=logs)
            self.history.append(logs)
            self._call("on_epoch_end", epoch, logs)
            if self.checkpoint is not None:
                self.save_checkpoint(epoch_done=True)
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
        loss_sum, seen, extras = 0.0, 0, StepLogs(model)
        for batch in data:
            out = model.test_step(batch)
            n = _rows(batch)
            if "loss" in out:
                loss_sum += float(out["loss"]) * n
            extras.add(out, n)
            seen += n
        loss_sum, seen = self.strategy.reduce_totals(loss_sum, seen)  # every worker's rows
        if seen == 0:
            raise DataError("Evaluation data is empty: no batch was produced.")
        self.strategy.reduce_metric_states(model.metric_set)
        head = {"loss": loss_sum / seen} if extras.has_loss else {}
        return {**head, **extras.logs(seen), **model.compute_metrics()}

    def running_logs(self) -> dict[str, float]:
        """Loss and metrics of the epoch so far (what the progress bar shows)."""
        loss = self._loss_sum / self._seen if self._seen else float("nan")
        head = {"loss": loss} if self._extras.has_loss else {}
        return {**head, **self._extras.logs(self._seen), **self.model.compute_metrics()}

    # -------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run bit-identically (CPU), as a nested dict.

        Parts: ``model``, ``optimizer`` (``model.optimizer``) and ``optimizers`` (those a custom
        step keeps), ``generators`` (the model's own random generators), ``rng`` (python,
        numpy, torch, CUDA),
        ``schedule``, ``data`` (the training loader's position, if it has ``state_dict``),
        ``metrics`` / ``trackers`` (running metric states of the epoch), ``callbacks`` and
        ``trainer`` (epoch, step in epoch, global step, loss sums, step logs, history). Save it with
        :class:`~deepfuse.training.checkpoint.CheckpointManager`.
        """
        from deepfuse.training.checkpoint import capture_rng

        data = self._train_data
        return {
            "model": self.model.state_dict(),
            **self.optimizers_in_use.state_dict(),  # optimizer, optimizers, generators
            "rng": capture_rng(),
            "schedule": self.schedule.state_dict() if self.schedule is not None else None,
            "data": data.state_dict() if isinstance(data, ResumableData) else None,
            "metrics": metric_states(self.model),
            "trackers": tracker_states(self.model),
            "callbacks": {
                f"{i}.{type(cb).__name__}": _callback_state(cb)
                for i, cb in enumerate(self.callbacks)
                if isinstance(cb, StatefulCallback | CheckpointedCallback)
            },
            "trainer": {
                "epoch": self.epoch,
                "epoch_done": self._epoch_done,
                "step_in_epoch": self._step_in_epoch,
                "global_step": self.global_step,
                "loss_sum": self._loss_sum,
                "seen": self._seen,
                "step_logs": self._extras.state_dict(),
                "last_finite_loss": self._last_finite_loss,
                "stop_training": self.stop_training,
                "history": self.history,
            },
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load a :meth:`state_dict`: weights, optimizer, schedule and callbacks now; the RNG,
        the data position and the counters when :meth:`fit` starts (so nothing between this call
        and the first step can consume the restored random streams)."""
        self.model.load_state_dict(state["model"])
        self._in_use = OptimizersInUse(self.model)
        self._in_use.load_state_dict(state)
        if self.schedule is not None and state.get("schedule") is not None:
            self.schedule.load_state_dict(state["schedule"])
        saved = state.get("callbacks") or {}
        for i, cb in enumerate(self.callbacks):
            key = f"{i}.{type(cb).__name__}"
            if key not in saved:
                continue
            if isinstance(cb, CheckpointedCallback):
                cb.load_checkpoint_state(saved[key])
            else:
                cb.load_state_dict(saved[key])
        self._resume = dict(state)

    def save_checkpoint(self, *, epoch_done: bool) -> Any:
        """Write :meth:`state_dict` with the checkpoint manager; returns the checkpoint path."""
        self._epoch_done = epoch_done
        if epoch_done:
            self._step_in_epoch = 0
        return self.checkpoint.save(self.state_dict(), step=self.global_step)

    def _apply_resume(self, train_data: Any) -> tuple[int, int]:
        """Restore counters, RNG, data position and metric states; return (epoch, step)."""
        from deepfuse.training.checkpoint import restore_rng

        state, self._resume = self._resume, None
        t = state["trainer"]
        self.global_step = int(t["global_step"])
        self.epoch = int(t["epoch"])
        self._loss_sum, self._seen = float(t["loss_sum"]), int(t["seen"])
        self._last_finite_loss = float(t["last_finite_loss"])
        self.stop_training = bool(t["stop_training"])
        self.history = [dict(h) for h in t["history"]]
        # Where training continues: the next epoch's start, or the step after the checkpoint.
        epoch, step = (
            (self.epoch + 1, 0) if t["epoch_done"] else (self.epoch, int(t["step_in_epoch"]))
        )
        if state.get("data") is not None and isinstance(train_data, ResumableData):
            train_data.load_state_dict(state["data"])  # the exact position, shuffle state included
        else:
            # No saved position (foreign data): replay the epoch's order and skip `step` batches.
            if isinstance(train_data, EpochAware):
                train_data.set_epoch(epoch)
            self._replay = step > 0
        restore_rng(state["rng"])
        self.optimizers_in_use.load_generators(state)
        if not t["epoch_done"]:  # mid-epoch: the epoch's running metrics and logs continue
            load_metric_states(self.model, state.get("metrics"), state.get("trackers"))
            self._extras = StepLogs(self.model)
            self._extras.load_state_dict(t.get("step_logs"))
        return epoch, step

    # ----------------------------------------------------------------- private
    def _global_logs(self, loss_sum: float, seen: int) -> dict[str, float]:
        """Loss and metrics over every worker's rows (this process's alone on one process)."""
        extras = self._extras.logs(self._seen)  # this process's rows
        loss_sum, seen = self.strategy.reduce_totals(loss_sum, seen)
        self.strategy.reduce_metric_states(self.model.metric_set)
        loss = loss_sum / seen if seen else float("nan")
        head = {"loss": loss} if self._extras.has_loss else {}
        return {**head, **extras, **self.model.compute_metrics()}

    def _train_epoch(self, data: Iterable[dict[str, torch.Tensor]], start_step: int = 0) -> None:
        model = self.model
        model.train(True)
        if start_step == 0:  # else: resumed mid-epoch, sums and metric states were restored
            model.reset_metrics()
            self._loss_sum, self._seen = 0.0, 0
            self._extras = StepLogs(model)
        elif self._replay:
            # No saved position: replay the epoch's order and drop the batches already trained.
            data = itertools.islice(data, start_step, None)
        self._replay = False
        self._epoch_done = False
        last_step = (self.steps_per_epoch or 0) - 1
        batch_end = self._hooks["on_train_batch_end"]
        step_schedule = (
            self.schedule
            if (self.schedule is not None and self.schedule.interval == "step")
            else None
        )
        device_sum: torch.Tensor | None = None  # on accelerators: sum on device, sync rarely
        limit = self._step_limit
        for step, batch in enumerate(data, start=start_step):
            out = model.train_step(batch)
            n = _rows(batch)
            self._extras.add(out, n)
            loss = out.get("loss")  # None: a custom step that returns other logs only
            if isinstance(loss, torch.Tensor) and loss.device.type != "cpu":
                loss = loss.detach()
                device_sum = loss * n if device_sum is None else device_sum + loss * n
                if step % self.check_every == 0:
                    self._check_finite(float(loss), step)
                    self._loss_sum += float(device_sum)
                    device_sum = None
            elif loss is not None:
                value = float(
                    loss.detach() if isinstance(loss, torch.Tensor) else loss
                )  # cheap on CPU
                self._check_finite(value, step)
                self._loss_sum += value * n
            self._seen += n
            self.global_step += 1
            if step_schedule is not None:
                step_schedule.step()
            for cb in batch_end:
                cb.on_train_batch_end(step, self._batch_logs())
            if (
                self.checkpoint is not None
                and self.checkpoint_every
                and self.global_step % self.checkpoint_every == 0
                and step != last_step  # the epoch-end checkpoint follows at once
            ):
                if device_sum is not None:
                    self._loss_sum += float(device_sum)
                    device_sum = None
                self._step_in_epoch = step + 1
                self.save_checkpoint(epoch_done=False)
            if self.stop_training or (limit is not None and step + 1 >= limit):
                break
        if device_sum is not None:
            self._loss_sum += float(device_sum)
        if self._seen == 0:
            raise DataError(
                "The training data produced no batch in this epoch. "
                "Check that the dataset is not empty and batch_size is not larger than it "
                "with drop_last."
            )

    def _batch_logs(self) -> dict[str, float]:
        return {"loss": self._loss_sum / self._seen} if self._extras.has_loss else {}

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


def _callback_state(callback: StatefulCallback | CheckpointedCallback) -> Any:
    """A callback's ``checkpoint_state()`` (may hold tensors) or its JSON ``state_dict()``."""
    if isinstance(callback, CheckpointedCallback):
        return callback.checkpoint_state()
    return callback.state_dict()
