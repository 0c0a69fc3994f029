"""Held-out rows for the in-memory routes: stratified, seeded, never an empty side.

Example:
    >>> import numpy as np, torch
    >>> keep, held = split_indices(np.array([0, 1] * 10), 0.2, seed=0)
    >>> len(keep), len(held)
    (16, 4)
    >>> train, val = split_tensors({"y": torch.arange(20) % 2}, np.arange(20) % 2, 0.2, seed=0)
    >>> len(train["y"]), len(val["y"])
    (16, 4)
"""

from __future__ import annotations

import numpy as np
import torch

from deepfuse._utils.errors import DataError
from deepfuse.data.split import stratified_split

__all__ = ["split_indices", "split_tensors"]


def split_indices(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(kept, held out)`` row indices, stratified by ``labels``.

    Raises:
        DataError: One side of the split would be empty.
    """
    keep, held = stratified_split(labels, fraction, seed=seed)
    if len(keep) == 0 or len(held) == 0:
        raise DataError(
            f"Cannot hold out {fraction:.0%} of {len(labels)} rows: one side of the split is empty. "
            "Add rows, or set data.validation_split=0 / provide data.test."
        )
    return np.sort(np.asarray(keep)), np.sort(np.asarray(held))


def split_tensors(
    tensors: dict[str, torch.Tensor], labels: np.ndarray, fraction: float, seed: int
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """``(kept, held out)`` tensor dicts; no held-out dict when ``fraction`` is 0."""
    if not fraction:
        return tensors, None
    keep, held = split_indices(labels, fraction, seed)
    keep_t, held_t = torch.as_tensor(keep), torch.as_tensor(held)
    return (
        {k: v.index_select(0, keep_t) for k, v in tensors.items()},
        {k: v.index_select(0, held_t) for k, v in tensors.items()},
    )
