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

from deepfuse._utils.errors import ConfigError
from deepfuse._utils.registry import Registry
from deepfuse.distributed.ddp import DDPStrategy
from deepfuse.distributed.ray import RayStrategy  # imports no ray: only RayStrategy.launch does
from deepfuse.distributed.single import SingleProcess
from deepfuse.distributed.strategy import Strategy

__all__ = [
    "STRATEGIES",
    "DDPStrategy",
    "RayStrategy",
    "SingleProcess",
    "Strategy",
    "get_strategy",
    "names",
]

#: Strategy names (case-insensitive) -> classes; a new backend is a new file plus one line here.
STRATEGIES: Registry[type[Strategy]] = Registry("strategy")
STRATEGIES.register("single", SingleProcess)
STRATEGIES.register("ddp", DDPStrategy)
STRATEGIES.register("ray", RayStrategy)


def names() -> list[str]:
    """Strategy names a config may use.

    Example:
        >>> names()
        ['ddp', 'ray', 'single']
    """
    return STRATEGIES.names()


def get_strategy(spec: Any) -> Strategy:
    """A Strategy from ``None`` (single process), a name, ``{name: ..., **kwargs}`` or an instance.

    Raises:
        ConfigError: An unknown name or argument.

    Example:
        >>> type(get_strategy("DDP")).__name__  # names ignore case
        'DDPStrategy'
        >>> get_strategy("rya")
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.ConfigError: Invalid value for 'trainer.strategy': Unknown strategy 'rya'. Allowed values: 'ddp', 'ray', 'single'. Did you mean 'ray'?
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
    try:
        cls = STRATEGIES.get(name)
    except ConfigError as exc:  # name the config key too: the value comes from there or fit()
        raise ConfigError(f"Invalid value for 'trainer.strategy': {exc}") from None
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(
            f"Invalid arguments for strategy {name!r}: {exc}. See help(deepfuse.distributed."
            f"{cls.__name__})."
        ) from None
