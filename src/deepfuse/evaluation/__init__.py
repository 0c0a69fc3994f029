"""Evaluation suites and k-fold splits: every metric of a task from labels and model outputs.

Implemented with numpy only (scikit-learn is a test dependency, used to check every number).

Example:
    >>> from deepfuse.evaluation import evaluate_predictions, kfold_indices
    >>> r = evaluate_predictions([0, 2, 1, 2], [[0.8, 0.1, 0.1], [0.1, 0.2, 0.7],
    ...                                         [0.3, 0.4, 0.3], [0.5, 0.1, 0.4]], "multiclass")
    >>> r.metrics["accuracy"], r.metrics["roc_auc_macro"], r.per_class[2]["recall"]
    (0.75, 1.0, 0.5)
    >>> [f.tolist() for f in kfold_indices([0, 0, 1, 1], 2, seed=0)]
    [[0, 2], [1, 3]]
"""

from __future__ import annotations

from deepfuse.evaluation.classification import UndefinedMetricWarning
from deepfuse.evaluation.folds import kfold_indices
from deepfuse.evaluation.result import EvaluationResult, evaluate_predictions
from deepfuse.evaluation.text import format_evaluation, format_folds

__all__ = [
    "EvaluationResult",
    "UndefinedMetricWarning",
    "evaluate_predictions",
    "format_evaluation",
    "format_folds",
    "kfold_indices",
]
