"""Regression metrics (MSE, RMSE, MAE, R²) and a residual summary with a small sample.

R² follows ``sklearn.metrics.r2_score`` (``force_finite=True``): a constant ``y_true`` gives 1.0
for a perfect prediction, else 0.0. Several outputs ``(N, K)`` are averaged uniformly.

Example:
    >>> import numpy as np
    >>> m = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    >>> round(m["mse"], 4), m["mae"], m["r2"]
    (0.3333, 0.3333333333333333, 0.5)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["regression_metrics", "residual_summary"]


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    ss_res = float(np.sum((y - p) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``{"mse", "rmse", "mae", "r2"}`` for ``(N,)`` or ``(N, K)`` targets and predictions."""
    y = y_true.reshape(len(y_true), -1).astype(np.float64)  # (N, K)
    p = y_pred.reshape(len(y_pred), -1).astype(np.float64)
    mse = float(np.mean((y - p) ** 2))
    return {
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "mae": float(np.mean(np.abs(y - p))),
        "r2": float(np.mean([_r2(y[:, k], p[:, k]) for k in range(y.shape[1])])),
    }


def residual_summary(
    y_true: np.ndarray, y_pred: np.ndarray, sample_size: int = 200, seed: int = 0
) -> dict[str, Any]:
    """Residuals ``y_true − y_pred``: mean, std, min/max, quantiles, and a seeded row sample.

    The sample (``y_true``, ``y_pred``, ``residual`` lists, at most ``sample_size`` rows in row
    order) is what a residual plot needs without storing every row.
    """
    y = y_true.reshape(-1).astype(np.float64)
    p = y_pred.reshape(-1).astype(np.float64)
    r = y - p
    qs = (0.05, 0.25, 0.5, 0.75, 0.95)
    rows = np.sort(np.random.default_rng(seed).permutation(len(r))[:sample_size])
    return {
        "mean": float(r.mean()),
        "std": float(r.std()),
        "min": float(r.min()),
        "max": float(r.max()),
        "quantiles": {str(q): float(v) for q, v in zip(qs, np.quantile(r, qs))},
        "sample": {
            "y_true": y[rows].tolist(),
            "y_pred": p[rows].tolist(),
            "residual": r[rows].tolist(),
        },
    }
