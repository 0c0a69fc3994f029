"""What an epoch accumulates besides the loss, and how it goes into a checkpoint.

* :class:`StepLogs` - the keys a ``train_step`` returns besides ``"loss"`` (a GAN's ``d_loss``,
  ``g_loss``, ``gp`` ...), summed per epoch without a device sync; its :meth:`StepLogs.state_dict`
  lets a run resumed mid-epoch log the same epoch means as an uninterrupted one.
* :func:`metric_states`, :func:`tracker_states` / :func:`load_metric_states` - the running
  states of the compiled metrics and of the trackers a model lists itself (Keras' ``Mean(name="d_loss")`` in
  ``model.metrics``), for the same reason.

Example:
    >>> import torch
    >>> logs = StepLogs(None)
    >>> logs.add({"d_loss": torch.tensor(1.0), "g_loss": 3.0}, rows=2)
    >>> logs.add({"d_loss": torch.tensor(2.0), "g_loss": 1.0}, rows=2)
    >>> logs.logs(seen=4), logs.has_loss
    ({'d_loss': 1.5, 'g_loss': 2.0}, False)
    >>> again = StepLogs(None); again.load_state_dict(logs.state_dict()); again.logs(seen=4)
    {'d_loss': 1.5, 'g_loss': 2.0}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from deepfuse.training.protocols import MetricStates

__all__ = ["StepLogs", "load_metric_states", "metric_states", "tracker_states"]


class StepLogs:
    """The keys a step returns besides ``"loss"``, summed per epoch without a device sync.

    Keys named like one of ``model.metrics`` keep the last value returned (a metric object's
    ``result()`` is already the epoch's value); other keys keep a row-weighted running sum.
    """

    def __init__(self, model: Any) -> None:
        metrics = getattr(model, "metrics", None) or []
        self._metric_names = {getattr(m, "name", None) for m in metrics}
        # Keras' loss tracker (model.metrics' "loss"): a step that updated it returns its
        # result, the epoch's mean loss already; the built-in steps return the batch's loss.
        self._loss_tracker = next((m for m in metrics if getattr(m, "name", None) == "loss"), None)
        self._sums: dict[str, Any] = {}
        self._last: dict[str, Any] = {}
        self.has_loss = True  # until a step returns logs without "loss"

    def add(self, out: Mapping[str, Any], rows: int) -> None:
        """Add one step's logs (``rows``: the batch's rows, the weight of its values)."""
        if len(out) == 1 and "loss" in out:  # the built-in step: nothing else to keep
            return
        self.has_loss = "loss" in out
        for key, value in out.items():
            if key == "loss":
                if _was_updated(self._loss_tracker):
                    self._last[key] = value.detach() if isinstance(value, torch.Tensor) else value
                continue
            value = value.detach() if isinstance(value, torch.Tensor) else value
            if key in self._metric_names:
                self._last[key] = value
            else:
                self._sums[key] = self._sums.get(key, 0.0) + value * rows

    def logs(self, seen: int) -> dict[str, float]:
        """The epoch's values so far: means over ``seen`` rows, last values of trackers."""
        out = {k: float(v) / max(seen, 1) for k, v in self._sums.items()}
        out.update({k: float(v) for k, v in self._last.items()})
        return out

    def state_dict(self) -> dict[str, Any]:
        """The sums and last values as floats (JSON-able; reading them syncs once per checkpoint)."""
        return {
            "sums": {k: float(v) for k, v in self._sums.items()},
            "last": {k: float(v) for k, v in self._last.items()},
            "has_loss": self.has_loss,
        }

    def load_state_dict(self, state: Mapping[str, Any] | None) -> None:
        """Continue from :meth:`state_dict` (``None``: a checkpoint written before it existed)."""
        if not state:
            return
        self._sums = {str(k): float(v) for k, v in state["sums"].items()}
        self._last = {str(k): float(v) for k, v in state["last"].items()}
        self.has_loss = bool(state["has_loss"])


def _was_updated(metric: Any) -> bool:
    """Whether a Keras ``Mean`` tracker got a value since its last reset (its count is ``None``
    until then; not read as a number, so no device sync per step)."""
    return getattr(metric, "_count", None) is not None


def _own_trackers(model: Any) -> dict[str, Any]:
    """``model.metrics`` outside the compiled metric set (Keras trackers a subclass lists, the
    compiled loss tracker), by position and name."""
    metric_set = getattr(model, "metric_set", None)
    compiled = set(map(id, metric_set.metrics.values())) if metric_set is not None else set()
    return {
        f"{i}.{getattr(m, 'name', type(m).__name__)}": m
        for i, m in enumerate(getattr(model, "metrics", None) or [])
        if id(m) not in compiled and callable(getattr(m, "state_dict", None))
    }


def metric_states(model: Any) -> dict[str, dict[str, Any]]:
    """Running state of each compiled training metric (``MetricSet.state_dict``); empty
    without metrics."""
    metric_set = model.metric_set
    return metric_set.state_dict() if isinstance(metric_set, MetricStates) else {}


def tracker_states(model: Any) -> dict[str, dict[str, Any]]:
    """Running state of the trackers in ``model.metrics`` outside the compiled metrics (a Keras
    GAN's ``Mean(name="d_loss")``, the compiled loss tracker)."""
    return {name: m.state_dict() for name, m in _own_trackers(model).items()}


def load_metric_states(
    model: Any, states: Mapping[str, Any] | None, trackers: Mapping[str, Any] | None = None
) -> None:
    """Put the epoch's running metric and tracker states back, on the model's device."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    metric_set = model.metric_set
    if states and isinstance(metric_set, MetricStates):
        metric_set.load_state_dict(states, device=device)
    own = _own_trackers(model) if trackers else {}
    for name, state in (trackers or {}).items():
        if name in own:  # a tracker that no longer exists is left out
            own[name].load_state_dict(state, device=device)
