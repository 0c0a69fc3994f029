"""The decision threshold of a binary classifier, chosen on validation rows.

A model trained on imbalanced classes rarely has its best cut at P(class 1) = 0.5. After
training, ``deepfuse train`` scores the validation rows and keeps the threshold that maximises
the run's selection metric there: macro-F1 when the classes are imbalanced, accuracy otherwise.
The threshold is saved in ``model.json`` (``decision_threshold``); evaluation and ``predict``
use it. The test rows are never looked at.

Example:
    >>> import numpy as np
    >>> p = np.array([0.05, 0.1, 0.2, 0.3, 0.35, 0.6, 0.9])
    >>> y = np.array([0, 0, 0, 1, 1, 1, 1])
    >>> best_threshold(p, y, objective="accuracy")
    0.25
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from deepfuse.evaluation.classification import UndefinedMetricWarning, precision_recall_f1

__all__ = ["OBJECTIVES", "best_threshold", "choose_threshold"]

OBJECTIVES = ("accuracy", "macro_f1")
#: Candidate thresholds tried at most (quantiles of the validation scores).
MAX_CANDIDATES = 512


def _score(y: np.ndarray, pred: np.ndarray, objective: str) -> float:
    if objective == "accuracy":
        return float((pred == y).mean())
    with warnings.catch_warnings():  # a cut predicting one class only scores 0 for the other
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        prf = precision_recall_f1(y, pred, 2, [])
    return float(prf["f1_macro"])


def best_threshold(p1: Any, y: Any, *, objective: str = "macro_f1") -> float:
    """The threshold on P(class 1) that maximises ``objective`` on ``(p1, y)``.

    Candidates are the midpoints between neighbouring distinct scores (at most
    :data:`MAX_CANDIDATES` quantiles), the lowest score and 0.5; ties go to the candidate
    closest to 0.5 (the least surprising cut).

    Args:
        p1: ``(N,)`` probabilities of class 1.
        y: ``(N,)`` true classes (0/1).
        objective: ``"macro_f1"`` or ``"accuracy"``.

    Returns:
        The threshold.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}; got {objective!r}")
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1)
    y = np.asarray(y).reshape(-1).round().astype(np.int64)
    scores = np.unique(p1)
    if len(scores) > MAX_CANDIDATES:
        scores = np.unique(np.quantile(p1, np.linspace(0, 1, MAX_CANDIDATES)))
    # a cut halfway between neighbouring validation scores: the same split of these rows, and
    # the least arbitrary place for rows not seen yet
    cuts = np.unique(np.concatenate([(scores[1:] + scores[:-1]) / 2, scores[:1], [0.5]]))
    best, best_score = 0.5, -1.0
    for t in cuts:
        score = _score(y, (p1 >= t).astype(np.int64), objective)
        if score > best_score + 1e-12 or (
            abs(score - best_score) <= 1e-12 and abs(t - 0.5) < abs(best - 0.5)
        ):
            best, best_score = float(t), score
    return best


def choose_threshold(
    model: Any, val: Any, *, objective: str = "macro_f1", batch_size: int = 256
) -> float:
    """Score the validation rows ``val`` with ``model`` and return :func:`best_threshold`."""
    from deepfuse.evaluation.model_eval import predict_rows

    y_prob, y_true = predict_rows(model, val, batch_size=batch_size)
    p1 = y_prob.reshape(len(y_prob), -1)
    p1 = p1[:, -1]  # one sigmoid unit, or the class-1 column of two softmax units
    return best_threshold(p1, y_true.reshape(len(y_true), -1)[:, -1], objective=objective)
