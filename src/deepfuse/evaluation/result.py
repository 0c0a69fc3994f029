"""``evaluate_predictions``: the full metric set of a task from labels and model outputs.

Classification (``"binary"``/``"multiclass"``): accuracy; precision/recall/F1/support per class,
macro and weighted; ROC-AUC and PR-AUC (average precision), binary or one-vs-rest macro/weighted,
with the curves (at most ~200 points each); confusion matrix (counts and row-normalised);
reliability curve, ECE and MCE. Regression: MSE, RMSE, MAE, R² and a residual summary.

Every number equals scikit-learn's on the same predictions (see tests/evaluation). An
ill-defined value follows sklearn: precision/recall/F1 of a class without samples is 0.0 with an
:class:`UndefinedMetricWarning`; an AUC whose class is absent (or the only one) is NaN (``null``
in JSON) with the reason in ``notes``; one-vs-rest macro averages skip those classes.

Example:
    >>> import numpy as np
    >>> r = evaluate_predictions([0, 1, 1, 0], [0.2, 0.9, 0.4, 0.6], "binary", ["no", "yes"])
    >>> r.metrics["accuracy"], r.metrics["roc_auc"], r.confusion_matrix["counts"]
    (0.5, 0.75, [[1, 1], [1, 1]])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from deepfuse._utils.errors import DataError
from deepfuse.evaluation.calibration import reliability_curve
from deepfuse.evaluation.classification import confusion_matrix, precision_recall_f1
from deepfuse.evaluation.curves import (
    auc,
    average_precision,
    downsample,
    precision_recall_curve,
    roc_curve,
)
from deepfuse.evaluation.regression import regression_metrics, residual_summary

__all__ = ["TASKS", "EvaluationResult", "evaluate_predictions"]

TASKS = ("binary", "multiclass", "regression")
MAX_CURVE_POINTS = 200


@dataclass
class EvaluationResult:
    """The full evaluation of one set of predictions.

    Attributes:
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        n: Number of rows evaluated.
        metrics: Headline scalars, e.g. ``accuracy``, ``f1_macro``, ``roc_auc``, ``ece``
            (classification) or ``mse``, ``rmse``, ``mae``, ``r2`` (regression).
        classes: Class labels by index (classification).
        per_class: One dict per class: ``label``, ``precision``, ``recall``, ``f1``,
            ``support``, ``roc_auc``, ``pr_auc``.
        confusion_matrix: ``{"labels", "counts", "normalized"}`` (rows: true, columns: predicted;
            ``normalized`` divides each row by its count).
        curves: ``{"roc": {label: {"fpr", "tpr", "thresholds"}}, "pr": {label: {"precision",
            "recall", "thresholds"}}}``, downsampled for storage (areas use every point).
        calibration: Reliability curve (see :func:`deepfuse.evaluation.calibration.reliability_curve`)
            of P(positive) for binary, of the top-class confidence for multiclass.
        residuals: Residual summary and sample (regression).
        notes: Why a value is undefined or was set by convention.
        never_predicted: Labels of the classes that have test rows but are never predicted
            (classification; the report and ``deepfuse evaluate`` flag them).
    """

    task: str
    n: int
    metrics: dict[str, float]
    classes: list[Any] | None = None
    per_class: list[dict[str, Any]] = field(default_factory=list)
    confusion_matrix: dict[str, Any] | None = None
    curves: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] | None = None
    residuals: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    never_predicted: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (NaN and infinities become ``None``; numpy values become Python)."""
        return _jsonable(asdict(self))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def evaluate_predictions(
    y_true: Any,
    y_prob_or_pred: Any,
    task: str,
    classes: list[Any] | None = None,
    *,
    threshold: float | None = None,
) -> EvaluationResult:
    """Compute the task's full metric set.

    Args:
        y_true: True values ``(N,)``: class indices (or the labels in ``classes``) for
            classification, numbers ``(N,)``/``(N, K)`` for regression.
        y_prob_or_pred: Probabilities ``(N, C)``; for binary also ``(N,)``/``(N, 1)`` floats
            = P(class 1); or integer predicted class indices ``(N,)`` (then the ranking and
            calibration metrics are skipped). Regression: predictions shaped like ``y_true``.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        classes: Class labels by index (default ``0 .. C-1``).
        threshold: Binary tasks: predict class 1 when P(class 1) >= ``threshold`` (the run's
            decision threshold, chosen on validation rows); ``None``: the most probable class.

    Returns:
        An :class:`EvaluationResult` (``metrics["threshold"]`` holds a threshold that was used).

    Raises:
        DataError: Unknown task, mismatched lengths/shapes, labels outside ``classes``.
    """
    if task not in TASKS:
        raise DataError(
            f"Unknown task {task!r} for evaluation. Expected one of {', '.join(TASKS)}."
        )
    pred = _as_array(y_prob_or_pred)
    truth = _as_array(y_true)
    if len(truth) != len(pred) or len(truth) == 0:
        raise DataError(
            f"Evaluation needs as many predictions as true values (at least one); got "
            f"{len(truth)} true values and {len(pred)} predictions. Pass aligned arrays."
        )
    if task == "regression":
        return _regression(truth, pred)
    return _classification(truth, pred, task, classes, threshold)


