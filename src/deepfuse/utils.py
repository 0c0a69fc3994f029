"""Keras-compatible array helpers: ``to_categorical`` and ``pad_sequences``.

Example:
    >>> to_categorical([0, 2], 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2).tolist()
    [[2, 3], [0, 4]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepfuse._utils.errors import UserError
from deepfuse.data.text import pad_sequences  # the one home; this is the Keras-style name

__all__ = ["pad_sequences", "to_categorical"]


def to_categorical(
    y: Sequence[int] | np.ndarray, num_classes: int | None = None, dtype: str = "float32"
) -> np.ndarray:
    """One-hot encode integer class labels ``(N,)`` into ``(N, num_classes)``."""
    labels = np.asarray(y, dtype=np.int64).reshape(-1)
    if labels.size and labels.min() < 0:
        raise UserError(f"to_categorical needs labels >= 0; got {int(labels.min())}.")
    n = int(num_classes) if num_classes is not None else int(labels.max()) + 1 if labels.size else 0
    if labels.size and labels.max() >= n:
        raise UserError(f"Label {int(labels.max())} is out of range for num_classes={n}.")
    out = np.zeros((labels.size, n), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out
