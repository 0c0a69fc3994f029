"""Classification metrics from counts: accuracy, top-k, confusion matrix, precision/recall/F1.

All are exact over the whole set (integer counts; precision/recall/F1 derive from one running
confusion matrix) and match scikit-learn: ``macro`` averages over the classes that occur in the
targets or the predictions, as ``sklearn.metrics.precision_score`` does by default.

Example:
    >>> import torch
    >>> f1 = F1Score(average="macro")
    >>> f1.update(torch.tensor([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0]]), torch.tensor([0, 1, 1]))
    >>> round(f1.compute(), 4)
    0.5556
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from deepfuse._utils.errors import ConfigError, DataError, format_message, invalid_choice
from deepfuse.metrics.base import ClassificationMetric

__all__ = ["Accuracy", "ConfusionMatrix", "F1Score", "Precision", "Recall", "TopKAccuracy"]


class Accuracy(ClassificationMetric):
    """Fraction of correct predictions, for binary (threshold) or multi-class (argmax) outputs.

    Example:
        >>> m = Accuracy()
        >>> m.update(torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1, 1, 1]))
        >>> round(m.compute(), 4)
        0.6667
    """

    registry_name = "accuracy"

    def _update(self, outputs: Tensor, target: Tensor) -> None:
        pred, true = self._predictions(outputs, target)
        correct = (pred == true).sum()
        self._correct = correct if self._correct is None else self._correct + correct
        self._total += true.shape[0]

    def compute(self) -> float:
        if self._total == 0:
            return float("nan")
        return int(self._correct) / self._total

    def reset(self) -> None:
        self._correct: Tensor | None = None
        self._total = 0


class TopKAccuracy(ClassificationMetric):
    """Fraction of samples whose true class is among the ``k`` highest outputs.

    Binary outputs are read as two columns ``[0, logit]`` (same softmax as the sigmoid).

    Args:
        k: How many top classes count as a hit.

    Example:
        >>> m = TopKAccuracy(k=2)
        >>> m.update(torch.tensor([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]]), torch.tensor([1, 2]))
        >>> m.compute()
        0.5
    """

    registry_name = "top_k_accuracy"
    _config_keys = ("k", *ClassificationMetric._config_keys)

    def __init__(self, k: int = 5, **kwargs: Any) -> None:
        if int(k) < 1:
            raise ConfigError(
                format_message("Bad 'k' for top_k_accuracy.", expected="an int >= 1", got=k)
            )
        self.k = int(k)
        super().__init__(**kwargs)

    def _update(self, outputs: Tensor, target: Tensor) -> None:
        binary, classes = self._shape(outputs)
        true = self._targets(outputs, target, binary)
        if binary:
            scores = outputs.reshape(-1, 1)
            cut = scores.new_full((1, 1), self._cut)
            outputs = torch.cat([cut.expand_as(scores), scores], dim=1)
        top = outputs.topk(min(self.k, classes), dim=1).indices  # (N, k)
        hits = (top == true.unsqueeze(1)).any(1).sum()
        self._hits = hits if self._hits is None else self._hits + hits
        self._total += true.shape[0]

    def compute(self) -> float:
        return float("nan") if self._total == 0 else int(self._hits) / self._total

    def reset(self) -> None:
        self._hits: Tensor | None = None
        self._total = 0


class ConfusionMatrix(ClassificationMetric):
    """Counts ``matrix[true, predicted]`` (rows: true class), as ``sklearn.metrics.confusion_matrix``.

    Args:
        as_list: ``compute`` returns a nested list instead of an int64 tensor.

    Example:
        >>> m = ConfusionMatrix(as_list=True)
        >>> m.update(torch.tensor([1.0, -1.0, 2.0]), torch.tensor([1, 1, 0]))
        >>> m.compute()
        [[0, 1], [1, 1]]
    """

    registry_name = "confusion_matrix"
    _config_keys = ("as_list", *ClassificationMetric._config_keys)

    def __init__(self, *, as_list: bool = False, **kwargs: Any) -> None:
        self.as_list = bool(as_list)
        super().__init__(**kwargs)

    def _update(self, outputs: Tensor, target: Tensor) -> None:
        pred, true = self._predictions(outputs, target)
        c = self.num_classes
        try:
            counts = torch.bincount(true * c + pred, minlength=c * c)
        except RuntimeError as err:  # negative labels
            raise DataError(
                format_message(
                    f"Metric '{self.name}' got a negative class label.",
                    expected=f"targets in 0..{c - 1}",
                )
            ) from err
        if counts.shape[0] > c * c:
            raise DataError(
                format_message(
                    f"Metric '{self.name}' got a target label >= {c} for outputs with {c} classes.",
                    expected=f"targets in 0..{c - 1}",
                    fix="Check the label encoding, or the model's number of outputs.",
                )
            )
        counts = counts.view(c, c)
        self._matrix = counts if self._matrix is None else self._matrix + counts

    def matrix(self) -> Tensor:
        """The int64 ``(C, C)`` count matrix on the CPU (zeros for C=2 before any batch)."""
        if self._matrix is None:
            c = self.num_classes or 2
            return torch.zeros(c, c, dtype=torch.long)
        return self._matrix.cpu()

    def compute(self) -> Tensor | list[list[int]]:
        matrix = self.matrix()
        return matrix.tolist() if self.as_list else matrix

    def reset(self) -> None:
        self._matrix: Tensor | None = None


_AVERAGES = ("binary", "macro", "micro", "weighted", "none")


class _FromConfusion(ConfusionMatrix):
    """Precision / recall / F1 from a running confusion matrix.

    Args:
        average: ``"binary"`` (the ``pos_label`` class), ``"macro"`` (unweighted mean over the
            classes present in targets or predictions), ``"micro"`` (global counts),
            ``"weighted"`` (mean weighted by support) or ``"none"`` (per-class float64 tensor).
            ``None`` picks ``"binary"`` for binary outputs, ``"macro"`` otherwise.
        pos_label: The positive class for ``average="binary"``.
        zero_division: Value when a ratio has a zero denominator (scikit-learn's ``0.0``).
        thresholds: Keras' name for ``threshold`` (one number).
    """

    _config_keys = ("average", "pos_label", "zero_division", *ClassificationMetric._config_keys)

    def __init__(
        self,
        *,
        average: str | None = None,
        pos_label: int = 1,
        zero_division: float = 0.0,
        thresholds: float | None = None,
        **kwargs: Any,
    ) -> None:
        if thresholds is not None:  # Keras' name: one threshold (a list would be many metrics)
            if not isinstance(thresholds, int | float):
                raise ConfigError(
                    format_message(
                        f"Bad 'thresholds' for metric '{self.registry_name}'.",
                        expected="one number (deepfuse computes one threshold per metric)",
                        got=thresholds,
                        fix="Make one metric per threshold, e.g. Precision(thresholds=0.7, name='p70').",
                    )
                )
            kwargs["threshold"] = float(thresholds)
        if average is not None and average not in _AVERAGES:
            raise invalid_choice(f"average for metric '{self.registry_name}'", average, _AVERAGES)
        self.average, self.pos_label = average, int(pos_label)
        self.zero_division = float(zero_division)
        super().__init__(**kwargs)

    def _ratio(self, num: Tensor, den: Tensor) -> Tensor:
        safe = torch.where(den > 0, den, torch.ones_like(den))
        return torch.where(den > 0, num / safe, torch.full_like(num, self.zero_division))

    def _per_class(self, tp: Tensor, predicted: Tensor, actual: Tensor) -> Tensor:
        raise NotImplementedError

    def compute(self) -> float | Tensor:
        if self._matrix is None:
            return float("nan")
        cm = self.matrix().double()
        tp, predicted, actual = cm.diagonal(), cm.sum(0), cm.sum(1)
        average = self.average or ("binary" if self.binary else "macro")
        if average == "none":
            return self._per_class(tp, predicted, actual)
        if average == "binary":
            if cm.shape[0] != 2:
                raise DataError(
                    format_message(
                        f"Metric '{self.name}' has average='binary' but the outputs have "
                        f"{cm.shape[0]} classes.",
                        fix="Use average='macro', 'micro' or 'weighted'.",
                    )
                )
            return float(self._per_class(tp, predicted, actual)[self.pos_label])
        if average == "micro":
            return float(self._per_class(tp.sum(), predicted.sum(), actual.sum()))
        present = (predicted + actual) > 0  # sklearn's labels: classes seen in y_true or y_pred
        scores = self._per_class(tp, predicted, actual)[present]
        if average == "macro":
            return float(scores.mean())
        support = actual[present]
        total = support.sum()
        return float((scores * support).sum() / total) if total > 0 else self.zero_division


class Precision(_FromConfusion):
    """Precision ``tp / (tp + fp)``; see ``_FromConfusion`` for ``average``.

    Example:
        >>> m = Precision()
        >>> m.update(torch.tensor([1.0, 1.0, -1.0]), torch.tensor([1, 0, 1]))
        >>> m.compute()
        0.5
    """

    registry_name = "precision"

    def _per_class(self, tp: Tensor, predicted: Tensor, actual: Tensor) -> Tensor:
        return self._ratio(tp, predicted)


class Recall(_FromConfusion):
    """Recall ``tp / (tp + fn)``; see ``_FromConfusion`` for ``average``.

    Example:
        >>> m = Recall()
        >>> m.update(torch.tensor([1.0, 1.0, -1.0]), torch.tensor([1, 0, 1]))
        >>> m.compute()
        0.5
    """

    registry_name = "recall"

    def _per_class(self, tp: Tensor, predicted: Tensor, actual: Tensor) -> Tensor:
        return self._ratio(tp, actual)


class F1Score(_FromConfusion):
    """F1 ``2 tp / (2 tp + fp + fn)``; see ``_FromConfusion`` for ``average``.

    Example:
        >>> m = F1Score()
        >>> m.update(torch.tensor([1.0, 1.0, -1.0]), torch.tensor([1, 0, 1]))
        >>> m.compute()
        0.5
    """

    registry_name = "f1"

    def _per_class(self, tp: Tensor, predicted: Tensor, actual: Tensor) -> Tensor:
        return self._ratio(2 * tp, predicted + actual)
