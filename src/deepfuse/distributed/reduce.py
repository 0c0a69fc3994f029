"""Merging metric states from every worker, so logged metrics are over the whole data set.

Each metric owns its state (``Metric.state_dict`` / ``load_state_dict`` / ``merge``, see
:mod:`deepfuse.metrics.base`). A strategy gathers every rank's :func:`portable` states (CPU
tensors, sent in memory through the process group) and :func:`merge_all` folds them, in rank
order, into the local metric set: the result equals one process that saw every rank's batches.

Example:
    >>> import torch
    >>> from deepfuse.metrics import MetricSet
    >>> a, b = MetricSet(["accuracy"]), MetricSet(["accuracy"])
    >>> a.update(torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
    >>> b.update(torch.tensor([[1.0, 0.0]]), torch.tensor([1]))
    >>> merge_all(a, [portable(a), portable(b)], device=torch.device("cpu")); a.compute()
    {'accuracy': 0.5}
"""

from __future__ import annotations

from typing import Any

import torch

from deepfuse.metrics import MetricSet

__all__ = ["merge_all", "portable"]


def _cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, list):
        return [_cpu(v) for v in value]
    return value


def portable(metric_set: MetricSet) -> dict[str, dict[str, Any]]:
    """``metric_set``'s states with tensors on the CPU (ready to be sent to other ranks)."""
    return {
        name: {k: _cpu(v) for k, v in state.items()}
        for name, state in metric_set.state_dict().items()
    }


def merge_all(
    metric_set: MetricSet, states: list[dict[str, dict[str, Any]]], *, device: torch.device
) -> None:
    """Replace ``metric_set``'s states by the merge of ``states`` (one per rank, in rank order)."""
    metric_set.load_state_dict(states[0], device=device)
    for other in states[1:]:
        metric_set.merge(other)
