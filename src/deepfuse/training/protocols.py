"""What the training loop needs from its data, its model and its callbacks, as ``Protocol``s.

The loop (:mod:`deepfuse.training.trainer`) relies on these and nothing else. Capabilities that
are genuinely optional (a dataset that can resume, a metric set that can be checkpointed, a
callback with extra checkpoint state) are ``runtime_checkable`` and tested with ``isinstance``
where they are used, never probed with ``getattr(..., None)``.

Data: anything iterable over ``dict[str, Tensor]`` batches trains. A dataset that also has
``state_dict`` / ``load_state_dict`` (:class:`ResumableData`: deepfuse's ``LazyDataset``,
``InMemoryLoader``, sharded loaders) has its position saved in every checkpoint and restored on
resume, so the resumed run sees exactly the batches the uninterrupted one would. Nothing between
such a dataset and the trainer may hide these two methods.

Example:
    >>> import torch
    >>> from deepfuse.data.memory import InMemoryLoader
    >>> loader = InMemoryLoader({"x": torch.zeros(4, 2)}, batch_size=2, shuffle=False)
    >>> isinstance(loader, ResumableData), isinstance([{"x": torch.zeros(1)}], ResumableData)
    (True, False)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

import torch

__all__ = [
    "CheckpointedCallback",
    "EpochAware",
    "MetricStates",
    "ResumableData",
    "StatefulCallback",
    "StepExtension",
    "TrainableModel",
    "TrainerAware",
]


@runtime_checkable
class ResumableData(Protocol):
    """Training data that can save and restore its position (epoch, batch, shuffle state).

    ``state_dict()`` is taken at a checkpoint (JSON-able values or tensors); after
    ``load_state_dict(state)`` on a freshly built, identically configured dataset, the next
    iteration continues right after the last batch handed out before the checkpoint.
    """

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class EpochAware(Protocol):
    """Data whose order depends on the epoch (``LazyDataset``): set when no position is saved."""

    def set_epoch(self, epoch: int) -> None: ...


@runtime_checkable
class MetricStates(Protocol):
    """A model's training metrics as a whole (``deepfuse.metrics.MetricSet``): checkpointable."""

    def state_dict(self) -> dict[str, dict[str, Any]]: ...
    def load_state_dict(
        self, state: Mapping[str, Any], *, device: torch.device | None = None
    ) -> None: ...


class TrainableModel(Protocol):
    """What the loop needs from a model (``deepfuse.Model`` implements it).

    ``metric_set`` is the model's running metrics (a :class:`MetricStates`, or ``None`` when it
    has none); the strategy merges it over workers and checkpoints save it.
    """

    optimizer: torch.optim.Optimizer
    metric_set: Any

    def train(self, mode: bool = True) -> Any: ...
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...
    def test_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...
    def reset_metrics(self) -> None: ...
    def compute_metrics(self) -> dict[str, float]: ...
    def state_dict(self) -> Mapping[str, Any]: ...
    def load_state_dict(self, state: Mapping[str, Any]) -> Any: ...
    def parameters(self) -> Iterator[torch.nn.Parameter]: ...


@runtime_checkable
class StatefulCallback(Protocol):
    """A callback whose JSON state (counters, best value) goes into checkpoints."""

    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


@runtime_checkable
class CheckpointedCallback(Protocol):
    """A callback whose checkpoint state holds tensors too (``EarlyStopping``'s best weights).

    Used instead of :class:`StatefulCallback`'s methods when a callback has both.
    """

    def checkpoint_state(self) -> dict[str, Any]: ...
    def load_checkpoint_state(self, state: Mapping[str, Any]) -> None: ...


@runtime_checkable
class TrainerAware(Protocol):
    """A callback that wants the trainer (``deepfuse.training.callbacks.Callback`` is one)."""

    def set_trainer(self, trainer: Any) -> None: ...


@runtime_checkable
class StepExtension(Protocol):
    """A feature that replaces a model's training step (``deepfuse.adversarial``'s adversarial
    training): it gets the model and the split batch, and runs the model's plain step
    (``model.optimize_step(x, y)``) on the batch it makes."""

    def train_step(self, model: Any, x: Any, y: torch.Tensor | None) -> dict[str, torch.Tensor]: ...