def _as_array(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _regression(y: np.ndarray, p: np.ndarray) -> EvaluationResult:
    if y.size != p.size:
        raise DataError(
            f"Regression predictions have shape {p.shape} but the targets {y.shape}; "
            "pass one prediction per target value."
        )
    y, p = y.astype(np.float64), p.reshape(y.shape).astype(np.float64)
    return EvaluationResult(
        "regression", len(y), regression_metrics(y, p), residuals=residual_summary(y, p)
    )


def _class_indices(y: np.ndarray, classes: list[Any] | None, num_classes: int) -> np.ndarray:
    """True labels → int indices ``(N,)`` in ``[0, C)``."""
    y = y.reshape(len(y), -1)
    y = y.argmax(axis=1) if y.shape[1] > 1 else y[:, 0]  # one-hot -> index
    if y.dtype.kind not in "iub" and classes is not None:
        lookup = {str(c): i for i, c in enumerate(classes)}
        unknown = sorted({str(v) for v in y} - set(lookup))
        if unknown:
            raise DataError(
                f"Labels {unknown[:5]} are not among the classes {list(classes)}. "
                "Pass class indices or the labels the model was trained on."
            )
        return np.array([lookup[str(v)] for v in y], dtype=np.int64)
    if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
        raise DataError("Classification labels must be whole numbers (class indices).")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= num_classes:
        raise DataError(
            f"Class index {int(y.max() if y.max() >= num_classes else y.min())} is outside "
            f"0..{num_classes - 1}. Pass the full 'classes' list or indices within it."
        )
    return y


def _probabilities(p: np.ndarray, task: str, num_classes: int) -> np.ndarray | None:
    """Model outputs → probabilities ``(N, C)``, or None when they are predicted labels."""
    if p.ndim == 2 and p.shape[1] == num_classes and num_classes > 1:
        return p.astype(np.float64)
    if task == "binary" and p.dtype.kind == "f" and (p.ndim == 1 or p.shape[1] == 1):
        p1 = p.reshape(-1).astype(np.float64)  # one sigmoid unit: P(class 1)
        return np.stack([1.0 - p1, p1], axis=1)
    if p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1):
        return None
    raise DataError(
        f"Predictions have shape {p.shape}, expected (N, {num_classes}) probabilities or "
        "(N,) class indices. Check 'classes' and the model's output."
    )


def _classification(
    truth: np.ndarray,
    pred: np.ndarray,
    task: str,
    classes: list[Any] | None,
    threshold: float | None = None,
) -> EvaluationResult:
    if classes is None:
        width = pred.shape[1] if pred.ndim == 2 and pred.shape[1] > 1 else 0
        top = int(max(np.max(truth), np.max(pred) if pred.dtype.kind in "iu" else 0))
        classes = list(range(max(2 if task == "binary" else 0, width, top + 1)))
    c = len(classes)
    y = _class_indices(truth, classes, c)
    probs = _probabilities(pred, task, c)
    y_pred = probs.argmax(axis=1) if probs is not None else _class_indices(pred, classes, c)
    if threshold is not None and probs is not None and c == 2:
        y_pred = (probs[:, 1] >= threshold).astype(np.int64)
    notes: list[str] = []
    prf = precision_recall_f1(y, y_pred, c, notes)
    metrics = {"accuracy": float(prf["accuracy"])}
    if threshold is not None and probs is not None and c == 2:
        metrics["threshold"] = float(threshold)
    if task == "binary":  # sklearn's average="binary": the positive class is index 1
        metrics.update({k: float(prf[k][1]) for k in ("precision", "recall", "f1")})
    for avg in ("macro", "weighted"):
        metrics.update(
            {f"{k}_{avg}": float(prf[f"{k}_{avg}"]) for k in ("precision", "recall", "f1")}
        )
    per_class = [
        {
            "label": label,
            **{k: float(prf[k][i]) for k in ("precision", "recall", "f1")},
            "support": int(prf["support"][i]),
        }
        for i, label in enumerate(classes)
    ]
    counts = confusion_matrix(y, y_pred, c)
    rows = counts.sum(axis=1, keepdims=True)
    result = EvaluationResult(
        task,
        len(y),
        metrics,
        classes=list(classes),
        per_class=per_class,
        confusion_matrix={
            "labels": list(classes),
            "counts": counts.tolist(),
            # sklearn normalize="true": an empty row stays 0 instead of NaN.
            "normalized": np.where(rows > 0, counts / np.maximum(rows, 1), 0.0).tolist(),
        },
        notes=notes,
        # classes with test rows (row sum > 0) and no prediction at all (column sum == 0)
        never_predicted=[
            classes[i] for i in np.flatnonzero((rows[:, 0] > 0) & (counts.sum(axis=0) == 0))
        ],
    )
    if probs is not None:
        _ranking(result, y, probs)
        _calibration(result, y, probs)
    else:
        notes.append("Predictions are labels, not probabilities: no ROC/PR-AUC or calibration.")
    return result


