"""Metrics: exact over a whole set, streamed batch by batch; a name registry; ``MetricSet``.

Classification metrics take **logits** (they apply softmax/sigmoid themselves when they need
probabilities); regression metrics take raw values. See :mod:`deepfuse.metrics.base`.
Keras' metric classes (``keras.metrics.Mean``, ``SparseCategoricalAccuracy``, ``AUC``, ...) and
their ``update_state`` / ``result`` / ``reset_state`` are here too: see :mod:`deepfuse.metrics.keras`.

Example:
    >>> import torch
    >>> import deepfuse.metrics as metrics
    >>> m = metrics.get("acc")
    >>> m.name, type(m).__name__
    ('acc', 'Accuracy')
    >>> metrics.get({"name": "f1", "average": "micro"}).average
    'micro'
    >>> metrics.serialize(metrics.get("top_k_accuracy", k=3))["config"]["k"]
    3
"""

from __future__ import annotations

import inspect
from typing import Any

from deepfuse._utils.errors import ConfigError, format_message, invalid_choice
from deepfuse._utils.registry import Registry
from deepfuse._utils.specs import split_spec
from deepfuse.metrics.base import ClassificationMetric, MeanMetric, Metric
from deepfuse.metrics.classification import (
    Accuracy,
    ConfusionMatrix,
    F1Score,
    Precision,
    Recall,
    TopKAccuracy,
)
from deepfuse.metrics.collection import MetricSet
from deepfuse.metrics.keras import (
    AUC,
    BinaryAccuracy,
    CategoricalAccuracy,
    Mean,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    Sum,
)
from deepfuse.metrics.ranking import RocAuc
from deepfuse.metrics.regression import MeanAbsoluteError, MeanSquaredError, R2Score
from deepfuse.metrics.report import classification_report

__all__ = [
    "AUC",
    "METRICS",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "ClassificationMetric",
    "ConfusionMatrix",
    "F1Score",
    "Mean",
    "MeanAbsoluteError",
    "MeanMetric",
    "MeanSquaredError",
    "Metric",
    "MetricSet",
    "Precision",
    "R2Score",
    "Recall",
    "RocAuc",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "Sum",
    "TopKAccuracy",
    "classification_report",
    "get",
    "names",
    "serialize",
]

#: Every accepted metric name (case-insensitive) -> class; aliases point at the same class.
METRICS: Registry[type[Metric]] = Registry("metric")
METRICS.register(
    "accuracy",
    Accuracy,
    aliases=["acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy"],
)
METRICS.register(
    "top_k_accuracy",
    TopKAccuracy,
    aliases=["sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy"],
)
METRICS.register("precision", Precision)
METRICS.register("recall", Recall)
METRICS.register("f1", F1Score, aliases=["f1_score"])
METRICS.register("roc_auc", RocAuc, aliases=["auc"])
METRICS.register("mse", MeanSquaredError, aliases=["mean_squared_error"])
METRICS.register("mae", MeanAbsoluteError, aliases=["mean_absolute_error"])
METRICS.register("r2", R2Score, aliases=["r2_score"])
METRICS.register("confusion_matrix", ConfusionMatrix)


def names() -> list[str]:
    """Every metric name ``get`` accepts (aliases included), sorted.

    Example:
        >>> "acc" in names() and names() == METRICS.names()
        True
    """
    return METRICS.names()


def _allowed(cls: type) -> list[str]:
    """Constructor keywords of ``cls``, following ``**kwargs`` up the class hierarchy."""
    allowed: list[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass is object:
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        allowed += [
            p.name
            for p in params
            if p.name != "self"
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
            and p.name not in allowed
        ]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return allowed


def _construct(cls: type[Metric], key: str, display: str, options: dict[str, Any]) -> Metric:
    allowed = _allowed(cls)
    for option in options:
        if option not in allowed:
            raise invalid_choice(f"option for metric '{key}'", option, allowed)
    return cls(**{"name": display, **options})


def get(identifier: Any, **options: Any) -> Metric:
    """Resolve a metric from a name, a config dict, a ``Metric`` or a function.

    Args:
        identifier: A registered name (``"accuracy"``, ``"f1"``, ...; the metric is logged under
            the name as written), ``{"name": ..., **options}``, ``{"class_name": ...,
            "config": {...}}`` (what :func:`serialize` writes), a ``Metric`` (returned as is), a
            ``Metric`` subclass, or a function ``fn(outputs, target) -> scalar`` (averaged over
            batches, see :class:`MeanMetric`).
        **options: Constructor arguments, e.g. ``average="micro"``.

    Raises:
        ConfigError: Unknown name (with a did-you-mean) or option.

    Example:
        >>> get("f1", average="weighted").average
        'weighted'
    """
    if isinstance(identifier, str):
        key = METRICS.canonical(identifier)
        return _construct(METRICS.get(key), key, identifier.strip(), options)
    if isinstance(identifier, dict):
        name, inner = split_spec(
            identifier, kind="metric", example="{'name': 'f1', 'average': 'macro'}"
        )
        key = METRICS.canonical(name)
        return _construct(METRICS.get(key), key, inner.pop("name", key), {**inner, **options})
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier(**options)
    if isinstance(identifier, Metric):
        if options:
            raise ConfigError(
                format_message(
                    f"Options {sorted(options)} were given with a ready-made metric.",
                    fix="Set them in the metric's constructor instead.",
                )
            )
        return identifier
    if callable(identifier):
        return MeanMetric(identifier, **options)
    raise ConfigError(
        format_message(
            "Cannot use this as a metric.",
            expected="a metric name, a dict, a Metric or a function",
            got=identifier,
        )
    )


def serialize(metric: Metric) -> dict[str, Any]:
    """``{"class_name": name, "config": {...}}`` for a registered metric (``get`` reads it back)."""
    if not any(type(metric) is cls for _, cls in METRICS.items()):
        raise ConfigError(
            format_message(
                f"Cannot serialize metric {type(metric).__name__}: only deepfuse's named metrics are.",
                fix="Pass the metric by name, or rebuild the custom metric in code when loading.",
            )
        )
    return {"class_name": metric.registry_name, "config": metric.get_config()}
