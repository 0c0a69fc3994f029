"""``SingleProcess``: the default strategy. Every method is a no-op, so the loop pays nothing.

Example:
    >>> import torch
    >>> from deepfuse.distributed import SingleProcess
    >>> SingleProcess().all_reduce_sum(torch.tensor([1.0, 2.0]))
    tensor([1., 2.])
"""

from __future__ import annotations

from typing import Any

import torch

from deepfuse.distributed.strategy import Strategy

__all__ = ["SingleProcess"]


class SingleProcess(Strategy):
    """Train in this process only (rank 0 of 1): no process group, no copies, no syncs."""

    def all_reduce_sum(self, values: torch.Tensor) -> torch.Tensor:
        return values

    def reduce_metric_states(self, metric_set: Any) -> None:
        return None
