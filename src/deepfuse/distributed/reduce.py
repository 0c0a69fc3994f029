"""Merging metric states from every worker, so logged metrics are over the whole data set.

Metrics keep running sums/counts (``deepfuse.metrics``): the state of a metric is what its
``reset()`` sets. States are gathered from every rank (in memory, through the process group) and
merged: tensors and numbers are summed, lists (ranking metrics keep scores) are concatenated,
and the one non-additive state, R2's running mean/M2, is combined with Chan's formula.

Example:
    >>> import torch
    >>> from deepfuse.metrics import Accuracy
    >>> a, b = Accuracy(), Accuracy()
    >>> a.update(torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
    >>> b.update(torch.tensor([[1.0, 0.0]]), torch.tensor([1]))
    >>> merged = merge_states([metric_state(a), metric_state(b)])
    >>> load_state(a, merged); a.compute()
    0.5
"""

from __future__ import annotations

import copy
from typing import Any

import torch

__all__ = ["load_state", "merge_states", "metric_state"]


def _state_keys(metric: Any) -> list[str]:
    """The attributes ``reset()`` sets (the running state), found on a throw-away copy."""
    probe = copy.copy(metric)
    probe.__dict__ = {k: v for k, v in vars(metric).items() if not k.startswith("_")}
    type(metric).reset(probe)
    return [k for k in vars(probe) if k.startswith("_")]


def metric_state(metric: Any) -> dict[str, Any]:
    """The running state of ``metric`` with tensors on the CPU (ready to be sent)."""

    def cpu(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return v.detach().cpu()
        if isinstance(v, list):
            return [cpu(x) for x in v]
        return v

    return {k: cpu(getattr(metric, k)) for k in _state_keys(metric)}


def load_state(metric: Any, state: dict[str, Any], device: torch.device | None = None) -> None:
    """Write a (merged) state back into ``metric``."""
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and device is not None:
            value = value.to(device)
        setattr(metric, key, value)


def merge_states(states: list[dict[str, Any]]) -> dict[str, Any]:
    """One state equal to having seen every rank's batches in one process."""
    if {"_n", "_mean", "_m2"} <= set(states[0]):
        return _merge_welford(states)
    merged: dict[str, Any] = {}
    for key in states[0]:
        values = [s[key] for s in states if s[key] is not None]  # None: that rank saw no batch
        if not values:
            merged[key] = None
        elif isinstance(values[0], list):
            merged[key] = [x for v in values for x in v]
        elif isinstance(values[0], torch.Tensor):
            merged[key] = torch.stack(values).sum(0) if len(values) > 1 else values[0]
        else:
            merged[key] = sum(values)
    return merged


def _merge_welford(states: list[dict[str, Any]]) -> dict[str, Any]:
    """Chan et al.'s parallel merge of running (count, mean, M2), plus the additive rest."""
    live = [s for s in states if s["_n"]]
    if not live:
        return dict(states[0])
    out = dict(live[0])
    for s in live[1:]:
        n_a, n_b = out["_n"], s["_n"]
        n = n_a + n_b
        delta = s["_mean"] - out["_mean"]
        out["_mean"] = out["_mean"] + delta * (n_b / n)
        out["_m2"] = out["_m2"] + s["_m2"] + delta * delta * (n_a * n_b / n)
        for key in out:
            if key not in ("_n", "_mean", "_m2") and isinstance(
                out[key], torch.Tensor | int | float
            ):
                out[key] = out[key] + s[key]
        out["_n"] = n
    return out