def _ranking(result: EvaluationResult, y: np.ndarray, probs: np.ndarray) -> None:
    """ROC-AUC and PR-AUC per class (one-vs-rest), their averages, and downsampled curves."""
    roc_curves, pr_curves = {}, {}
    support = np.bincount(y, minlength=probs.shape[1]).astype(np.float64)
    n = len(y)
    for i, row in enumerate(result.per_class):
        positive = y == i
        if support[i] in (0, n):  # ROC needs both positives and negatives
            row["roc_auc"] = float("nan")
            result.notes.append(
                f"ROC-AUC of class {row['label']!r} is undefined: "
                f"{'no' if support[i] == 0 else 'only'} rows of that class in y_true."
            )
        else:
            fpr, tpr, thr = roc_curve(positive, probs[:, i])
            row["roc_auc"] = auc(fpr, tpr)
            # thresholds[0] is +inf (JSON null): plots use fpr/tpr, the first point is (0, 0).
            roc_curves[str(row["label"])] = dict(
                zip(
                    ("fpr", "tpr", "thresholds"),
                    downsample(fpr, tpr, thr, max_points=MAX_CURVE_POINTS),
                )
            )
        row["pr_auc"] = average_precision(positive, probs[:, i])
        if support[i] == 0:  # sklearn: recall set to 1 everywhere -> AP 0.0
            result.notes.append(
                f"PR-AUC of class {row['label']!r} is 0.0 by convention: no positive rows."
            )
        prec, rec, thr = precision_recall_curve(positive, probs[:, i])
        # precision/recall have one more point than thresholds (the final (recall 0, precision 1)).
        pts = downsample(prec, rec, np.r_[thr, np.nan], max_points=MAX_CURVE_POINTS)
        pr_curves[str(row["label"])] = dict(zip(("precision", "recall", "thresholds"), pts))
    result.curves = {"roc": roc_curves, "pr": pr_curves}
    roc = np.array([r["roc_auc"] for r in result.per_class])
    ap = np.array([r["pr_auc"] for r in result.per_class])
    if result.task == "binary":
        result.metrics["roc_auc"] = float(roc[1])
        result.metrics["pr_auc"] = float(ap[1])
        return
    ok = ~np.isnan(roc)
    w = support / n
    result.metrics["roc_auc_macro"] = float(roc[ok].mean()) if ok.any() else float("nan")
    # An absent class has weight 0, so the weighted average is sklearn's even then.
    result.metrics["roc_auc_weighted"] = (
        float(np.sum(roc[ok] * w[ok]) / w[ok].sum()) if w[ok].sum() > 0 else float("nan")
    )
    result.metrics["pr_auc_macro"] = float(ap.mean())
    result.metrics["pr_auc_weighted"] = float(np.sum(ap * w))


def _calibration(result: EvaluationResult, y: np.ndarray, probs: np.ndarray) -> None:
    if result.task == "binary":
        event, prob = (y == 1), probs[:, 1]  # P(positive class) vs. being positive
    else:
        event, prob = (probs.argmax(axis=1) == y), probs.max(axis=1)  # confidence vs. correct
    cal = reliability_curve(event, np.clip(prob, 0.0, 1.0), n_bins=10)
    cal["of"] = "P(positive class)" if result.task == "binary" else "top-class confidence"
    result.calibration = cal
    result.metrics["ece"] = cal["ece"]
    result.metrics["mce"] = cal["mce"]
