"""Per-fold scores of a cross-validation: the headline metrics, their mean ± std, a CSV table.

Example:
    >>> rows = [{"fold": 1, "train_rows": 8, "test_rows": 2, "accuracy": 0.5},
    ...         {"fold": 2, "train_rows": 8, "test_rows": 2, "accuracy": 1.0}]
    >>> summarize_folds(rows)
    (['accuracy'], {'accuracy': {'mean': 0.75, 'std': 0.25}})
    >>> print(folds_csv(rows, ["accuracy"]), end="")
    fold,train_rows,test_rows,accuracy
    1,8,2,0.5
    2,8,2,1.0
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

__all__ = ["HEADLINE_METRICS", "folds_csv", "summarize_folds"]

#: Metrics shown per fold and summarised (those the task has, in this order).
HEADLINE_METRICS = (
    "accuracy",
    "f1_macro",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_weighted",
    "roc_auc",
    "roc_auc_macro",
    "pr_auc",
    "pr_auc_macro",
    "ece",
    "mse",
    "rmse",
    "mae",
    "r2",
)


def summarize_folds(
    per_fold: list[dict[str, Any]],
) -> tuple[list[str], dict[str, dict[str, float]]]:
    """``(metric names in table order, {metric: {"mean", "std"}})`` over the folds
    (population std, ``ddof=0``; NaN folds are left out)."""
    names = [m for m in HEADLINE_METRICS if m in per_fold[0]]
    return names, {m: _mean_std([row.get(m, float("nan")) for row in per_fold]) for m in names}


def _mean_std(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {"mean": float("nan"), "std": float("nan")}
    return {"mean": float(v.mean()), "std": float(v.std())}


def folds_csv(rows: list[dict[str, Any]], names: list[str]) -> str:
    """One CSV row per fold: fold, train_rows, test_rows and each metric (NaN: empty)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["fold", "train_rows", "test_rows", *names]
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(h)) for h in header])
    return buf.getvalue()


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if np.isnan(v) else repr(v)
    return v
