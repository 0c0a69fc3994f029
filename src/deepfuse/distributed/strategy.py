"""The ``Strategy`` interface: how one fit loop runs on one process, on N processes, or on Ray.

The training loop never asks ``if distributed:``. It holds a Strategy and calls a handful of
methods that are no-ops on :class:`~deepfuse.distributed.single.SingleProcess` and collectives on
:class:`~deepfuse.distributed.ddp.DDPStrategy`. A new backend is a new file with a new subclass.

Life cycle, as ``deepfuse.api.train`` and ``Model.fit`` use it::

    strategy.launch(fn, *args)        # run fn(worker_strategy, *args) on every worker; rank 0's result
      worker: strategy.setup()        # process group, device
              strategy.shard_data()   # this rank's batches (equal counts on every rank)
              strategy.wrap_model()   # gradient averaging (DDP) during fit
              ... Trainer.fit: strategy.reduce_logs(...) at each epoch end / evaluation end
              strategy.unwrap_model() # back to the plain model for saving and evaluation
              strategy.report(...)    # epoch metrics and checkpoints to the launcher (Ray)

Example:
    >>> from deepfuse.distributed import SingleProcess
    >>> s = SingleProcess()
    >>> s.rank, s.world_size, s.is_main
    (0, 1, True)
    >>> s.launch(lambda strategy, x: x * 2, 21)
    42
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["Strategy"]


class Strategy(ABC):
    """One way of running the fit loop; subclasses implement the collectives.

    Attributes:
        rank: This process's index in ``[0, world_size)``.
        world_size: Number of training processes.
    """

    rank: int = 0
    world_size: int = 1
    #: True where the launcher keeps checkpoints for restarts (Ray): the API then reports one
    #: per epoch through :meth:`report` and resumes from :meth:`resume_checkpoint`.
    wants_checkpoints: bool = False
    #: True for a launcher that may restart its workers after a failure (Ray): the caller then
    #: creates the run folder before :meth:`launch`, so every attempt writes the same one.
    restarts_workers: bool = False

    # ------------------------------------------------------------------ lifecycle
    @property
    def is_main(self) -> bool:
        """True on the one process that logs, writes the run directory and checkpoints."""
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """The device this process trains on."""
        return torch.device("cpu")

    def launch(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(worker_strategy, *args, **kwargs)`` on every worker; return rank 0's result.

        The default runs it here, in this process (the workers already exist: one process, or
        ``torchrun`` started them). Launchers such as Ray start the workers themselves.
        """
        self.setup()
        try:
            return fn(self, *args, **kwargs)
        finally:
            self.teardown()

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Join the process group (if any). Called by :meth:`launch`."""

    def teardown(self) -> None:  # noqa: B027 - optional hook
        """Leave the process group (if this strategy created it)."""

    # ---------------------------------------------------------------- model, data
    def wrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """Make ``model``'s backward pass average gradients over workers; returns ``model``."""
        return model

    def unwrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """Undo :meth:`wrap_model` (saving, evaluation and prediction use the plain model)."""
        return model

    def shard_data(self, data: Any, *, train: bool = True) -> Any:
        """This rank's part of ``data`` (equal batch counts on every rank when ``train``)."""
        return data

    # ---------------------------------------------------------------- collectives
    @abstractmethod
    def all_reduce_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise sum of ``values`` over all workers (a new tensor on every rank)."""

    @abstractmethod
    def reduce_metric_states(self, metric_set: Any) -> None:
        """Merge the running states of ``metric_set`` over workers, in place, before compute()."""

    def reduce_totals(self, loss_sum: float, seen: int) -> tuple[float, int]:
        """Global ``(sum of loss * rows, rows)`` from this rank's values."""
        return loss_sum, seen

    def barrier(self) -> None:  # noqa: B027 - optional hook
        """Wait until every worker reaches this point."""

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        """``obj`` as rank ``src`` has it (JSON-able values; sent in memory, never via files)."""
        return obj

    # ------------------------------------------------------------- launcher hooks
    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None = None) -> None:  # noqa: B027
        """Hand epoch metrics (and, from rank 0, a checkpoint folder) to the launcher."""

    def resume_checkpoint(self) -> Any:
        """A context manager yielding the folder to resume from, or ``None``; see Ray."""
        import contextlib

        return contextlib.nullcontext(None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, world_size={self.world_size})"
