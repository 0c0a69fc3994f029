"""Keras' metric classes for custom training loops: ``Mean`` and ``Sum`` trackers, and Keras'
names for deepfuse's metrics (one implementation each).

``keras.metrics.SparseCategoricalAccuracy()`` and friends build the deepfuse metric that
computes the same number, with Keras' default name (the key it is logged under):

==================================  ==========================================================
Keras name                          deepfuse metric
==================================  ==========================================================
``SparseCategoricalAccuracy``       :class:`~deepfuse.metrics.Accuracy` (argmax vs indices)
``CategoricalAccuracy``             :class:`~deepfuse.metrics.Accuracy` (argmax vs one-hot)
``BinaryAccuracy(threshold=0.5)``   :class:`~deepfuse.metrics.Accuracy` (binary threshold)
``SparseTopKCategoricalAccuracy``   :class:`~deepfuse.metrics.TopKAccuracy`
``AUC``                             :class:`~deepfuse.metrics.RocAuc` (exact, not 200 buckets)
``Precision``, ``Recall``           the deepfuse classes of the same name
``MeanSquaredError``, ``MeanAbsoluteError``  the deepfuse classes of the same name
==================================  ==========================================================

Every metric has Keras' ``update_state(y_true, y_pred)``, ``result()`` (a 0-d tensor),
``reset_state()`` and ``name`` (see :class:`~deepfuse.metrics.base.Metric`).

Example:
    >>> loss_tracker = Mean(name="loss")
    >>> loss_tracker.update_state(0.5); loss_tracker.update_state(1.5)
    >>> {loss_tracker.name: float(loss_tracker.result())}
    {'loss': 1.0}
    >>> loss_tracker.reset_state(); float(loss_tracker.result())
    0.0
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from deepfuse._utils.errors import UserError, invalid_choice
from deepfuse.metrics.base import Metric, accumulator_dtype
from deepfuse.metrics.classification import Accuracy, TopKAccuracy
from deepfuse.metrics.keras_api import as_tensor
from deepfuse.metrics.ranking import RocAuc

__all__ = [
    "AUC",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "Mean",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "Sum",
]


class Sum(Metric):
    """Running (weighted) sum of the values given to ``update_state(values, sample_weight=None)``.

    Example:
        >>> s = Sum(); s.update_state([1.0, 2.0]); s.update_state(3.0, sample_weight=2.0)
        >>> float(s.result())
        9.0
    """

    registry_name = "sum"

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name)

    def update_state(self, values: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        """Add ``values`` (a number, array or tensor; every element counts), each times its
        ``sample_weight`` (broadcast to ``values``' shape)."""
        with torch.no_grad():
            values = as_tensor(values).detach()
            values = values.to(accumulator_dtype(values.device))
            weights = torch.ones_like(values)
            if sample_weight is not None:
                weights = torch.broadcast_to(as_tensor(sample_weight).to(values), values.shape)
            self._add((values * weights).sum(), weights.sum())

    def _add(self, total: Tensor, count: Tensor) -> None:
        self._sum = total if self._sum is None else self._sum + total
        self._count = count if self._count is None else self._count + count

    def _update(self, outputs: Tensor, target: Tensor) -> None:
        raise UserError(
            f"keras.metrics.{type(self).__name__} '{self.name}' tracks the values you pass to "
            "update_state(values); it is not a compile() metric. Call update_state yourself in "
            "train_step, or compile with a metric name such as 'mae'."
        )

    def compute(self) -> float:
        return 0.0 if self._sum is None else float(self._sum)

    def reset(self) -> None:
        self._sum: Tensor | None = None
        self._count: Tensor | None = None


class Mean(Sum):
    """Running (weighted) mean of the values given to ``update_state(values, sample_weight=None)``:
    the tracker Keras programs keep for a loss (``Mean(name="loss")``). 0.0 before any value.

    Example:
        >>> m = Mean(); m.update_state([1.0, 3.0]); m.update_state(5.0, sample_weight=2.0)
        >>> float(m.result())
        3.5
    """

    registry_name = "mean"

    def compute(self) -> float:
        if self._count is None or float(self._count) == 0:
            return 0.0  # Keras' divide-no-nan
        return float(self._sum) / float(self._count)


def SparseCategoricalAccuracy(
    name: str = "sparse_categorical_accuracy", dtype: Any = None
) -> Accuracy:
    """Keras' ``SparseCategoricalAccuracy``: :class:`Accuracy` against class indices.

    Example:
        >>> m = SparseCategoricalAccuracy()
        >>> m.update_state([2, 0], [[0.1, 0.2, 0.7], [0.2, 0.5, 0.3]]); float(m.result()), m.name
        (0.5, 'sparse_categorical_accuracy')
    """
    return Accuracy(name=name)


def CategoricalAccuracy(name: str = "categorical_accuracy", dtype: Any = None) -> Accuracy:
    """Keras' ``CategoricalAccuracy``: :class:`Accuracy` against one-hot rows."""
    return Accuracy(name=name)


def BinaryAccuracy(
    name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5
) -> Accuracy:
    """Keras' ``BinaryAccuracy``: :class:`Accuracy` of one output against ``threshold``.

    ``update_state`` compares the predictions with ``threshold`` directly (Keras); in
    ``compile(metrics=...)`` deepfuse's steps pass logits, compared with the threshold's logit.
    """
    return Accuracy(name=name, threshold=threshold)


def SparseTopKCategoricalAccuracy(
    k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype: Any = None
) -> TopKAccuracy:
    """Keras' ``SparseTopKCategoricalAccuracy``: :class:`TopKAccuracy`."""
    return TopKAccuracy(k=k, name=name)


def AUC(
    num_thresholds: int = 200,
    curve: str = "ROC",
    summation_method: str = "interpolation",
    name: str | None = None,
    dtype: Any = None,
    thresholds: Any = None,
    multi_label: bool = False,
    num_labels: int | None = None,
    label_weights: Any = None,
    from_logits: bool = False,
) -> RocAuc:
    """Keras' ``AUC``: :class:`RocAuc`, the exact ROC-AUC (Keras approximates it with
    ``num_thresholds`` buckets, so the two differ slightly; ``num_thresholds`` is ignored).

    Multi-class outputs are scored one-vs-rest and macro-averaged (Keras' ``multi_label=False``
    pools every column instead). ``from_logits`` changes nothing for one output (the sigmoid
    keeps the order).

    Raises:
        UserError: ``curve="PR"``, ``thresholds``, ``label_weights`` or ``num_labels``.

    Example:
        >>> m = AUC()
        >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]); float(m.result())
        0.75
    """
    if curve != "ROC":
        raise invalid_choice(
            "curve of keras.metrics.AUC (deepfuse computes the ROC-AUC)", curve, ["ROC"]
        )
    if thresholds is not None or label_weights is not None or num_labels is not None:
        raise UserError(
            "keras.metrics.AUC(thresholds=, label_weights=, num_labels=) is not supported by "
            "deepfuse: its AUC is exact (no thresholds); use AUC() or deepfuse.metrics.RocAuc."
        )
    return RocAuc(name=name or "auc")
