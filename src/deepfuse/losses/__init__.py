"""Losses: functions (:mod:`deepfuse.losses.functional`), thin modules, and a name registry.

``get`` turns what a user writes (a name, a ``{"name": ..., **options}`` dict, a callable, a
module) into an ``nn.Module`` whose ``forward(outputs, target)`` returns a scalar.

Classification losses take **logits** by default (``cross_entropy``, ``binary_cross_entropy``);
the Keras names (``sparse_categorical_crossentropy``, ``categorical_crossentropy``,
``binary_crossentropy``) take **probabilities** by default, as in Keras. Either kind has
``from_logits`` and ``as_logits()``.

Example:
    >>> import torch
    >>> import deepfuse.losses as losses
    >>> loss = losses.get({"name": "huber", "delta": 2.0})
    >>> loss.get_config()
    {'delta': 2.0, 'reduction': 'mean'}
    >>> losses.get("sparse_categorical_crossentropy").from_logits
    False
    >>> losses.serialize(losses.get("mae"))
    {'class_name': 'mae', 'config': {'reduction': 'mean'}}
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from deepfuse._utils.errors import ConfigError, format_message, invalid_choice
from deepfuse._utils.registry import Registry
from deepfuse._utils.specs import split_spec
from deepfuse.losses import functional
from deepfuse.losses.classes import (
    BinaryCrossEntropy,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CrossEntropy,
    Huber,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
)
from deepfuse.losses.functional import binary_cross_entropy, cross_entropy, huber, mae, mse

__all__ = [
    "LOSSES",
    "BinaryCrossEntropy",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CrossEntropy",
    "Huber",
    "LambdaLoss",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "binary_cross_entropy",
    "cross_entropy",
    "functional",
    "get",
    "huber",
    "mae",
    "mse",
    "names",
    "serialize",
]

#: Every accepted loss name (case-insensitive) -> class; aliases point at the same class.
LOSSES: Registry[type[Loss]] = Registry("loss")
LOSSES.register("mse", MeanSquaredError, aliases=["mean_squared_error"])
LOSSES.register("mae", MeanAbsoluteError, aliases=["mean_absolute_error"])
LOSSES.register("huber", Huber, aliases=["huber_loss"])
LOSSES.register("cross_entropy", CrossEntropy, aliases=["crossentropy"])
LOSSES.register("binary_cross_entropy", BinaryCrossEntropy, aliases=["bce"])
LOSSES.register("sparse_categorical_crossentropy", SparseCategoricalCrossentropy)
LOSSES.register("categorical_crossentropy", CategoricalCrossentropy)
LOSSES.register("binary_crossentropy", BinaryCrossentropy)


class LambdaLoss(nn.Module):
    """Wrap a plain ``fn(outputs, target) -> Tensor`` as a module.

    It has no ``from_logits`` attribute: the model cannot know what a user function expects, so
    it does not fuse a final activation into it.

    Example:
        >>> import torch
        >>> loss = LambdaLoss(lambda o, t: (o - t).abs().max())
        >>> float(loss(torch.tensor([1.0, 5.0]), torch.tensor([1.0, 2.0])))
        3.0
    """

    def __init__(self, fn: Callable[[Tensor, Tensor], Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        return self.fn(outputs, target)

    def extra_repr(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))


def names() -> list[str]:
    """Every loss name ``get`` accepts (aliases included), sorted."""
    return LOSSES.names()


def _construct(cls: type[Loss], name: str, options: dict[str, Any]) -> Loss:
    params = inspect.signature(cls.__init__).parameters
    allowed = [p for p in params if p != "self"]
    for key in options:
        if key not in allowed:
            raise invalid_choice(f"option for loss '{name}'", key, allowed)
    return cls(**options)


def get(identifier: Any, **options: Any) -> nn.Module:
    """Resolve a loss from a name, a config dict, a callable or a module.

    Args:
        identifier: A registered name (``"mse"``, ``"cross_entropy"``, ...), a dict
            ``{"name": ..., **options}`` or ``{"class_name": ..., "config": {...}}`` (what
            :func:`serialize` writes), a ``Loss`` subclass, an ``nn.Module`` instance (returned as
            is), or a callable ``fn(outputs, target)`` (wrapped in :class:`LambdaLoss`).
        **options: Constructor arguments, e.g. ``label_smoothing=0.1``.

    Returns:
        An ``nn.Module`` whose ``forward(outputs, target)`` returns the loss.

    Raises:
        ConfigError: Unknown name (with a did-you-mean), unknown option, or options passed with
            a ready-made module.

    Example:
        >>> get("cross_entropy", label_smoothing=0.1).label_smoothing
        0.1
        >>> get("mean_squared_eror")
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.ConfigError: Unknown loss 'mean_squared_eror'. ...
    """
    if isinstance(identifier, str):
        return _construct(LOSSES.get(identifier), identifier.strip().lower(), options)
    if isinstance(identifier, dict):
        name, inner = split_spec(
            identifier, kind="loss", example="{'name': 'cross_entropy', 'label_smoothing': 0.1}"
        )
        return get(name, **{**inner, **options})
    if isinstance(identifier, type) and issubclass(identifier, nn.Module):
        return identifier(**options)
    if isinstance(identifier, nn.Module):
        if options:
            raise ConfigError(
                format_message(
                    f"Options {sorted(options)} were given with a ready-made loss module.",
                    fix="Set them on the module itself, or pass the loss by name.",
                )
            )
        return identifier
    if callable(identifier):
        if options:
            raise ConfigError(
                format_message(
                    f"Options {sorted(options)} were given with a loss function.",
                    fix="Bind them with functools.partial, or pass the loss by name.",
                )
            )
        return LambdaLoss(identifier)
    raise ConfigError(
        format_message(
            "Cannot use this as a loss.",
            expected=f"a name ({', '.join(repr(n) for n in names())}), a dict, a callable or an nn.Module",
            got=identifier,
        )
    )


def serialize(loss: nn.Module) -> dict[str, Any]:
    """``{"class_name": name, "config": {...}}`` for a deepfuse loss (``get`` reads it back).

    Raises:
        ConfigError: The loss is not a deepfuse ``Loss`` (a user module or function).
    """
    if not isinstance(loss, Loss):
        raise ConfigError(
            format_message(
                f"Cannot serialize loss {type(loss).__name__}: only deepfuse's named losses are.",
                fix="Pass the loss by name, or rebuild the custom loss in code when loading.",
            )
        )
    return {"class_name": loss.name, "config": loss.get_config()}
