"""Losses: Keras-named ones called Keras' way, torch-named ones torch's way, and a registry.

One convention per API surface, decided by where the NAME comes from:

* **Keras names** are called ``loss(y_true, y_pred)``: the classes ``MeanSquaredError``,
  ``BinaryCrossentropy``, ``SparseCategoricalCrossentropy``, ... (:mod:`.keras_classes`) and the
  functions ``mse(y_true, y_pred)``, ``binary_crossentropy(y_true, y_pred, from_logits=False)``,
  ... (:mod:`.keras_functions`), which return one value per sample as Keras does.
* **torch names** are called ``loss(input, target)``: ``CrossEntropy``, ``BinaryCrossEntropy``
  and the functions ``cross_entropy``, ``binary_cross_entropy`` and everything in
  :mod:`deepfuse.losses.functional` (``functional.mse(outputs, target)``).

``get`` turns what a user writes (a name, a ``{"name": ..., **options}`` dict, a class, a
module, a function) into an object with ``compute(outputs, target)`` (torch order), the only way
deepfuse calls a loss internally. Plain functions follow Keras' ``fn(y_true, y_pred)`` unless their
first parameter names a prediction (see :mod:`.custom`).

Classification losses take **logits** by default (``cross_entropy``, ``binary_cross_entropy``);
the Keras names (``sparse_categorical_crossentropy``, ``categorical_crossentropy``,
``binary_crossentropy``) take **probabilities** by default, as in Keras. Either kind has
``from_logits`` and ``as_logits()``. ``reduction`` accepts Keras' spellings
(``"sum_over_batch_size"``, ``"sum"``, ``None``) and torch's (``"mean"``, ``"sum"``, ``"none"``).

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
    >>> y_true, y_pred = torch.tensor([[1.0]]), torch.tensor([[0.0]])
    >>> round(float(losses.BinaryCrossentropy(from_logits=True)(y_true, y_pred)), 4)  # Keras order
    0.6931
    >>> round(float(losses.BinaryCrossEntropy()(y_pred, y_true)), 4)  # torch order
    0.6931
"""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from deepfuse._utils.errors import ConfigError, format_message, invalid_choice
from deepfuse._utils.registry import Registry
from deepfuse._utils.specs import split_spec
from deepfuse.losses import functional
from deepfuse.losses.classes import BinaryCrossEntropy, CrossEntropy, Loss
from deepfuse.losses.custom import LambdaLoss, ModuleLoss, call_order
from deepfuse.losses.functional import binary_cross_entropy, cross_entropy
from deepfuse.losses.keras_classes import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    Huber,
    KerasLoss,
    KLDivergence,
    LogCosh,
    MeanAbsoluteError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from deepfuse.losses.keras_functions import (
    binary_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    cosine_similarity,
    hinge,
    huber,
    kl_divergence,
    kld,
    kullback_leibler_divergence,
    log_cosh,
    logcosh,
    mae,
    mean_absolute_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    mse,
    msle,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)

__all__ = [
    "LOSSES",
    "BinaryCrossEntropy",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "CrossEntropy",
    "Hinge",
    "Huber",
    "KLDivergence",
    "KerasLoss",
    "LambdaLoss",
    "LogCosh",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "ModuleLoss",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "binary_cross_entropy",
    "binary_crossentropy",
    "call_order",
    "categorical_crossentropy",
    "categorical_hinge",
    "cosine_similarity",
    "cross_entropy",
    "functional",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "kld",
    "kullback_leibler_divergence",
    "log_cosh",
    "logcosh",
    "mae",
    "mean_absolute_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
    "names",
    "poisson",
    "serialize",
    "sparse_categorical_crossentropy",
    "squared_hinge",
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
LOSSES.register("kl_divergence", KLDivergence, aliases=["kld", "kullback_leibler_divergence"])
LOSSES.register("msle", MeanSquaredLogarithmicError, aliases=["mean_squared_logarithmic_error"])
LOSSES.register("log_cosh", LogCosh, aliases=["logcosh"])
LOSSES.register("cosine_similarity", CosineSimilarity)
LOSSES.register("poisson", Poisson)
LOSSES.register("hinge", Hinge)
LOSSES.register("squared_hinge", SquaredHinge)
LOSSES.register("categorical_hinge", CategoricalHinge)


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
    """Resolve a loss from a name, a config dict, a class, a module or a function.

    Args:
        identifier: A registered name (``"mse"``, ``"cross_entropy"``, ...), a dict
            ``{"name": ..., **options}`` or ``{"class_name": ..., "config": {...}}`` (what
            :func:`serialize` writes), a loss class (``Loss`` subclass or torch's, built with
            ``options``), a deepfuse loss instance (returned as is), a torch loss module (wrapped
            in :class:`ModuleLoss`: called ``module(input, target)``), or a function (wrapped in
            :class:`LambdaLoss`: ``fn(y_true, y_pred)`` as Keras, unless its first parameter
            names a prediction, see :func:`call_order`).
        **options: Constructor arguments, e.g. ``label_smoothing=0.1``.

    Returns:
        An ``nn.Module`` with ``compute(outputs, target)`` (torch order) returning the loss.

    Raises:
        ConfigError: Unknown name (with a did-you-mean), unknown option, or options passed with
            a ready-made module or a function.

    Example:
        >>> get("cross_entropy", label_smoothing=0.1).label_smoothing
        0.1
        >>> import torch
        >>> loss = get(lambda y_true, y_pred: (y_pred - y_true).abs())  # Keras order, averaged
        >>> float(loss.compute(torch.tensor([3.0, 1.0]), torch.tensor([0.0, 0.0])))
        2.0
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
        return get(identifier(**options))
    if isinstance(identifier, nn.Module):
        if options:
            raise ConfigError(
                format_message(
                    f"Options {sorted(options)} were given with a ready-made loss module.",
                    fix="Set them on the module itself, or pass the loss by name.",
                )
            )
        # deepfuse's losses (and any module that already has compute) are used as they are.
        return (
            identifier if callable(getattr(identifier, "compute", None)) else ModuleLoss(identifier)
        )
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
