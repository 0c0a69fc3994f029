"""``RayStrategy``: Ray Train starts N workers; each runs the same fit loop with a ``DDPStrategy``.

How to run (``pip install 'deepfuse[ray]'``)::

    # this machine: a local Ray runtime with 2 workers (1 CPU each)
    $ deepfuse train examples/mnist_cnn.yaml --workers 2

    # an existing cluster (or set RAY_ADDRESS); runs and checkpoints on shared storage
    $ deepfuse train cfg.yaml --workers 8 --gpus-per-worker 1 --address ray://head:10001 \\
          trainer.strategy.storage_path=s3://bucket/ray --max-failures 3

Ray's ``TorchTrainer`` initialises torch.distributed (gloo on CPU, NCCL on GPU) in every worker;
the worker wraps that group in :class:`RayWorkerStrategy`, which adds what Ray brings: epoch
metrics and rank 0's checkpoint go to ``ray.train.report``; after a worker dies, Ray restarts the
whole group (up to ``max_failures`` times) and every worker resumes from
``ray.train.get_checkpoint()``. Ray is imported only inside :meth:`RayStrategy.launch`.

Example:
    >>> from deepfuse.distributed import RayStrategy
    >>> RayStrategy(workers=2, max_failures=1)
    RayStrategy(workers=2, gpus_per_worker=0, max_failures=1)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import torch

from deepfuse._utils.errors import ConfigError, UserError
from deepfuse._utils.optional import require
from deepfuse.distributed.ddp import DDPStrategy

__all__ = ["RayStrategy", "RayWorkerStrategy"]

# Environment the workers must see as the driver does (data folder, thread counts).
_FORWARDED_ENV = ("DEEPFUSE_DATA_DIR", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _ray() -> Any:
    return require("ray", extra="ray", purpose="training on several workers (--workers, Ray)")


class RayWorkerStrategy(DDPStrategy):
    """The strategy inside one Ray Train worker: DDP over Ray's process group, plus reporting.

    Args:
        backend: ``"gloo"`` or ``"nccl"`` (what Ray initialised).
        torch_threads: Intra-op threads for this worker (CPU training: its share of the cores).
    """

    wants_checkpoints = True

    def __init__(self, backend: str | None = None, *, torch_threads: int | None = None) -> None:
        super().__init__(backend)
        self.torch_threads = torch_threads

    def setup(self) -> None:
        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        super().setup()

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None = None) -> None:
        from ray import train

        checkpoint = None
        if checkpoint_dir is not None and self.is_main:
            checkpoint = train.Checkpoint.from_directory(checkpoint_dir)
        # Every rank reports (Ray waits for all of them); only rank 0 attaches a checkpoint.
        train.report(_plain(metrics), checkpoint=checkpoint)

    def dataset(
        self,
        name: str = "train",
        *,
        batch_size: int,
        target: str | None = None,
        features: list[str] | None = None,
        drop_last: bool = False,
    ) -> Any:
        """This worker's split of the Ray Dataset passed as ``RayStrategy(datasets={name: ds})``.

        Example:
            >>> ds = strategy.dataset("train", batch_size=64, target="label")  # doctest: +SKIP
            >>> model.fit(ds, epochs=2, strategy=strategy)  # doctest: +SKIP
        """
        from ray import train

        from deepfuse.distributed.raydata import RayDataShard

        try:
            shard = train.get_dataset_shard(name)
        except KeyError:
            shard = None
        if shard is None:
            raise UserError(
                f"No Ray Dataset named {name!r} was passed: use RayStrategy(datasets={{{name!r}: ds}})."
            )
        return RayDataShard(
            shard, batch_size=batch_size, target=target, features=features, drop_last=drop_last
        )

    @contextlib.contextmanager
    def resume_checkpoint(self) -> Iterator[str | None]:  # type: ignore[override]
        from ray import train

        checkpoint = train.get_checkpoint()
        if checkpoint is None:
            yield None
            return
        with checkpoint.as_directory() as folder:
            yield folder


class RayStrategy(DDPStrategy):
    """Launch the fit on ``workers`` Ray Train workers; rank 0's result comes back here.

    Args:
        workers: Number of training processes (the global batch is split between them).
        address: Ray cluster to join (``ray://host:10001`` or ``auto``); default: ``RAY_ADDRESS``,
            else a local Ray runtime is started for this run and stopped after it.
        gpus_per_worker: GPUs per worker (> 0: NCCL, batches and model on the worker's GPU).
        cpus_per_worker: CPUs reserved per worker; also its number of torch threads on CPU.
        max_failures: How many times a failed worker group is restarted from the last
            checkpoint before the run fails.
        storage_path: Where Ray keeps checkpoints (a shared folder or ``s3://...`` on a
            multi-node cluster); default: Ray's (``~/ray_results``).
        datasets: Ray Datasets by name, split equally between the workers by Ray Train; inside
            the worker, ``strategy.dataset(name, batch_size=...)`` gives its split as batches.
    """

    restarts_workers = True

    def __init__(
        self,
        workers: int = 2,
        *,
        address: str | None = None,
        gpus_per_worker: float = 0,
        cpus_per_worker: float = 1,
        max_failures: int = 0,
        storage_path: str | None = None,
        datasets: dict[str, Any] | None = None,
    ) -> None:
        for name, value, low in (("workers", workers, 1), ("max_failures", max_failures, -1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(
                    f"The '{name}' argument of the Ray strategy must be an int >= {low}; "
                    f"got {value!r}."
                )
        for name, value in (
            ("gpus_per_worker", gpus_per_worker),
            ("cpus_per_worker", cpus_per_worker),
        ):
            if not isinstance(value, int | float) or value < 0:
                raise ConfigError(
                    f"The '{name}' argument of the Ray strategy must be a number >= 0; got {value!r}."
                )
        super().__init__("nccl" if gpus_per_worker else "gloo")
        self.workers, self.address = workers, address
        self.gpus_per_worker, self.cpus_per_worker = gpus_per_worker, cpus_per_worker
        self.max_failures, self.storage_path = max_failures, storage_path
        self.datasets = dict(datasets) if datasets else None

    def launch(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(worker_strategy, *args, **kwargs)`` on every worker; return rank 0's result.

        ``fn`` and its arguments are sent to the workers (cloudpickle), so they must be
        importable there; paths must be absolute (Ray changes the workers' directory).
        """
        ray = _ray()
        from ray.train import FailureConfig, LoggingConfig, RunConfig, ScalingConfig
        from ray.train.torch import TorchConfig, TorchTrainer
        from ray.util.queue import Queue

        started = False
        if not ray.is_initialized():
            env = {k: os.environ[k] for k in _FORWARDED_ENV if k in os.environ}
            address = self.address or os.environ.get("RAY_ADDRESS")
            ray.init(
                address=address,
                runtime_env={"env_vars": env} if env else None,
                include_dashboard=False,
                logging_level="ERROR",
                log_to_driver=True,
            )
            started = True
        threads = max(1, int(self.cpus_per_worker)) if not self.gpus_per_worker else None
        backend = self.backend
        # Rank 0's return value comes back through a queue actor (Ray's Result keeps only the
        # metrics of checkpoints); a restarted group overwrites nothing: only the last run puts.
        results = Queue(maxsize=1, actor_options={"num_cpus": 0})

        def loop_per_worker(config: dict[str, Any]) -> None:
            strategy = RayWorkerStrategy(backend, torch_threads=threads)
            strategy.setup()
            result = fn(strategy, *args, **kwargs)
            if strategy.is_main:
                results.put(result)

        resources = {"CPU": self.cpus_per_worker}
        if self.gpus_per_worker:
            resources["GPU"] = self.gpus_per_worker
        trainer = TorchTrainer(
            loop_per_worker,
            torch_config=TorchConfig(backend=backend),
            scaling_config=ScalingConfig(
                num_workers=self.workers,
                use_gpu=bool(self.gpus_per_worker),
                resources_per_worker=resources,
            ),
            run_config=RunConfig(
                storage_path=self.storage_path,
                failure_config=FailureConfig(max_failures=self.max_failures),
                logging_config=LoggingConfig(log_level="WARNING"),
            ),
            datasets=self.datasets,  # split equally between the workers (streaming_split)
        )
        try:
            trainer.fit()
            return results.get(timeout=60) if not results.empty() else None
        except Exception as exc:  # Ray wraps the worker's exception: surface a user mistake as such
            cause = _user_cause(exc)
            if cause is not None:
                raise cause from None
            raise
        finally:
            if started:
                ray.shutdown()

    def wrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        raise UserError(
            "RayStrategy starts its own workers, so it cannot be passed to Model.fit. Use "
            "deepfuse.api.train(config) with trainer.strategy: {name: ray, workers: N}, or "
            "RayStrategy(...).launch(fn) where fn(strategy) calls model.fit(..., strategy=strategy)."
        )

    def __repr__(self) -> str:
        return (
            f"RayStrategy(workers={self.workers}, gpus_per_worker={self.gpus_per_worker}, "
            f"max_failures={self.max_failures})"
        )


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics as plain floats/ints/strings (what Ray stores and shows)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, bool | int | float | str) or value is None:
            out[key] = value
    return out


def _user_cause(exc: BaseException) -> BaseException | None:
    """The deepfuse UserError inside Ray's wrapping exceptions, if a worker raised one."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, UserError):
            return err
        todo += [err.__cause__, err.__context__, getattr(err, "cause", None)]
        todo += list(getattr(err, "worker_failures", {}).values() or [])
    return None
