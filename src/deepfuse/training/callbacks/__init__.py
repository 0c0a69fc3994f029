"""Callbacks: hooks into the training loop (progress, early stopping, checkpoints, logs, schedules).

Configs name callbacks in snake_case with their constructor arguments as options; :func:`get`
builds one, :func:`get_list` a list.

Example:
    >>> from deepfuse.training import callbacks
    >>> stop = callbacks.get({"early_stopping": {"monitor": "val_accuracy", "patience": 3}})
    >>> type(stop).__name__, stop.patience
    ('EarlyStopping', 3)
    >>> [type(c).__name__ for c in callbacks.get_list({"terminate_on_nan": {}, "history": None})]
    ['TerminateOnNaN', 'History']
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

from deepfuse._utils.errors import ConfigError, did_you_mean
from deepfuse._utils.registry import Registry
from deepfuse.training.callbacks.base import (
    HOOKS,
    Callback,
    History,
    LambdaCallback,
    TerminateOnNaN,
)
from deepfuse.training.callbacks.budget import TimeBudget
from deepfuse.training.callbacks.histograms import HistogramLog
from deepfuse.training.callbacks.loggers import CSVLogger, TensorBoard
from deepfuse.training.callbacks.lr import LearningRateScheduler, LRScheduler
from deepfuse.training.callbacks.monitor import EarlyStopping, ModelCheckpoint
from deepfuse.training.callbacks.progress import ProgressBar

__all__ = [
    "CALLBACKS",
    "HOOKS",
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "HistogramLog",
    "History",
    "LRScheduler",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgressBar",
    "TensorBoard",
    "TerminateOnNaN",
    "TimeBudget",
    "get",
    "get_list",
]


def _loose(name: str) -> str:
    # Case, "_", "-" and spaces do not matter (as in config validation), so the class names work
    # too: "EarlyStopping", "early-stopping", "TerminateOnNaN" -> "earlystopping", ...
    return re.sub(r"[_\-\s]", "", name).lower()


#: Config names (snake_case; the class names work too, any case) -> callback classes.
CALLBACKS: Registry[type[Callback]] = Registry("callback", normalize=_loose)
CALLBACKS.register("history", History)
CALLBACKS.register("progress_bar", ProgressBar)
CALLBACKS.register("early_stopping", EarlyStopping)
CALLBACKS.register("model_checkpoint", ModelCheckpoint, aliases=["checkpoint"])
CALLBACKS.register("lr_scheduler", LRScheduler)
CALLBACKS.register("csv_logger", CSVLogger)
CALLBACKS.register("tensorboard", TensorBoard)
CALLBACKS.register("terminate_on_nan", TerminateOnNaN)
CALLBACKS.register("histogram_log", HistogramLog)
CALLBACKS.register("time_budget", TimeBudget)


def get(spec: Any, **options: Any) -> Callback:
    """Build a callback from a name, a config dict or an instance.

    Args:
        spec: A :class:`Callback` (returned as is); a name (``"early_stopping"``,
            ``"EarlyStopping"``); ``{"name": "early_stopping", "patience": 3}``;
            ``{"early_stopping": {"patience": 3}}``; or ``{"class_name": ..., "config": {...}}``.
        **options: Constructor arguments, merged over those in ``spec``.

    Returns:
        The callback.

    Raises:
        ConfigError: Unknown name or option (with the allowed ones and a suggestion).

    Example:
        >>> get("csv_logger", path="history.csv").path.name
        'history.csv'
    """
    if isinstance(spec, Callback):
        return spec
    if isinstance(spec, str):
        name, config = spec, {}
    elif isinstance(spec, Mapping) and "class_name" in spec:
        name, config = spec["class_name"], dict(spec.get("config") or {})
    elif isinstance(spec, Mapping) and "name" in spec:
        config = dict(spec)
        name = config.pop("name")
    elif isinstance(spec, Mapping) and len(spec) == 1:
        ((name, config),) = spec.items()
        config = dict(config or {})
    else:
        raise ConfigError(
            f"Cannot build a callback from {spec!r}. Expected a name like 'early_stopping', "
            "{'name': 'early_stopping', 'patience': 3} or {'early_stopping': {'patience': 3}}."
        )
    key = CALLBACKS.canonical(name)  # unknown: ConfigError with the names and a did-you-mean
    cls = CALLBACKS.get(key)
    config.update(options)
    params = inspect.signature(cls.__init__).parameters
    allowed = [p for p in params if p != "self"]
    for option in config:
        if option not in allowed:
            raise ConfigError(
                f"Unknown option {option!r} for callback {key!r}. Allowed options: "
                f"{', '.join(allowed) or '(none)'}.{did_you_mean(option, allowed)}"
            )
    try:
        return cls(**config)
    except TypeError as exc:  # a required argument is missing
        raise ConfigError(
            f"Callback {key!r}: {exc}. Allowed options: {', '.join(allowed)}."
        ) from exc


def get_list(specs: Any) -> list[Callback]:
    """Build callbacks from a list of specs or a mapping ``{name: options}`` (``None`` = defaults).

    Example:
        >>> [type(c).__name__ for c in get_list(["history", {"name": "terminate_on_nan"}])]
        ['History', 'TerminateOnNaN']
    """
    if specs is None:
        return []
    if isinstance(specs, Mapping):
        return [get({name: options}) for name, options in specs.items()]
    if isinstance(specs, (str, Callback)):
        return [get(specs)]
    return [get(s) for s in specs]
