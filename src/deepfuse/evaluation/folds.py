"""K-fold row assignments: stratified for class labels, plain shuffled folds for regression.

Every row is held out exactly once; fold sizes differ by at most one row and, when stratified,
each class's rows are spread over the folds as evenly as possible (its count per fold differs by
at most one). The same seed gives the same folds.

Example:
    >>> import numpy as np
    >>> folds = kfold_indices(np.array([0] * 6 + [1] * 3), 3, seed=0)
    >>> [len(f) for f in folds], sorted(np.concatenate(folds).tolist()) == list(range(9))
    ([3, 3, 3], True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepfuse._utils.errors import ConfigError, DataError

__all__ = ["kfold_indices"]


def _is_regression(y: np.ndarray) -> bool:
    # The heuristic of deepfuse.data.split (the train/test split), so both agree on a target.
    from deepfuse.data.split import _is_regression as same_rule

    return same_rule(y)


def kfold_indices(
    y: Any, k: int, *, seed: int = 0, stratify: bool | None = None
) -> list[np.ndarray]:
    """Held-out row indices of each of ``k`` folds (sorted ``int64`` arrays).

    Args:
        y: Targets ``(N,)`` (numpy, list, torch): labels, or numbers for regression.
        k: Number of folds, at least 2 and at most ``N``.
        seed: Seed of the shuffle.
        stratify: Keep class proportions per fold; default: yes unless ``y`` looks like a
            regression target (floats with fractions or more than 50 distinct values).

    Raises:
        ConfigError: ``k`` < 2 or more folds than rows.
    """
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y).reshape(-1)
    n = len(y)
    if not isinstance(k, int) or k < 2:
        raise ConfigError(f"--folds must be an integer >= 2; got {k!r}. Use e.g. --folds 5.")
    if k > n:
        raise DataError(f"Cannot make {k} folds from {n} rows; use --folds {max(2, n)} or fewer.")
    rng = np.random.default_rng(seed)
    if stratify is None:
        stratify = not _is_regression(y)
    if not stratify:
        order = rng.permutation(n)
    else:
        _, labels = np.unique(y.astype(str) if y.dtype.kind in "OUS" else y, return_inverse=True)
        # Concatenate each class's shuffled rows, then deal them round-robin to the folds:
        # every class is spread evenly and the fold sizes differ by at most one.
        order = np.concatenate(
            [rng.permutation(np.flatnonzero(labels == c)) for c in range(labels.max() + 1)]
        )
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[order] = np.arange(n) % k
    return [np.flatnonzero(fold_of == f).astype(np.int64) for f in range(k)]
