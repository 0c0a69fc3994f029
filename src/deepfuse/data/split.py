"""Deterministic train/validation index splits.

Example:
    >>> import numpy as np
    >>> from deepfuse.data import stratified_split
    >>> y = np.array([0] * 80 + [1] * 20)
    >>> tr, va = stratified_split(y, 0.25, seed=0)
    >>> len(tr), len(va), int(y[va].sum())
    (75, 25, 5)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse._utils.seed import check_seed

__all__ = ["stratified_split"]


def _labels(y: Any) -> np.ndarray:
    if hasattr(y, "detach"):  # torch tensor
        y = y.detach().cpu().numpy()
    elif hasattr(y, "to_numpy"):  # pandas / pyarrow
        y = y.to_numpy(zero_copy_only=False) if "pyarrow" in type(y).__module__ else y.to_numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot / scores -> class index
        y = y.argmax(axis=1)
    return y.reshape(len(y)) if y.ndim == 2 else y


def _is_regression(y: np.ndarray) -> bool:
    if y.dtype.kind != "f":
        return False
    finite = y[np.isfinite(y)]
    return bool(np.any(np.mod(finite, 1) != 0)) or len(np.unique(finite)) > 50


def stratified_split(
    y: Any, fraction: float, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into train and validation sets, keeping class proportions.

    Each class contributes ``fraction`` of its rows to validation (rounded so the total is
    ``round(len(y) * fraction)``). Float targets with fractional values or more than 50 distinct
    values (regression) get a plain random split. The same ``seed`` gives the same split.

    Args:
        y: Labels (numpy, list, torch, pandas, pyarrow; one-hot ``(N, C)`` is accepted).
        fraction: Validation fraction, strictly between 0 and 1.
        seed: Random seed.

    Returns:
        ``(train_idx, val_idx)``: sorted ``int64`` index arrays, disjoint, covering all rows.

    Raises:
        ConfigError: ``fraction`` is not in (0, 1).
        DataError: ``y`` is empty or the split leaves one side empty.
    """
    if not 0.0 < float(fraction) < 1.0:
        raise ConfigError(
            f"Validation fraction must be between 0 and 1 (exclusive); got {fraction!r}."
        )
    y = _labels(y)
    n = len(y)
    n_val = round(n * fraction)
    if n_val == 0 or n_val == n:
        raise DataError(
            f"Splitting {n} rows with fraction {fraction} leaves an empty train or validation set; use more data or another fraction."
        )
    rng = np.random.default_rng(None if seed is None else check_seed(seed))
    if _is_regression(y):
        perm = rng.permutation(n)
        return np.sort(perm[n_val:]).astype(np.int64), np.sort(perm[:n_val]).astype(np.int64)
    _, inverse = np.unique(y.astype(str) if y.dtype.kind in "OUS" else y, return_inverse=True)
    inverse = inverse.reshape(-1)
    groups = [np.flatnonzero(inverse == k) for k in range(inverse.max() + 1)]
    exact = np.array([len(g) * fraction for g in groups])
    take = np.floor(exact).astype(np.int64)
    # Largest remainders get the leftover validation rows so the total is exactly n_val.
    extra = n_val - int(take.sum())
    if extra > 0:
        order = np.lexsort((np.arange(len(groups)), -(exact - take)))
        take[order[:extra]] += 1
    val = [rng.permutation(g)[:k] for g, k in zip(groups, take)]
    val_idx = np.sort(np.concatenate(val)).astype(np.int64)
    train_mask = np.ones(n, dtype=bool)
    train_mask[val_idx] = False
    return np.flatnonzero(train_mask).astype(np.int64), val_idx
