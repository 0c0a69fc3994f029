"""Run the same fit loop on one process, on N torch processes (DDP) or on a Ray cluster.

One class per backend behind :class:`Strategy`: :class:`SingleProcess` (the default),
:class:`DDPStrategy` (gloo on CPU, NCCL on GPU) and :class:`RayStrategy` (Ray Train starts the
workers, each runs the loop with a ``DDPStrategy``; Ray is imported only when used).

In a config, ``trainer.strategy`` names one: ``single``, ``ddp``, or ``{name: ray, workers: 2,
max_failures: 1}`` (the rest are the chosen class's constructor arguments). The command line
spells the Ray one ``deepfuse train CONFIG --workers 2``.

Example:
    >>> from deepfuse.distributed import get_strategy
    >>> get_strategy(None)
    SingleProcess(rank=0, world_size=1)
    >>> get_strategy({"name": "ray", "workers": 2}).workers
    2
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepfuse._utils.errors import ConfigError, did_you_mean
from deepfuse.distributed.ddp import DDPStrategy
from deepfuse.distributed.single import SingleProcess
from deepfuse.distributed.strategy import Strategy

__all__ = ["DDPStrategy", "RayStrategy", "SingleProcess", "Strategy", "get_strategy", "names"]


def __getattr__(name: str) -> Any:
    if name == "RayStrategy":  # importing the module does not import ray; this keeps it lazy too
        from deepfuse.distributed.ray import RayStrategy

        return RayStrategy
    raise AttributeError(f"module 'deepfuse.distributed' has no attribute {name!r}")


def _classes() -> dict[str, Any]:
    from deepfuse.distributed.ray import RayStrategy

    return {"single": SingleProcess, "ddp": DDPStrategy, "ray": RayStrategy}


def names() -> list[str]:
    """Strategy names a config may use."""
    return list(_classes())


def get_strategy(spec: Any) -> Strategy:
    """A Strategy from ``None`` (single process), a name, ``{name: ..., **kwargs}`` or an instance.

    Raises:
        ConfigError: An unknown name or argument.
    """
    if spec is None:
        return SingleProcess()
    if isinstance(spec, Strategy):
        return spec
    if isinstance(spec, str):
        name, kwargs = spec, {}
    elif isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        name, kwargs = spec["name"], {k: v for k, v in spec.items() if k != "name"}
    else:
        raise ConfigError(
            f"Invalid value for 'trainer.strategy': {spec!r}. Expected 'single', 'ddp' or "
            "{name: ray, workers: 2, ...}."
        )
    classes = _classes()
    if name not in classes:
        allowed = ", ".join(repr(n) for n in classes)
        raise ConfigError(
            f"Invalid value for 'trainer.strategy': {name!r}. Allowed values: {allowed}."
            f"{did_you_mean(name, list(classes))}"
        )
    try:
        return classes[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(
            f"Invalid arguments for strategy {name!r}: {exc}. See help(deepfuse.distributed."
            f"{classes[name].__name__})."
        ) from None
