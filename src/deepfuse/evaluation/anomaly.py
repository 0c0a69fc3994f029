"""Anomaly detection from scores: thresholds, metrics at a threshold, and what the report plots.

A score is higher for a row less like the training rows; a row is flagged when its score is
``>= threshold``. Labels are 0 (normal) / 1 (anomaly). Everything is numpy on plain arrays
(:func:`score_rows` turns a model and its data into them); scikit-learn checks every number in
the tests (``roc_auc_score``, ``average_precision_score``, ``precision_recall_fscore_support``).

* :func:`fpr_threshold` - the threshold flagging at most ``target_fpr`` of the normal rows;
* :func:`contamination_threshold` - the ``1 - contamination`` quantile of unlabelled scores;
* :func:`anomaly_metrics` - ROC-AUC, PR-AUC (average precision), precision, recall, F1 and FPR
  at the threshold, and counts;
* :func:`anomaly_evaluation` - those plus score histograms and bounded ROC / PR curves
  (``evaluation.json`` of a ``task: anomaly`` run).

Example:
    >>> import numpy as np
    >>> normal = np.arange(100.0)                     # validation scores of normal rows
    >>> t = fpr_threshold(normal, 0.05)
    >>> float((normal >= t).mean())
    0.05
    >>> m = anomaly_metrics(np.array([1.0, 2.0, 3.0, 9.0]), np.array([0, 0, 1, 1]), 2.5)
    >>> m["roc_auc"], m["precision"], m["recall"], m["fpr"]
    (1.0, 1.0, 1.0, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepfuse._utils.errors import DataError
from deepfuse.evaluation.curves import auc as area
from deepfuse.evaluation.curves import (
    average_precision,
    downsample,
    precision_recall_curve,
    roc_curve,
)

__all__ = [
    "HEADLINE",
    "AnomalyEvaluation",
    "anomaly_evaluation",
    "anomaly_metrics",
    "contamination_threshold",
    "fpr_threshold",
    "score_histograms",
    "score_rows",
]

#: The metrics a run's ``metrics.json["test"]`` carries (the rest goes to evaluation.json).
HEADLINE = ("roc_auc", "pr_auc", "precision", "recall", "f1", "fpr")


def _finite(scores: Any, what: str) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if not np.isfinite(s).all():
        bad = int((~np.isfinite(s)).sum())
        raise DataError(
            f"{bad} of {len(s)} anomaly scores of the {what} are not finite (NaN or inf): the "
            "model diverged. Train again with a lower learning rate (trainer.optimizer.lr)."
        )
    return s


def fpr_threshold(normal_scores: Any, target_fpr: float) -> float:
    """The smallest threshold that flags at most ``target_fpr`` of ``normal_scores``.

    With ``n`` normal rows, ``floor(target_fpr * n)`` of them may score at or above it (ties
    move together, so it may be fewer).

    Raises:
        DataError: No normal rows to choose it on.

    Example:
        >>> fpr_threshold([1.0, 2.0, 3.0, 4.0], 0.25) > 3.0, fpr_threshold([1.0, 2.0], 0.0) > 2.0
        (True, True)
    """
    s = np.sort(_finite(normal_scores, "normal validation rows"))[::-1]  # descending
    if len(s) == 0:
        raise DataError(
            "No normal validation rows to choose the anomaly threshold on. Set "
            "data.validation_split (e.g. 0.1) or provide more normal rows."
        )
    k = math.floor(target_fpr * len(s) + 1e-9)  # false positives allowed
    if k >= len(s):
        return float(s[-1])
    # Between the (k+1)-th and the k-th highest score, not just above the former: the same
    # rows scored again in other batches differ in the last bits (float32 sums).
    above = s[k - 1] if k > 0 else s[0] + max(abs(s[0]) * 1e-3, 1e-6)
    return float((s[k] + above) / 2) if above > s[k] else float(np.nextafter(s[k], np.inf))


def contamination_threshold(scores: Any, contamination: float) -> float:
    """The ``1 - contamination`` quantile of (unlabelled) ``scores``: about that share of
    the rows score at or above it.

    Example:
        >>> contamination_threshold(np.arange(1000.0), 0.01)
        989.01
    """
    s = _finite(scores, "training rows")
    return float(np.quantile(s, 1.0 - float(contamination)))


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def anomaly_metrics(scores: Any, labels: Any, threshold: float) -> dict[str, Any]:
    """Ranking metrics (threshold-free) and decision metrics at ``threshold``.

    Returns:
        ``roc_auc``, ``pr_auc`` (average precision), ``precision``, ``recall``, ``f1``,
        ``fpr``, ``threshold``, ``tp``/``fp``/``tn``/``fn``, ``rows``, ``anomalies``. An area
        is ``None`` when the rows hold one class only; a rate with nothing to divide is 0.
    """
    s = _finite(scores, "evaluated rows")
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    flagged = s >= threshold
    tp, fp = int((flagged & (y == 1)).sum()), int((flagged & (y == 0)).sum())
    fn, tn = int((~flagged & (y == 1)).sum()), int((~flagged & (y == 0)).sum())
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    both = 0 < int(y.sum()) < len(y)
    if both:
        fpr_curve, tpr_curve, _ = roc_curve(y, s)
    return {
        "roc_auc": float(area(fpr_curve, tpr_curve)) if both else None,
        "pr_auc": average_precision(y, s) if both else None,
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "fpr": _ratio(fp, fp + tn),
        "threshold": float(threshold),
        "tp": tp, "fp": fp, "tn": tn, "fn": fn,
        "rows": len(y),
        "anomalies": int(y.sum()),
    }  # fmt: skip


def score_histograms(scores: Any, labels: Any, *, bins: int = 40) -> dict[str, list[float]]:
    """Counts of normal and anomalous rows per score bin (shared edges; the top 0.5% of
    scores folded into the last bin so one extreme row does not flatten the plot).

    Example:
        >>> h = score_histograms([0.0, 1.0, 2.0, 3.0], [0, 0, 1, 1], bins=2)
        >>> h["normal"], h["anomaly"]
        ([2, 0], [0, 2])
    """
    s = _finite(scores, "evaluated rows")
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    lo, hi = float(s.min()), float(np.quantile(s, 0.995)) if len(s) >= 200 else float(s.max())
    hi = hi if hi > lo else lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    clipped = np.clip(s, lo, hi)
    return {
        "edges": edges.tolist(),
        "normal": np.histogram(clipped[y == 0], edges)[0].astype(int).tolist(),
        "anomaly": np.histogram(clipped[y == 1], edges)[0].astype(int).tolist(),
    }


@dataclass
class AnomalyEvaluation:
    """The evaluation of an anomaly detector on labelled rows (``evaluation.json``).

    Shaped for :func:`deepfuse.evaluation.format_evaluation` (``n``, ``metrics``, the
    confusion matrix; no per-class table, calibration or residuals).

    Attributes:
        n: Rows evaluated.
        metrics: :func:`anomaly_metrics`.
        confusion_matrix: ``{"labels": ["normal", "anomaly"], "counts"}`` at the threshold.
        histograms: :func:`score_histograms`.
        curves: ``{"roc": {"anomaly": {"fpr", "tpr"}}, "pr": {"anomaly": {"recall",
            "precision"}}}`` (bounded; a classifier's evaluation.json layout).
        facts: How the threshold was chosen (normal classes, rule, target FPR ...).
        notes: Why a value is undefined.
    """

    n: int
    metrics: dict[str, Any]
    confusion_matrix: dict[str, Any]
    histograms: dict[str, Any]
    curves: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    task: str = "anomaly"
    per_class: list[Any] = field(default_factory=list)
    calibration: None = None
    residuals: None = None
    never_predicted: list[Any] = field(default_factory=list)
    classes: list[str] = field(default_factory=lambda: ["normal", "anomaly"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (``evaluation.json``)."""
        return {
            "task": self.task, "n": self.n, "metrics": self.metrics, "classes": self.classes,
            "confusion_matrix": self.confusion_matrix, "histograms": self.histograms,
            "curves": self.curves, "facts": self.facts, "notes": self.notes,
        }  # fmt: skip

    def headline(self) -> dict[str, float]:
        """The :data:`HEADLINE` metrics that are defined, and the threshold."""
        out = {k: float(self.metrics[k]) for k in HEADLINE if self.metrics.get(k) is not None}
        out["threshold"] = float(self.metrics["threshold"])
        return out


def anomaly_evaluation(
    scores: Any,
    labels: Any,
    threshold: float,
    *,
    facts: dict[str, Any] | None = None,
    max_points: int = 200,
) -> AnomalyEvaluation:
    """:func:`anomaly_metrics`, the score histograms and the ROC / PR curves (at most
    ``max_points`` points each) of labelled rows.

    Example:
        >>> e = anomaly_evaluation([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.5)
        >>> e.metrics["roc_auc"], e.confusion_matrix["counts"]
        (0.75, [[2, 0], [1, 1]])
    """
    s = _finite(scores, "evaluated rows")
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    metrics = anomaly_metrics(s, y, threshold)
    notes, curves = [], {}
    if 0 < int(y.sum()) < len(y):
        fpr, tpr, _ = roc_curve(y, s)
        precision, recall, _ = precision_recall_curve(y, s)
        roc = downsample(fpr, tpr, max_points=max_points)
        pr = downsample(recall, precision, max_points=max_points)
        # keyed by the positive class, as a classifier's evaluation.json: the generic plots
        # (report, ``deepfuse plot``) draw them as they are
        curves = {
            "roc": {"anomaly": {"fpr": roc[0], "tpr": roc[1]}},
            "pr": {"anomaly": {"recall": pr[0], "precision": pr[1]}},
        }
    else:
        notes.append(
            "ROC-AUC and PR-AUC are undefined: the evaluated rows are all "
            f"{'anomalies' if int(y.sum()) else 'normal'}."
        )
    counts = [[metrics["tn"], metrics["fp"]], [metrics["fn"], metrics["tp"]]]
    return AnomalyEvaluation(
        n=len(y),
        metrics=metrics,
        confusion_matrix={"labels": ["normal", "anomaly"], "counts": counts},
        histograms=score_histograms(s, y),
        curves=curves,
        facts=dict(facts or {}),
        notes=notes,
    )


def score_rows(
    model: Any, data: Any, *, batch_size: int = 512, labels: Any = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(scores, targets)`` of every row of ``data`` (tensor dict or an iterable of batches)
    by ``model.anomaly_score``, in order; ``targets`` is ``None`` when the rows carry none.

    ``labels`` maps the batch's target to 0/1 (``labels(target_tensor) -> array``); without it
    the target is taken as it is.
    """
    import torch

    from deepfuse.models import feeding

    loader = feeding.make_loader(model, data, None, batch_size=batch_size, shuffle=False)
    model.setup(feeding.first_batch(loader), for_training=False)
    scores: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    with torch.no_grad():
        for batch in loader:
            inputs, target = model.split_batch(batch)
            scores.append(model.anomaly_score(inputs).detach().cpu().numpy())
            if target is not None:
                t = target.detach().cpu().numpy()
                targets.append(np.asarray(labels(t) if labels is not None else t))
    s = np.concatenate(scores) if scores else np.zeros(0)
    y = (
        np.concatenate(targets).astype(np.int64)
        if targets and len(targets) == len(scores)
        else None
    )
    return s, y
