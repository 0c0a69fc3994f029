"""Callbacks that watch a metric: :class:`EarlyStopping` and :class:`ModelCheckpoint`.

``mode="auto"`` maximises accuracy-like names (accuracy, auc, f1, precision, recall, r2...) and
minimises everything else (loss, mae...).

Example:
    >>> stop = EarlyStopping(monitor="val_loss", patience=3)
    >>> ckpt = ModelCheckpoint("runs/ckpt", monitor="val_accuracy", save_best_only=True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from deepfuse._utils.errors import ConfigError, did_you_mean
from deepfuse._utils.io import atomic_write, atomic_write_json
from deepfuse.training.callbacks.base import Callback
from deepfuse.training.schedules import resolve_mode

__all__ = ["EarlyStopping", "ModelCheckpoint"]


class _Monitor:
    """Tracks the best value of one log key."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.mode = resolve_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best: float | None = None
        self.best_epoch: int | None = None

    def value(self, logs: Mapping[str, Any], who: str) -> float:
        if self.monitor not in logs:
            raise ConfigError(
                f"{who} monitors {self.monitor!r}, which is not in the epoch logs "
                f"(keys: {', '.join(sorted(logs))}).{did_you_mean(self.monitor, logs)} Set "
                "monitor= to one of them; val_* keys need validation_data or validation_split."
            )
        return float(logs[self.monitor])

    def improved(self, current: float) -> bool:
        if not math.isfinite(current):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def update(self, current: float, epoch: int) -> bool:
        """Record ``current``; return whether it is a new best."""
        better = self.improved(current)
        if better:
            self.best, self.best_epoch = current, epoch
        return better


class EarlyStopping(Callback):
    """Stops training when ``monitor`` stops improving, then restores the best weights.

    Training stops after ``patience`` epochs in a row without an improvement larger than
    ``min_delta``. With ``restore_best_weights=True`` (the default, unlike Keras) a CPU copy of the
    weights of the best epoch is kept and loaded back at the end of training, also when training
    ran to the last epoch. It prints what it did (``verbose=True``).

    Args:
        monitor: Epoch-log key to watch (``"val_loss"``, ``"val_accuracy"``, ``"loss"``...).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name).
        patience: Epochs without improvement before stopping.
        min_delta: Smallest change that counts as an improvement (absolute).
        restore_best_weights: Load the best epoch's weights back at the end.
        start_from_epoch: Epochs to wait before counting (warmup epochs are noisy).
        verbose: Print a line when it stops and when it restores weights.

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=2)
        >>> stop.state_dict()["patience"]
        2
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
        start_from_epoch: int = 0,
        verbose: bool = True,
    ) -> None:
        self._monitor = _Monitor(monitor, mode, min_delta)
        self.monitor = monitor
        self.patience = int(patience)
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self.verbose = verbose
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.message = ""  # what it did, also printed when verbose

    @property
    def best(self) -> float | None:
        """The best monitored value so far."""
        return self._monitor.best

    @property
    def best_epoch(self) -> int | None:
        """The 0-based epoch of the best value."""
        return self._monitor.best_epoch

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if not getattr(self, "_restored", False):  # a resumed run keeps its stopping epoch
            self.stopped_epoch = None
        self._restored = False
        self.message = ""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if epoch < self.start_from_epoch:
            return
        current = self._monitor.value(logs, "EarlyStopping")
        if self._monitor.update(current, epoch):
            self.wait = 0
            if self.restore_best_weights:
                state = self.trainer.model.state_dict()
                self.best_weights = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs: dict[str, Any]) -> None:
        parts = []
        if self.stopped_epoch is not None:
            parts.append(
                f"EarlyStopping: stopped after epoch {self.stopped_epoch + 1}: {self.monitor} did "
                f"not improve for {self.wait} epochs."
            )
        last_epoch = getattr(self.trainer, "epoch", None)
        best = self.best_weights
        if self.restore_best_weights and best is not None and self.best_epoch != last_epoch:
            self.trainer.model.load_state_dict(best)
            parts.append(
                f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1} "
                f"(best {self.monitor}={self.best:.6g})."
            )
        self.message = " ".join(parts)
        if self.verbose and self.message:
            print(self.message, flush=True)

    def state_dict(self) -> dict[str, Any]:
        """JSON-able counters (the best weights are not included: checkpoint them)."""
        return {
            "monitor": self.monitor,
            "patience": self.patience,
            "wait": self.wait,
            "best": self.best,
            "best_epoch": self.best_epoch,
            # a run resumed after it stopped early still knows why it stopped (metrics.json)
            "stopped_epoch": self.stopped_epoch,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.wait = int(state["wait"])
        self._monitor.best = state["best"]
        self._monitor.best_epoch = state["best_epoch"]
        self.stopped_epoch = state.get("stopped_epoch")  # absent in older checkpoints
        self._restored = True

    def checkpoint_state(self) -> dict[str, Any]:
        """:meth:`state_dict` plus the best weights (tensors): what a training checkpoint saves."""
        return {**self.state_dict(), "best_weights": self.best_weights}

    def load_checkpoint_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`checkpoint_state` (counters and best weights)."""
        self.load_state_dict(state)
        best = state.get("best_weights")
        self.best_weights = dict(best) if best is not None else None


