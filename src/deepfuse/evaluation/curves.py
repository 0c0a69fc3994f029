"""Ranking curves from scores: ROC, precision-recall, their areas, and downsampling for storage.

Each function matches scikit-learn on the same inputs: :func:`roc_curve` is
``sklearn.metrics.roc_curve(..., drop_intermediate=False)``, :func:`precision_recall_curve` is
``sklearn.metrics.precision_recall_curve``, :func:`average_precision` is
``average_precision_score`` (the step-wise area, not the trapezoid).

Example:
    >>> import numpy as np
    >>> y, s = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    >>> fpr, tpr, _ = roc_curve(y, s)
    >>> float(auc(fpr, tpr)), round(average_precision(y, s), 4)
    (0.75, 0.8333)
"""

from __future__ import annotations

import numpy as np

__all__ = ["auc", "average_precision", "downsample", "precision_recall_curve", "roc_curve"]


def _binary_clf_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, ...]:
    """False/true positive counts at each distinct score, thresholds decreasing."""
    order = np.argsort(-score, kind="mergesort")  # stable, like sklearn
    score, y = score[order], y[order].astype(np.float64)
    # The last index of each run of equal scores: a threshold includes all tied rows at once.
    distinct = np.flatnonzero(np.diff(score))
    last = np.r_[distinct, len(y) - 1]
    tps = np.cumsum(y)[last]
    fps = 1 + last - tps
    return fps, tps, score[last]


def roc_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)``: every distinct threshold, starting at ``(0, 0, inf)``.

    A rate whose class is absent (no negatives or no positives) is NaN throughout.
    """
    fps, tps, thresholds = _binary_clf_curve(y, score)
    fps, tps = np.r_[0.0, fps], np.r_[0.0, tps]
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = fps / fps[-1] if fps[-1] > 0 else np.full_like(fps, np.nan)
        tpr = tps / tps[-1] if tps[-1] > 0 else np.full_like(tps, np.nan)
    return fpr, tpr, np.r_[np.inf, thresholds]


def precision_recall_curve(
    y: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(precision, recall, thresholds)``: thresholds increasing; ends at precision 1, recall 0.

    Without positives, recall is 1 at every threshold (sklearn's convention).
    """
    fps, tps, thresholds = _binary_clf_curve(y, score)
    precision = tps / (tps + fps)  # tps + fps >= 1 at every threshold
    recall = tps / tps[-1] if tps[-1] > 0 else np.ones_like(tps)
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def auc(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoidal area under a curve given by monotonic ``x``."""
    return float(np.trapezoid(y, x))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall step function: ``Σ (R_n − R_{n−1}) · P_n``."""
    precision, recall, _ = precision_recall_curve(y, score)
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def downsample(*arrays: np.ndarray, max_points: int = 200) -> list[list[float]]:
    """Evenly spaced points of aligned curve arrays, first and last kept, for plots and JSON.

    Example:
        >>> [len(a) for a in downsample(np.arange(1000.0), np.arange(1000.0), max_points=200)]
        [200, 200]
    """
    n = len(arrays[0])
    keep = np.unique(np.round(np.linspace(0, n - 1, min(n, max_points))).astype(np.int64))
    return [np.asarray(a, dtype=np.float64)[keep].tolist() for a in arrays]
