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

from deepfuse._utils.errors import ConfigError, did_you_mean, invalid_choice
from deepfuse.training.callbacks.base import (
    HOOKS,
    Callback,
    History,
    LambdaCallback,
    TerminateOnNaN,
)
from deepfuse.training.callbacks.histograms import HistogramLog
from deepfuse.training.callbacks.loggers import CSVLogger, TensorBoard
from deepfuse.training.callbacks.lr import LRScheduler
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
    "ModelCheckpoint",
    "ProgressBar",
    "TensorBoard",
    "TerminateOnNaN",
    "get",
    "get_list",
]

#: Config names → callback classes (the class names in snake_case also work, any case).
CALLBACKS: dict[str, type[Callback]] = {
    "history": History,
    "progress_bar": ProgressBar,
    "early_stopping": EarlyStopping,
    "model_checkpoint": ModelCheckpoint,
    "checkpoint": ModelCheckpoint,
    "lr_scheduler": LRScheduler,
    "csv_logger": CSVLogger,
    "tensorboard": TensorBoard,
    "terminate_on_nan": TerminateOnNaN,
    "histogram_log": HistogramLog,
}


def _snake(name: str) -> str:
    # "EarlyStopping" → "early_stopping", "CSVLogger" → "csv_logger", "early-stopping" → ...
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name.strip())
    return name.replace("-", "_").lower()


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
    key = _snake(str(name))
    if key not in CALLBACKS:
        raise invalid_choice("callback", name, CALLBACKS)
    cls = CALLBACKS[key]
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
