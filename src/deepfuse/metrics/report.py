"""``classification_report``: per-class precision/recall/F1/support in one dict, like scikit-learn's.

Example:
    >>> import torch
    >>> report = classification_report(torch.tensor([2.0, -1.0, 0.5, -3.0]), torch.tensor([1, 1, 0, 0]))
    >>> report["accuracy"], report["1"]["recall"]
    (0.5, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from deepfuse._utils.errors import DataError, format_message
from deepfuse.metrics.classification import ConfusionMatrix

__all__ = ["classification_report", "report_from_matrix"]


def report_from_matrix(
    matrix: Tensor, target_names: Sequence[str] | None = None, *, zero_division: float = 0.0
) -> dict[str, Any]:
    """Build the report from a ``(C, C)`` confusion matrix (rows: true class).

    Without ``target_names`` only the classes present in the targets or predictions are listed
    (scikit-learn's default ``labels``); with them, every class is.
    """
    cm = matrix.double()
    tp, predicted, actual = cm.diagonal(), cm.sum(0), cm.sum(1)
    if target_names is not None:
        if len(target_names) != cm.shape[0]:
            raise DataError(
                format_message(
                    f"classification_report got {len(target_names)} target_names for "
                    f"{cm.shape[0]} classes.",
                    expected="one name per class",
                )
            )
        classes = list(range(cm.shape[0]))
        names = [str(n) for n in target_names]
    else:
        classes = [c for c in range(cm.shape[0]) if predicted[c] + actual[c] > 0]
        names = [str(c) for c in classes]

    def ratio(num: float, den: float) -> float:
        return num / den if den > 0 else zero_division

    report: dict[str, Any] = {}
    rows = []
    for c, name in zip(classes, names):
        row = {
            "precision": ratio(float(tp[c]), float(predicted[c])),
            "recall": ratio(float(tp[c]), float(actual[c])),
            "f1-score": ratio(2 * float(tp[c]), float(predicted[c] + actual[c])),
            "support": int(actual[c]),
        }
        report[name] = row
        rows.append(row)
    total = int(actual.sum())
    report["accuracy"] = ratio(float(tp.sum()), float(total))
    keys = ("precision", "recall", "f1-score")
    report["macro avg"] = {k: sum(r[k] for r in rows) / max(len(rows), 1) for k in keys}
    report["macro avg"]["support"] = total
    report["weighted avg"] = {k: ratio(sum(r[k] * r["support"] for r in rows), total) for k in keys}
    report["weighted avg"]["support"] = total
    return report


def classification_report(
    outputs: Tensor,
    target: Tensor,
    *,
    target_names: Sequence[str] | None = None,
    from_logits: bool = True,
    threshold: float = 0.5,
    zero_division: float = 0.0,
) -> dict[str, Any]:
    """Precision, recall, F1 and support per class, plus accuracy and macro/weighted averages.

    Args:
        outputs: Logits ``(N,)``/``(N, 1)`` (binary) or ``(N, C)``, or probabilities when
            ``from_logits=False``.
        target: Class indices ``(N,)`` or one-hot rows ``(N, C)``.
        target_names: Names of the classes, in index order (keys of the result).
        from_logits: Whether ``outputs`` are logits.
        threshold: Probability cut for binary outputs.
        zero_division: Value of a ratio with a zero denominator.

    Returns:
        ``{"<class>": {"precision", "recall", "f1-score", "support"}, "accuracy": float,
        "macro avg": {...}, "weighted avg": {...}}``, the layout of
        ``sklearn.metrics.classification_report(..., output_dict=True)``.
    """
    cm = ConfusionMatrix(from_logits=from_logits, threshold=threshold)
    cm.update(outputs, target)
    return report_from_matrix(cm.matrix(), target_names, zero_division=zero_division)
