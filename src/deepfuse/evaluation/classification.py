"""Label-based classification metrics: confusion matrix, accuracy, per-class precision/recall/F1.

Definitions follow scikit-learn (``precision_recall_fscore_support`` with ``zero_division="warn"``):
a ratio whose denominator is 0 (a class never predicted, or absent from ``y_true``) is 0, and an
:class:`UndefinedMetricWarning` names the classes. F1 is ``2·TP / (2·TP + FP + FN)``.

Example:
    >>> import numpy as np
    >>> scores = precision_recall_f1(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    >>> scores["f1"].round(3).tolist(), float(scores["f1_macro"].round(3))
    ([1.0, 0.667, 0.667], 0.778)
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["UndefinedMetricWarning", "confusion_matrix", "precision_recall_f1"]


class UndefinedMetricWarning(UserWarning):
    """A metric is ill-defined on these predictions (like scikit-learn's warning of that name)."""


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``(C, C)``: row = true class index, column = predicted class index.

    Example:
        >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
        [[1, 0], [1, 1]]
    """
    # One bincount over the flattened (true, pred) pair index: O(N), no Python loop.
    flat = y_true.astype(np.int64) * num_classes + y_pred.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _divide(num: np.ndarray, den: np.ndarray, what: str, why: str, notes: list[str]) -> np.ndarray:
    """``num / den`` with 0 where ``den == 0``, warning (and noting) which entries were set."""
    out = np.zeros(len(num), dtype=np.float64)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    if not ok.all():
        msg = (
            f"{what} is ill-defined and set to 0.0 for class indices "
            f"{np.flatnonzero(~ok).tolist()} ({why})."
        )
        notes.append(msg)
        warnings.warn(msg, UndefinedMetricWarning, stacklevel=3)
    return out


def precision_recall_f1(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int, notes: list[str] | None = None
) -> dict[str, np.ndarray]:
    """Per-class precision/recall/F1/support and their macro and support-weighted averages.

    Args:
        y_true: True class indices ``(N,)``.
        y_pred: Predicted class indices ``(N,)``.
        num_classes: ``C``; classes absent from both arrays still get a (zero) row.
        notes: Receives one line per ill-defined metric (also raised as a warning).

    Returns:
        ``precision``, ``recall``, ``f1``, ``support`` (arrays ``(C,)``) and the scalars
        ``precision_macro``, ``recall_macro``, ``f1_macro``, ``*_weighted`` and ``accuracy``.
    """
    notes = [] if notes is None else notes
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)  # TP + FP per class
    support = cm.sum(axis=1).astype(np.float64)  # TP + FN per class
    precision = _divide(tp, predicted, "Precision", "no predicted samples", notes)
    recall = _divide(tp, support, "Recall", "no true samples", notes)
    f1 = _divide(2 * tp, predicted + support, "F1", "no true nor predicted samples", notes)
    out: dict[str, np.ndarray] = {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support.astype(np.int64),
    }
    total = support.sum()
    for name in ("precision", "recall", "f1"):
        out[f"{name}_macro"] = np.float64(out[name].mean())
        # sklearn: an all-zero weight vector gives zero_division (0.0) instead of NaN.
        out[f"{name}_weighted"] = np.float64(
            (out[name] * support).sum() / total if total > 0 else 0.0
        )
    out["accuracy"] = np.float64(tp.sum() / max(len(y_true), 1))
    return out
