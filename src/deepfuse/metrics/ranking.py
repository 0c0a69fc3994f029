"""ROC-AUC, exact over the whole set: it keeps every score (that is what exactness needs).

The AUC is the Mann-Whitney statistic with mid-ranks for ties, which equals the trapezoidal
area under the ROC curve that ``sklearn.metrics.roc_auc_score`` computes.

Example:
    >>> import torch
    >>> m = RocAuc()
    >>> m.update(torch.tensor([0.1, 0.4]), torch.tensor([0, 0]))
    >>> m.update(torch.tensor([0.35, 0.8]), torch.tensor([1, 1]))
    >>> m.compute()
    0.75
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from deepfuse._utils.errors import invalid_choice
from deepfuse.metrics.base import ClassificationMetric, accumulator_dtype

__all__ = ["RocAuc", "binary_auc"]


def binary_auc(scores: Tensor, positive: Tensor) -> float:
    """Area under the ROC curve of ``scores`` (1-D) for the boolean labels ``positive``.

    Returns ``nan`` when only one class is present (scikit-learn raises instead).

    Example:
        >>> binary_auc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([False, False, True, True]))
        0.75
    """
    n_pos = int(positive.sum())
    n_neg = positive.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
    counts = counts.double()
    # Tied scores share the mean of the 1-based ranks they span: last rank - (count - 1) / 2.
    mid_ranks = counts.cumsum(0) - (counts - 1) / 2
    rank_sum = mid_ranks[inverse][positive].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class RocAuc(ClassificationMetric):
    """ROC-AUC: binary, or multi-class one-vs-rest (``roc_auc_score(multi_class="ovr")``).

    Binary outputs are ranked as they are (the sigmoid does not change the order); multi-class
    outputs are turned into softmax probabilities (float64) first, as one-vs-rest needs.

    Args:
        average: ``"macro"`` (unweighted mean of the per-class AUCs) or ``"weighted"`` (by
            class prevalence). Classes absent from the targets are left out (sklearn raises).
        **kwargs: ``from_logits``, ``num_classes``, ``name`` (see ``ClassificationMetric``).

    Example:
        >>> m = RocAuc()
        >>> m.update(torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]]),
        ...          torch.tensor([0, 1, 2]))
        >>> m.compute()
        1.0
    """

    registry_name = "roc_auc"
    _config_keys = ("average", "from_logits", "num_classes")

    def __init__(self, *, average: str = "macro", **kwargs: Any) -> None:
        if average not in ("macro", "weighted"):
            raise invalid_choice("average for metric 'roc_auc'", average, ("macro", "weighted"))
        self.average = average
        super().__init__(**kwargs)

    def _update(self, outputs: Tensor, target: Tensor) -> None:
        binary, _ = self._shape(outputs)
        true = self._targets(outputs, target, binary)
        if binary:
            scores = outputs.reshape(-1)
        else:
            scores = outputs.to(accumulator_dtype(outputs.device))
            if self.from_logits:
                scores = scores.softmax(1)
        self._scores.append(scores)
        self._true.append(true)

    def compute(self) -> float:
        if not self._scores:
            return float("nan")
        scores, true = torch.cat(self._scores).cpu(), torch.cat(self._true).cpu()
        if self.binary:
            return binary_auc(scores, true == 1)
        aucs, weights = [], []
        for c in range(scores.shape[1]):
            positive = true == c
            auc = binary_auc(scores[:, c], positive)
            if auc == auc:  # skip nan: class absent from (or the only class in) the targets
                aucs.append(auc)
                weights.append(int(positive.sum()))
        if not aucs:
            return float("nan")
        if self.average == "macro":
            return sum(aucs) / len(aucs)
        return sum(a * w for a, w in zip(aucs, weights)) / sum(weights)

    def reset(self) -> None:
        self._scores: list[Tensor] = []
        self._true: list[Tensor] = []
