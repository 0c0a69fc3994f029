"""A progress bar that costs nothing per step: tqdm on a terminal, plain lines in logs and CI.

Per step, :class:`ProgressBar` only adds 1 to a counter and compares it with a threshold (about
0.1 µs). Every N steps it reads the clock; when enough time has passed (``refresh`` seconds) it
reads ``trainer.running_logs()``, hands tqdm the accumulated steps and the live loss/metrics, and
re-estimates N from the measured step rate, so the clock is read a few times per refresh whatever
the step time.

When the output is not a terminal or the ``CI`` environment variable is set, it prints one plain
line per epoch (loss, metrics, validation metrics, learning rate, time) and, for long epochs, at
most one progress line every ``plain_interval`` seconds.

Example:
    >>> bar = ProgressBar()            # tqdm on a terminal, plain lines otherwise
    >>> quiet = ProgressBar(plain=True, plain_interval=30.0)
"""

from __future__ import annotations

import io
import os
import sys
import time
from typing import Any, TextIO

from deepfuse.training.callbacks.base import Callback
from deepfuse.training.optimizers_in_use import is_lr_key

__all__ = ["ProgressBar", "format_logs", "with_progress_bar"]


def _fmt(key: str, value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if is_lr_key(key):  # "lr", "d_optimizer_lr", ...
        return f"{v:.3g}"
    return f"{v:.4f}" if v == 0 or 1e-3 <= abs(v) < 1e5 else f"{v:.3e}"


def format_logs(logs: dict[str, Any], sep: str = " - ") -> str:
    """Format logs Keras-style: ``"loss: 0.3412 - accuracy: 0.9100"`` (``time`` left out).

    Example:
        >>> format_logs({"loss": 0.34123, "val_loss": 0.4, "lr": 0.001, "time": 3.2})
        'loss: 0.3412 - val_loss: 0.4000 - lr: 0.001'
    """
    return sep.join(f"{k}: {_fmt(k, v)}" for k, v in logs.items() if k != "time")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{sec:02d}s" if hours else f"{minutes}m{sec:02d}s"


def _use_plain(stream: Any) -> bool:
    ci = os.environ.get("CI", "").strip().lower()
    if ci and ci not in ("0", "false", "no"):
        return True
    if stream is sys.stdout and "ipykernel" in sys.modules:
        return False  # Jupyter: not a TTY, but tqdm.auto draws a widget there
    isatty = getattr(stream, "isatty", None)
    try:
        return not (isatty and isatty())
    except (ValueError, OSError):  # closed stream
        return True


def _size_options(stream: Any) -> dict[str, Any]:
    # A pseudo-terminal without a window size (some CI runners, `docker exec -t`) reports 0x0:
    # tqdm would then draw nothing at all, so give it a fixed size.
    try:
        if os.get_terminal_size(stream.fileno()).columns > 0:
            return {"dynamic_ncols": True}
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        pass
    return {"ncols": 100, "nrows": 24}


class ProgressBar(Callback):
    """Live progress with rate, ETA and running loss/metrics.

    Args:
        refresh: Seconds between bar refreshes on a terminal (0.15 → about 7 per second).
        plain: ``True`` forces plain lines, ``False`` forces tqdm, ``None`` (default) picks plain
            lines when the output is not a terminal or ``CI`` is set.
        plain_interval: Seconds between progress lines inside an epoch in plain mode
            (``float("inf")``: only the per-epoch lines, like Keras' ``verbose=2``).
        file: Output stream (default: ``sys.stdout`` at the start of training).

    Example:
        >>> import io, types
        >>> out = io.StringIO()
        >>> bar = ProgressBar(plain=True, file=out)
        >>> bar.set_trainer(types.SimpleNamespace(epochs=2, steps_per_epoch=10, global_step=0))
        >>> bar.on_train_begin({}); bar.on_epoch_begin(0, {})
        >>> for step in range(10):
        ...     bar.on_train_batch_end(step, {"loss": 0.5})
        >>> bar.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.6, "lr": 0.01, "time": 1.25})
        >>> out.getvalue()
        'Epoch 1/2 - 10 steps - 1.2s - loss: 0.5000 - val_loss: 0.6000 - lr: 0.01\\n'
    """

    def __init__(
        self,
        refresh: float = 0.15,
        plain: bool | None = None,
        plain_interval: float = 15.0,
        file: TextIO | None = None,
    ) -> None:
        self.refresh = float(refresh)
        self.plain = plain
        self.plain_interval = float(plain_interval)
        self.file = file
        self._bar: Any = None
        self._pending = 0  # steps not yet handed to the bar
        self._next_check = 1  # read the clock when _pending reaches this
        self._steps = 0  # steps done this epoch (plain mode)

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._out = self.file if self.file is not None else sys.stdout
        self._plain = _use_plain(self._out) if self.plain is None else self.plain
        self._interval = self.plain_interval if self._plain else self.refresh

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        trainer = self.trainer
        self._desc = f"Epoch {epoch + 1}/{trainer.epochs}"
        self._total = trainer.steps_per_epoch
        self._pending, self._next_check, self._steps = 0, 1, 0
        self._start = self._last = time.perf_counter()
        if not self._plain:
            from tqdm.auto import tqdm

            # We throttle ourselves, so tqdm redraws on every update() we make.
            self._bar = tqdm(
                total=self._total,
                desc=self._desc,
                unit="step",
                file=self._out,
                **_size_options(self._out),
                leave=True,
                mininterval=0,
                miniters=1,
            )

    def on_train_batch_end(self, step: int, logs: dict[str, Any]) -> None:
        # The hot path: one increment and one comparison on almost every step.
        self._pending += 1
        if self._pending >= self._next_check:
            self._tick()

    def _tick(self) -> None:
        now = time.perf_counter()
        elapsed = now - self._last
        pending = self._pending
        if elapsed < self._interval:
            # Too early: check again after about the steps the remaining time takes.
            remaining = pending * (self._interval - elapsed) / max(elapsed, 1e-9)
            self._next_check = pending + max(1, int(min(remaining * 0.5, 1e6)))  # inf-safe
            return
        self._last = now
        self._pending = 0
        self._steps += pending
        # Next clock read after about a quarter of the steps one interval takes at this rate.
        self._next_check = max(1, int(pending * self._interval / elapsed / 4))
        running = self.trainer.running_logs()
        if self._plain:
            self._print_progress(now, running)
        else:
            self._bar.set_postfix_str(format_logs(running, sep=", "), refresh=False)
            self._bar.update(pending)

    def _print_progress(self, now: float, running: dict[str, Any]) -> None:
        elapsed = now - self._start
        where = f"step {self._steps}"
        eta = ""
        if self._total:
            where += f"/{self._total}"
            left = max(self._total - self._steps, 0) * elapsed / max(self._steps, 1)
            eta = f", ETA {_duration(left)}"
        rate = self._steps / max(elapsed, 1e-9)
        line = f"{self._desc} - {where} - {rate:.1f} steps/s{eta} - {format_logs(running)}"
        print(line, file=self._out, flush=True)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        steps = self._steps + self._pending
        seconds = logs.get("time", time.perf_counter() - self._start)
        if self._plain:
            line = (
                f"{self._desc} - {steps} steps - {_duration(float(seconds))} - {format_logs(logs)}"
            )
            print(line, file=self._out, flush=True)
            return
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs, sep=", "), refresh=False)
            if self._pending:
                self._bar.update(self._pending)
            else:
                self._bar.refresh()
            self._bar.close()
            self._bar = None
        self._pending = 0

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self._bar is not None:  # training stopped inside an epoch
            self._bar.close()
            self._bar = None


def with_progress_bar(callbacks: list[Any], verbose: int) -> list[Any]:
    """``callbacks`` plus the progress display ``fit(verbose=...)`` asks for, unless one is there.

    ``verbose``: 0 nothing, 1 a progress bar, 2 one plain line per epoch.

    Example:
        >>> [type(c).__name__ for c in with_progress_bar([], 2)]
        ['ProgressBar']
    """
    if not verbose or any(isinstance(c, ProgressBar) for c in callbacks):
        return callbacks
    bar = ProgressBar() if verbose == 1 else ProgressBar(plain=True, plain_interval=float("inf"))
    return [*callbacks, bar]
