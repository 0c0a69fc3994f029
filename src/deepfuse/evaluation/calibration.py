"""Calibration: reliability curve over uniform probability bins, ECE and MCE.

Bins match ``sklearn.calibration.calibration_curve(strategy="uniform")``: edges
``linspace(0, 1, n_bins + 1)``, a probability ``p`` falls in the bin ``searchsorted(inner_edges, p)``
(so 0.1 belongs to the first bin). ECE is the count-weighted mean of
``|fraction positive − mean predicted|`` over the bins, MCE its maximum over non-empty bins.

Example:
    >>> import numpy as np
    >>> cal = reliability_curve(np.array([0, 1, 1, 1]), np.array([0.2, 0.8, 0.8, 0.6]), n_bins=2)
    >>> cal["count"], round(cal["ece"], 4)
    ([1, 3], 0.25)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["reliability_curve"]


def reliability_curve(y: np.ndarray, prob: np.ndarray, n_bins: int = 10) -> dict[str, Any]:
    """Per-bin mean predicted probability, fraction of positives and count; ECE and MCE.

    Args:
        y: Binary outcomes ``(N,)`` (1 = the event whose probability is ``prob``).
        prob: Predicted probabilities ``(N,)`` in [0, 1].
        n_bins: Number of uniform bins on [0, 1].

    Returns:
        ``{"bin_edges", "mean_predicted", "fraction_positive", "count", "ece", "mce"}``; the
        per-bin lists have ``n_bins`` entries, ``None`` for an empty bin.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], prob)  # (N,) bin index in [0, n_bins)
    count = np.bincount(ids, minlength=n_bins)
    sum_prob = np.bincount(ids, weights=prob, minlength=n_bins)
    sum_true = np.bincount(ids, weights=y.astype(np.float64), minlength=n_bins)
    full = count > 0
    mean_pred = np.where(full, sum_prob / np.maximum(count, 1), np.nan)
    frac_pos = np.where(full, sum_true / np.maximum(count, 1), np.nan)
    gap = np.abs(frac_pos - mean_pred)[full]
    n = max(int(count.sum()), 1)
    return {
        "bin_edges": edges.tolist(),
        "mean_predicted": [float(v) if ok else None for v, ok in zip(mean_pred, full)],
        "fraction_positive": [float(v) if ok else None for v, ok in zip(frac_pos, full)],
        "count": count.astype(int).tolist(),
        "ece": float(np.sum(gap * count[full]) / n),
        "mce": float(gap.max()) if gap.size else float("nan"),
    }
