"""The :class:`Callback` base class and the small callbacks: History, TerminateOnNaN, LambdaCallback.

The trainer calls a hook only on callbacks whose class overrides it, so an unused hook costs
nothing per step. ``on_train_batch_end`` runs after every optimizer step: keep it cheap.

Example:
    >>> class PrintLR(Callback):
    ...     def on_epoch_end(self, epoch, logs):
    ...         print(f"epoch {epoch + 1}: lr={logs['lr']}")
    >>> PrintLR().on_epoch_end(0, {"lr": 0.01})
    epoch 1: lr=0.01
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from deepfuse._utils.errors import ConfigError, NaNLossError, did_you_mean
from deepfuse.training.optimizers_in_use import is_lr_key

__all__ = ["HOOKS", "RUN_KEYS", "Callback", "History", "LambdaCallback", "TerminateOnNaN"]

#: The hooks a callback may override, in the order a run calls them.
HOOKS = (
    "on_train_begin",
    "on_epoch_begin",
    "on_train_batch_end",
    "on_validation_end",
    "on_epoch_end",
    "on_train_end",
)


class Callback:
    """Base class: override the hooks you need; the others cost nothing.

    Attributes:
        model: The model being trained (Keras' ``self.model``), set by :meth:`set_model`.
        trainer: Set by :meth:`set_trainer`. Offers ``model``, ``optimizer``, ``stop_training``
            (set it to ``True`` to stop after the current step/epoch), ``epoch`` (0-based),
            ``global_step``, ``steps_per_epoch`` (``None`` if unknown), ``epochs``, ``history``
            (list of epoch log dicts) and ``running_logs()`` (this epoch's loss/metrics so far).

    Example:
        >>> class StopAtLoss(Callback):
        ...     def on_epoch_end(self, epoch, logs):
        ...         if logs["loss"] < 0.1:
        ...             self.trainer.stop_training = True
    """

    trainer: Any = None
    _model: Any = None

    def set_trainer(self, trainer: Any) -> None:
        """Remember the trainer (called once, before training starts)."""
        self.trainer = trainer

    def set_model(self, model: Any) -> None:
        """Remember the model being trained (Keras' hook; called before ``on_train_begin``)."""
        self._model = model

    @property
    def model(self) -> Any:
        """The model being trained, as in Keras: ``self.model.optimizer``,
        ``self.model.stop_training = True`` (stops after the current epoch)."""
        if self._model is None and self.trainer is not None:
            return self.trainer.model
        return self._model

    @model.setter
    def model(self, model: Any) -> None:
        self._model = model

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Called once before the first epoch."""

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """Called once after the last epoch; ``logs`` are the last epoch's logs."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        """Called at the start of epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """Called after each epoch; ``logs`` has loss, metrics, ``val_*`` and, for deepfuse's own
        callbacks, ``lr`` and ``time`` (:data:`RUN_KEYS`; Keras' logs have neither, and
        :class:`History` keeps them apart)."""

    def on_train_batch_end(self, step: int, logs: dict[str, Any]) -> None:
        """Called after each training step (``step`` is 0-based within the epoch). Keep it cheap."""

    def on_validation_end(self, logs: dict[str, Any]) -> None:
        """Called after validation, before ``on_epoch_end``."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state needed to resume (empty for stateless callbacks)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


#: Keys the trainer adds to every epoch's logs for deepfuse's own callbacks (progress bar,
#: TensorBoard, CSV logs): the learning rate at the epoch's end and the epoch's seconds. Keras'
#: logs have neither, so :class:`History` keeps them apart (``history.lr``, ``history.epoch_time``).
RUN_KEYS = {"lr": "lr", "time": "epoch_time"}


class History(Callback):
    """Records every epoch's losses and metrics, like Keras: ``history.history["val_loss"][-1]``.

    Also what ``Model.fit`` returns (built with :meth:`from_logs` from the trainer's logs).
    As in Keras, ``history.history`` holds only what the steps logged (losses, metrics,
    ``val_*``, and ``learning_rate`` when a Keras ``LearningRateScheduler`` ran), so
    ``pd.DataFrame(history.history)`` plots losses; the trainer's learning rate and epoch
    seconds are kept in :attr:`lr` and :attr:`epoch_time`, and the learning rates of the
    optimizers a custom step uses (``d_optimizer_lr``, ...) in :attr:`optimizer_lr`.

    Attributes:
        history: ``dict[str, list[float]]``: one list per logged key, one value per epoch.
        epoch: The 0-based epoch numbers recorded.
        lr: The learning rate at each epoch's end (empty when training used its own optimizers).
        epoch_time: The seconds each epoch took (training and validation).
        optimizer_lr: ``{"<attribute>_lr": [...]}``: the learning rate of each optimizer a
            custom ``train_step`` stepped (a GAN's ``d_optimizer_lr`` / ``g_optimizer_lr``).

    Example:
        >>> h = History()
        >>> h.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.6, "lr": 0.01, "time": 1.5})
        >>> h.on_epoch_end(1, {"loss": 0.4, "val_loss": 0.5, "lr": 0.01, "time": 1.25})
        >>> h.history
        {'loss': [0.5, 0.4], 'val_loss': [0.6, 0.5]}
        >>> h.lr, h.epoch_time
        ([0.01, 0.01], [1.5, 1.25])
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.lr: list[float] = []
        self.epoch_time: list[float] = []
        self.optimizer_lr: dict[str, list[float]] = {}

    @classmethod
    def from_logs(cls, epoch_logs: list[dict[str, float]], *, initial_epoch: int = 0) -> History:
        """A History of ``epoch_logs`` (one dict per epoch), numbered from ``initial_epoch``.

        Example:
            >>> History.from_logs([{"loss": 0.5}, {"loss": 0.4}], initial_epoch=3).epoch
            [3, 4]
        """
        history = cls()
        for offset, logs in enumerate(epoch_logs):
            history.on_epoch_end(initial_epoch + offset, logs)
        return history

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            if key in RUN_KEYS:
                getattr(self, RUN_KEYS[key]).append(float(value))
            elif is_lr_key(key):  # a trainer-added "<optimizer attribute>_lr"
                self.optimizer_lr.setdefault(key, []).append(float(value))
            else:
                self.history.setdefault(key, []).append(float(value))

    def run_history(self) -> dict[str, list[float]]:
        """:attr:`history` with the ``lr``, ``<optimizer>_lr`` and ``time`` columns (what a
        run's ``history.csv`` holds).

        Example:
            >>> History.from_logs([{"loss": 0.5, "lr": 0.1, "time": 2.0}]).run_history()
            {'loss': [0.5], 'lr': [0.1], 'time': [2.0]}
        """
        extra = {key: getattr(self, attr) for key, attr in RUN_KEYS.items()}
        lrs = {k: list(v) for k, v in self.optimizer_lr.items()}
        return {**self.history, **lrs, **{k: list(v) for k, v in extra.items() if v}}

    def state_dict(self) -> dict[str, Any]:
        return {
            "history": {k: list(v) for k, v in self.history.items()},
            "epoch": list(self.epoch),
            "lr": list(self.lr),
            "epoch_time": list(self.epoch_time),
            "optimizer_lr": {k: list(v) for k, v in self.optimizer_lr.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]
        self.lr = [float(x) for x in state.get("lr", [])]
        self.epoch_time = [float(x) for x in state.get("epoch_time", [])]
        self.optimizer_lr = {
            k: [float(x) for x in v] for k, v in (state.get("optimizer_lr") or {}).items()
        }

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class TerminateOnNaN(Callback):
    """Stops training with :class:`NaNLossError` as soon as the loss is NaN or infinite.

    The message names the epoch, the global step and the last finite loss, and how to fix it.

    Example:
        >>> import types
        >>> cb = TerminateOnNaN()
        >>> cb.set_trainer(types.SimpleNamespace(epoch=0, global_step=7, stop_training=False))
        >>> cb.on_train_batch_end(6, {"loss": 0.5})
        >>> cb.on_train_batch_end(7, {"loss": float("nan")})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.NaNLossError: The loss became nan at epoch 1, step 8 (global step 7)...
    """

    def __init__(self) -> None:
        self.last_finite_loss: float | None = None

    def on_train_batch_end(self, step: int, logs: dict[str, Any]) -> None:
        loss = logs.get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isfinite(loss):
            self.last_finite_loss = loss
            return
        self._stop(loss, f"step {step + 1} (global step {self.trainer.global_step})")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        for key in ("loss", "val_loss"):
            value = logs.get(key)
            if value is not None and not math.isfinite(float(value)):
                self._stop(float(value), f"the end of the epoch ({key})")

    def _stop(self, loss: float, where: str) -> None:
        self.trainer.stop_training = True
        last = "none" if self.last_finite_loss is None else f"{self.last_finite_loss:.6g}"
        epoch = getattr(self.trainer, "epoch", 0) + 1
        raise NaNLossError(
            f"The loss became {loss} at epoch {epoch}, {where}; the last finite loss was "
            f"{last}. Training stopped. Lower the learning rate, set gradient clipping "
            "(grad_clip=1.0), or check the inputs and targets for NaN/inf values."
        )


class LambdaCallback(Callback):
    """A callback from plain functions, one per hook (Keras' ``LambdaCallback``).

    Only the hooks you pass are overridden, so the trainer does not call the others.

    Args:
        **hooks: ``on_epoch_end=lambda epoch, logs: ...``, ``on_train_batch_end=lambda step,
            logs: ...``, ``on_train_begin=lambda logs: ...`` and so on (see :data:`HOOKS`).

    Example:
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
        >>> cb.on_epoch_end(3, {"loss": 0.25})
        3 0.25
        >>> "on_train_batch_end" in type(cb).__dict__
        False
    """

    def __new__(cls, **hooks: Callable[..., Any] | None) -> LambdaCallback:
        for name in hooks:
            if name not in HOOKS:
                raise ConfigError(
                    f"Unknown callback hook {name!r} for LambdaCallback. Allowed hooks: "
                    f"{', '.join(HOOKS)}.{did_you_mean(name, HOOKS)}"
                )
        # A subclass per instance that defines exactly the given hooks, so the trainer's
        # "does the class override this hook?" check skips the others.
        methods = {name: _forwarder(name) for name, fn in hooks.items() if fn is not None}
        subclass = type(cls.__name__, (cls,), methods)
        return super().__new__(subclass)

    def __init__(self, **hooks: Callable[..., Any] | None) -> None:
        self.functions = {name: fn for name, fn in hooks.items() if fn is not None}


def _forwarder(name: str) -> Callable[..., None]:
    def hook(self: LambdaCallback, *args: Any) -> None:
        self.functions[name](*args)

    hook.__name__ = name
    return hook
