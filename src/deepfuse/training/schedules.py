"""Learning-rate schedules by name, wrapping ``torch.optim.lr_scheduler``.

A :class:`Schedule` is bound to one optimizer and says *when* it steps: ``interval == "step"``
(after every batch: ``cosine``, ``one_cycle``, anything with warmup) or ``interval == "epoch"``
(after every epoch: ``step``, ``exponential``, ``reduce_on_plateau``, ``constant``). The
:class:`~deepfuse.training.callbacks.LRScheduler` callback calls ``schedule.step()`` at the right
time; ``reduce_on_plateau`` gets the epoch logs and reads its ``monitor`` from them.

=================  ========  ==================================================================
name               interval  options (defaults)
=================  ========  ==================================================================
constant           epoch     —
step               epoch     step_size (epochs; default epochs // 3), gamma=0.1
exponential        epoch     gamma=0.95 (per epoch)
cosine             step      min_lr=0.0, interval="step" ("epoch" for per-epoch resolution)
one_cycle          step      max_lr (default: the optimizer's lr), pct_start=0.3, div_factor=25,
                             final_div_factor=1e4, anneal_strategy="cos", three_phase=False,
                             cycle_momentum (default: True when the optimizer has momentum/betas)
reduce_on_plateau  epoch     monitor="val_loss", mode="auto", factor=0.1, patience=10,
                             min_delta=1e-4, cooldown=0, min_lr=0.0
warmup             step      warmup_steps | warmup_epochs, then=<schedule spec> (default constant)
=================  ========  ==================================================================

Any schedule except ``reduce_on_plateau`` also takes ``warmup_steps`` or ``warmup_epochs``: the
learning rate ramps linearly from ``lr / warmup_steps`` on the first batch to ``lr`` on batch
``warmup_steps``, then the wrapped schedule runs over the remaining steps/epochs
(``{"name": "cosine", "warmup_epochs": 1}``).

Example:
    >>> import torch
    >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    >>> sched = build_schedule({"name": "step", "step_size": 2, "gamma": 0.5}, opt,
    ...                        steps_per_epoch=10, epochs=6)
    >>> lrs = []
    >>> for epoch in range(6):
    ...     lrs.append(opt.param_groups[0]["lr"])
    ...     opt.step(); sched.step()
    >>> lrs
    [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.optim import lr_scheduler as tls

from deepfuse._utils.errors import ConfigError, did_you_mean, format_message, invalid_choice
from deepfuse._utils.registry import Registry

__all__ = ["SCHEDULES", "Schedule", "WarmupSchedule", "build_schedule", "resolve_mode"]

_MAX_WORDS = ("acc", "auc", "f1", "precision", "recall", "r2", "iou", "dice", "top", "map")


def resolve_mode(monitor: str, mode: str = "auto") -> str:
    """Return ``"min"`` or ``"max"``: ``"auto"`` maximises accuracy-like names, else minimises.

    Example:
        >>> resolve_mode("val_accuracy"), resolve_mode("val_loss"), resolve_mode("loss", "max")
        ('max', 'min', 'max')
    """
    if mode not in ("auto", "min", "max"):
        raise invalid_choice("mode", mode, ["auto", "min", "max"])
    if mode != "auto":
        return mode
    name = monitor.lower().removeprefix("val_")
    return "max" if any(w in name for w in _MAX_WORDS) and "loss" not in name else "min"


class Schedule:
    """A learning-rate schedule bound to one optimizer.

    Attributes:
        name: The registered name (``"cosine"``...).
        interval: ``"step"`` (call :meth:`step` after every batch) or ``"epoch"`` (after every epoch).
        monitor: The epoch-log key :meth:`step` needs (``reduce_on_plateau`` only), else ``None``.
        scheduler: The wrapped ``torch.optim.lr_scheduler`` object, or ``None`` (``constant``).

    Example:
        >>> import torch
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> s = Schedule(opt, tls.ExponentialLR(opt, gamma=0.5), name="exponential", interval="epoch")
        >>> opt.step(); s.step(); s.lr
        0.05
    """

    # fmt: off
    def __init__(self, optimizer: torch.optim.Optimizer, scheduler: Any = None, *,
                 name: str = "custom", interval: str = "epoch", monitor: str | None = None,
                 max_steps: int | None = None) -> None:
        # fmt: on
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.name = name
        self.interval = interval
        self.monitor = monitor
        # Finite-horizon schedules (cosine, one_cycle) stop here: torch's cosine is periodic and
        # OneCycleLR raises past total_steps, e.g. when an epoch turned out longer than announced.
        self.max_steps = max_steps
        self.count = 0

    @property
    def lr(self) -> float:
        """The learning rate of the first parameter group."""
        return float(self.optimizer.param_groups[0]["lr"])

    def step(self, metrics: float | Mapping[str, float] | None = None) -> None:
        """Advance one step (or epoch). ``metrics``: the monitored value or the epoch-log dict."""
        if self.max_steps is not None and self.count >= self.max_steps:
            return
        self.count += 1
        if self.scheduler is None:
            return
        if self.monitor is None:
            self.scheduler.step()
            return
        if isinstance(metrics, Mapping):
            if self.monitor not in metrics:
                raise ConfigError(
                    f"The schedule {self.name!r} monitors {self.monitor!r}, which is not in the "
                    f"epoch logs (keys: {', '.join(sorted(metrics))}).{did_you_mean(self.monitor, metrics)}"
                    " Set 'monitor' to one of them, or pass validation data for val_* keys."
                )
            metrics = metrics[self.monitor]
        self.scheduler.step(float(metrics))  # type: ignore[arg-type]

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state (``inf`` is written as ``Infinity`` by ``json``)."""
        inner = self.scheduler.state_dict() if self.scheduler is not None else None
        return {"name": self.name, "count": self.count, "scheduler": inner}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.count = int(state["count"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(dict(state["scheduler"]))
            lrs = state["scheduler"].get("_last_lr")
            if lrs is not None:  # torch restores counters, not the optimizer's current lr
                for group, lr in zip(self.optimizer.param_groups, lrs):
                    group["lr"] = lr


class WarmupSchedule(Schedule):
    """Linear warmup over ``warmup_steps`` batches, then the wrapped schedule.

    Batch ``s`` (0-based) of the warmup uses ``lr * (s + 1) / warmup_steps``; from batch
    ``warmup_steps`` on, the wrapped schedule starts from its own first value. An epoch-interval
    schedule inside steps every ``steps_per_epoch`` batches after the warmup.

    Example:
        >>> import torch
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> s = WarmupSchedule(opt, Schedule(opt, name="constant"), warmup_steps=4)
        >>> lrs = []
        >>> for _ in range(6):
        ...     lrs.append(round(s.lr, 4)); opt.step(); s.step()
        >>> lrs
        [0.025, 0.05, 0.075, 0.1, 0.1, 0.1]
    """

    # fmt: off
    def __init__(self, optimizer: torch.optim.Optimizer, inner: Schedule, *, warmup_steps: int,
                 steps_per_epoch: int | None = None) -> None:
        # fmt: on
        if inner.monitor is not None:
            raise ConfigError(
                f"Warmup cannot wrap {inner.name!r}: it steps per batch, {inner.name!r} per epoch "
                "on a metric. Drop warmup_steps/warmup_epochs or use another schedule."
            )
        if inner.interval == "epoch" and inner.scheduler is not None and not steps_per_epoch:
            raise ConfigError(f"Warmup around {inner.name!r} needs steps_per_epoch.")
        super().__init__(optimizer, None, name=inner.name, interval="step")
        self.inner = inner
        self.warmup_steps = int(warmup_steps)
        self.steps_per_epoch = steps_per_epoch
        # The wrapped schedule set its first lr when torch built it; the ramp climbs to it.
        self.targets = [float(g["lr"]) for g in optimizer.param_groups]
        self._set_factor(1.0 / self.warmup_steps)

    def _set_factor(self, factor: float) -> None:
        for group, target in zip(self.optimizer.param_groups, self.targets):
            group["lr"] = target * factor

    def step(self, metrics: float | Mapping[str, float] | None = None) -> None:
        """Advance one batch."""
        self.count += 1
        after = self.count - self.warmup_steps  # batches run by the wrapped schedule
        if after <= 0:  # factor 1 at after == 0: exactly the wrapped schedule's first value
            self._set_factor(min(1.0, (self.count + 1) / self.warmup_steps))
        elif self.inner.interval == "step" or after % (self.steps_per_epoch or 1) == 0:
            self.inner.step()

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state, the wrapped schedule's included."""
        return {
            "name": self.name,
            "count": self.count,
            "targets": self.targets,
            "inner": self.inner.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.inner.load_state_dict(state["inner"])
        self.count = int(state["count"])
        self.targets = [float(t) for t in state["targets"]]
        if self.count <= self.warmup_steps:
            self._set_factor(min(1.0, (self.count + 1) / self.warmup_steps))


# --- builders: keyword-only options are the schedule's config keys ---------------------------


def _constant(opt, ctx):
    return Schedule(opt, name="constant", interval="epoch")


def _step(opt, ctx, *, step_size: int | None = None, gamma: float = 0.1):
    step_size = step_size or max(1, ctx["epochs"] // 3)
    return Schedule(opt, tls.StepLR(opt, step_size=int(step_size), gamma=gamma), name="step")


def _exponential(opt, ctx, *, gamma: float = 0.95):
    return Schedule(opt, tls.ExponentialLR(opt, gamma=gamma), name="exponential")


def _cosine(opt, ctx, *, min_lr: float = 0.0, interval: str = "step"):
    if interval not in ("step", "epoch"):
        raise invalid_choice("cosine interval", interval, ["step", "epoch"])
    total = _total_steps(ctx, "cosine") if interval == "step" else ctx["epochs"]
    sched = tls.CosineAnnealingLR(opt, T_max=max(1, total), eta_min=min_lr)
    return Schedule(opt, sched, name="cosine", interval=interval, max_steps=total)


# fmt: off
def _one_cycle(opt, ctx, *, max_lr: float | None = None, pct_start: float = 0.3,
               div_factor: float = 25.0, final_div_factor: float = 1e4,
               anneal_strategy: str = "cos", three_phase: bool = False,
               cycle_momentum: bool | None = None):
    total = _total_steps(ctx, "one_cycle")
    if max_lr is None:
        max_lr = [float(g["lr"]) for g in opt.param_groups]
    if cycle_momentum is None:  # torch raises for optimizers without momentum
        d = opt.defaults
        cycle_momentum = "betas" in d or float(d.get("momentum", 0) or 0) > 0
    sched = tls.OneCycleLR(opt, max_lr=max_lr, total_steps=max(2, total), pct_start=pct_start,
                           div_factor=div_factor, final_div_factor=final_div_factor,
                           anneal_strategy=anneal_strategy, three_phase=three_phase,
                           cycle_momentum=cycle_momentum)
    return Schedule(opt, sched, name="one_cycle", interval="step", max_steps=total)


def _reduce_on_plateau(opt, ctx, *, monitor: str = "val_loss", mode: str = "auto",
                       factor: float = 0.1, patience: int = 10, min_delta: float = 1e-4,
                       cooldown: int = 0, min_lr: float = 0.0):
    # threshold_mode="abs": Keras' min_delta semantics (improvement by more than min_delta).
    sched = tls.ReduceLROnPlateau(opt, mode=resolve_mode(monitor, mode), factor=factor,
                                  patience=patience, threshold=min_delta, threshold_mode="abs",
                                  cooldown=cooldown, min_lr=min_lr)
    return Schedule(opt, sched, name="reduce_on_plateau", interval="epoch", monitor=monitor)
# fmt: on


def _warmup(opt, ctx, *, then: Any = "constant"):
    return _build(then, opt, ctx)


#: Schedule names -> builder functions; the builders' keyword-only arguments are the options.
#: Lookups ignore case, and ``-`` reads as ``_`` (``"One-Cycle"`` finds ``one_cycle``).
SCHEDULES: Registry[Callable[..., Schedule]] = Registry(
    "schedule", normalize=lambda name: name.strip().lower().replace("-", "_")
)
SCHEDULES.register("constant", _constant)
SCHEDULES.register("step", _step)
SCHEDULES.register("exponential", _exponential)
SCHEDULES.register("cosine", _cosine, aliases=["cosine_decay"])
SCHEDULES.register("one_cycle", _one_cycle, aliases=["onecycle"])
SCHEDULES.register("reduce_on_plateau", _reduce_on_plateau, aliases=["plateau"])
SCHEDULES.register("warmup", _warmup)


def _total_steps(ctx: dict[str, Any], name: str) -> int:
    if not ctx["steps_per_epoch"]:
        raise ConfigError(
            f"The schedule {name!r} steps per batch and needs the number of steps per epoch. "
            "Use data with a known length, or a per-epoch schedule like 'step'."
        )
    return ctx["total_steps"]


def build_schedule(
    spec: Any, optimizer: torch.optim.Optimizer, *, steps_per_epoch: int | None, epochs: int
) -> Schedule:
    """Build a :class:`Schedule` from a name, a dict, a torch scheduler or a Schedule.

    Args:
        spec: ``"cosine"``; ``{"name": "step", "step_size": 10, "gamma": 0.5}``;
            ``{"name": "cosine", "warmup_epochs": 1}``; a ``torch.optim.lr_scheduler`` object
            (stepped per epoch; ``ReduceLROnPlateau`` monitors ``val_loss``); or a Schedule.
        optimizer: The optimizer whose learning rate is scheduled.
        steps_per_epoch: Batches per epoch (``None`` if unknown: per-batch schedules then fail).
        epochs: Number of epochs of the run.

    Returns:
        The schedule; call ``step()`` after each batch or epoch as ``schedule.interval`` says.

    Raises:
        ConfigError: Unknown name or option (with the allowed ones and a suggestion).

    Example:
        >>> import torch
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> s = build_schedule({"name": "cosine", "warmup_epochs": 1}, opt, steps_per_epoch=5, epochs=3)
        >>> s.interval, round(s.lr, 3)
        ('step', 0.02)
    """
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, tls.ReduceLROnPlateau):
        return Schedule(optimizer, spec, name="reduce_on_plateau", monitor="val_loss")
    if isinstance(spec, tls.LRScheduler):
        return Schedule(optimizer, spec, name=type(spec).__name__, interval="epoch")
    total = steps_per_epoch * int(epochs) if steps_per_epoch else None
    ctx = {"steps_per_epoch": steps_per_epoch, "epochs": int(epochs), "total_steps": total}
    return _build(spec, optimizer, ctx)


def _build(spec: Any, opt: torch.optim.Optimizer, ctx: dict[str, Any]) -> Schedule:
    if spec is None:
        spec = "constant"
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, Mapping) and "name" in spec:
        options = dict(spec)
        name = options.pop("name")
    else:
        raise ConfigError(
            f"Cannot build a learning-rate schedule from {spec!r}. Expected a name like "
            f"'cosine' or a dict with 'name'. Allowed names: {', '.join(SCHEDULES.names())}."
        )
    key = SCHEDULES.canonical(name)  # unknown: ConfigError with the names and a did-you-mean
    builder = SCHEDULES.get(key)
    warmup = _warmup_steps(options, ctx, key)
    allowed = [
        p.name
        for p in inspect.signature(builder).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    allowed_all = [*allowed, "warmup_steps", "warmup_epochs"]
    for opt_name in options:
        if opt_name not in allowed:
            raise ConfigError(
                f"Unknown option {opt_name!r} for schedule {key!r}. Allowed options: "
                f"{', '.join(allowed_all)}.{did_you_mean(opt_name, allowed_all)}"
            )
    if builder is _warmup and not warmup:
        raise ConfigError("The 'warmup' schedule needs warmup_steps or warmup_epochs (> 0).")
    inner_ctx = dict(ctx)
    if warmup:  # the wrapped schedule runs over what is left after the warmup
        spe = ctx["steps_per_epoch"] or 0
        inner_ctx["epochs"] = max(1, ctx["epochs"] - (math.ceil(warmup / spe) if spe else 0))
        if ctx["total_steps"]:
            inner_ctx["total_steps"] = max(1, ctx["total_steps"] - warmup)
    try:
        schedule = builder(opt, inner_ctx, **options)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"Invalid options for schedule {key!r}: {exc}. Got {options!r}.") from exc
    if warmup:
        schedule = WarmupSchedule(
            opt, schedule, warmup_steps=warmup, steps_per_epoch=ctx["steps_per_epoch"]
        )
    return schedule


def _warmup_steps(options: dict[str, Any], ctx: dict[str, Any], name: str) -> int:
    steps = options.pop("warmup_steps", None)
    epochs = options.pop("warmup_epochs", None)
    if steps is not None and epochs is not None:
        raise ConfigError(f"Schedule {name!r}: give warmup_steps or warmup_epochs, not both.")
    if epochs is not None:
        if not ctx["steps_per_epoch"]:
            raise ConfigError(
                f"Schedule {name!r}: warmup_epochs needs a known number of steps per epoch; "
                "use warmup_steps instead."
            )
        steps = round(float(epochs) * ctx["steps_per_epoch"])
    steps = int(steps or 0)
    if steps < 0:
        raise ConfigError(format_message("warmup_steps must be >= 0.", got=steps))
    return steps