class ModelCheckpoint(Callback):
    """Saves the model's weights as safetensors, atomically, with a JSON sidecar.

    Files in ``directory`` (each written to a temporary file, then renamed over the old one, so a
    crash never leaves a half-written checkpoint):

    - ``best.safetensors`` + ``best.json`` when ``monitor`` improves;
    - ``last.safetensors`` + ``last.json`` after every epoch if ``save_last``;
    - ``epoch_001.safetensors`` + ``.json`` for every epoch unless ``save_best_only``.

    The sidecar holds ``epoch`` (1-based), ``global_step``, ``monitor``, ``value``, ``mode`` and
    all epoch ``logs``. Load with ``safetensors.torch.load_model(model, path)``.

    Args:
        directory: Folder for the files (created if needed).
        monitor: Epoch-log key deciding "best". If it is missing and ``save_best_only`` is False,
            only ``last``/``epoch_*`` files are written.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        save_best_only: Write no per-epoch files, only ``best`` (and ``last``).
        save_last: Also keep ``last.safetensors`` (what a resumed run starts from).
        verbose: Print a line when a new best is saved.

    Example:
        >>> ckpt = ModelCheckpoint("runs/exp1/checkpoints", monitor="val_loss", save_best_only=True)
        >>> ckpt.best_path.name
        'best.safetensors'
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = False,
        save_last: bool = True,
        verbose: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.monitor = monitor
        self._monitor = _Monitor(monitor, mode)
        self.save_best_only = save_best_only
        self.save_last = save_last
        self.verbose = verbose

    @property
    def best_path(self) -> Path:
        """Path of the best weights."""
        return self.directory / "best.safetensors"

    @property
    def best(self) -> float | None:
        """The best monitored value so far."""
        return self._monitor.best

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        value = None
        if self.save_best_only or self.monitor in logs:
            value = self._monitor.value(logs, "ModelCheckpoint")
            if self._monitor.update(value, epoch):
                self._save("best", epoch, value, logs)
                if self.verbose:
                    print(
                        f"ModelCheckpoint: epoch {epoch + 1}: {self.monitor} improved to "
                        f"{value:.6g}, saved {self.best_path}",
                        flush=True,
                    )
        if not self.save_best_only:
            self._save(f"epoch_{epoch + 1:03d}", epoch, value, logs)
        if self.save_last:
            self._save("last", epoch, value, logs)

    def _save(self, stem: str, epoch: int, value: float | None, logs: Mapping[str, Any]) -> None:
        from safetensors.torch import save_model  # handles tied (shared) weights

        model = self.trainer.model
        meta = {"epoch": str(epoch + 1), "format": "pt"}
        atomic_write(
            self.directory / f"{stem}.safetensors", lambda tmp: save_model(model, tmp, meta)
        )
        sidecar = {
            "epoch": epoch + 1,
            "global_step": int(getattr(self.trainer, "global_step", 0)),
            "monitor": self.monitor,
            "value": value,
            "mode": self._monitor.mode,
            "logs": {k: _jsonable(v) for k, v in logs.items()},
        }
        atomic_write_json(self.directory / f"{stem}.json", sidecar)

    def state_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "best": self.best, "best_epoch": self._monitor.best_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._monitor.best = state["best"]
        self._monitor.best_epoch = state["best_epoch"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    return value
