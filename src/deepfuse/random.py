"""Keras 3 ``keras.random``: random tensors with Keras' names and arguments, drawn by torch.

``seed`` follows Keras: ``None`` draws from torch's global generator (set by
``keras.utils.set_random_seed``); an ``int`` gives the same numbers at every call with that
seed; a :class:`SeedGenerator` gives new numbers at every call, the same sequence for the same
starting seed (what a layer that draws noise each step holds).

Example:
    >>> from deepfuse import random
    >>> a = random.normal((2, 3), seed=7); b = random.normal((2, 3), seed=7)
    >>> bool((a == b).all()), tuple(a.shape), a.dtype
    (True, (2, 3), torch.float32)
    >>> g1, g2 = random.SeedGenerator(1), random.SeedGenerator(1)
    >>> first = random.uniform((2,), seed=g1)
    >>> bool((first == random.uniform((2,), seed=g2)).all()), bool((first == random.uniform((2,), seed=g1)).all())
    (True, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from deepfuse._utils.errors import UserError
from deepfuse._utils.seed import check_seed
from deepfuse.ops._convert import _dtype, _t

__all__ = ["SeedGenerator", "normal", "randint", "shuffle", "uniform"]


class SeedGenerator:
    """A seeded ``torch.Generator`` that advances at every draw (Keras' ``SeedGenerator``).

    Args:
        seed: Starting seed (an int from 0 to 2**64 - 1); ``None`` takes one from torch's global
            generator, so ``set_random_seed`` makes it reproducible too.

    Example:
        >>> g = SeedGenerator(3)
        >>> randint((3,), 0, 10, seed=g).tolist() == randint((3,), 0, 10, seed=SeedGenerator(3)).tolist()
        True
    """

    def __init__(self, seed: int | None = None) -> None:
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self.seed = check_seed(seed, key="seed")
        self.generator = torch.Generator()
        self.generator.manual_seed(self.seed)

    def __repr__(self) -> str:
        return f"SeedGenerator(seed={self.seed})"


def _generator(seed: int | SeedGenerator | None) -> torch.Generator | None:
    """The generator a draw uses: torch's global one, a fresh one per call, or the held one."""
    if seed is None:
        return None
    if isinstance(seed, SeedGenerator):
        return seed.generator
    if isinstance(seed, torch.Generator):
        return seed
    gen = torch.Generator()
    gen.manual_seed(check_seed(seed, key="seed"))
    return gen


def _shape(shape: Sequence[int] | int) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)


def _float(dtype: Any) -> torch.dtype:
    out = _dtype(dtype) or torch.float32
    if not out.is_floating_point:
        raise UserError(
            f"keras.random needs a float dtype here, got {dtype!r}; use randint for integers."
        )
    return out


def normal(
    shape: Sequence[int] | int,
    mean: float = 0.0,
    stddev: float = 1.0,
    dtype: Any = None,
    seed: int | SeedGenerator | None = None,
) -> Tensor:
    """Draws from a normal distribution ``N(mean, stddev²)`` (float32 by default).

    Example:
        >>> x = normal((20000,), mean=2.0, stddev=3.0, seed=0)
        >>> round(float(x.mean()), 1), round(float(x.std()), 1)
        (2.0, 3.0)
    """
    out = torch.randn(_shape(shape), generator=_generator(seed), dtype=_float(dtype))
    return out * stddev + mean


def uniform(
    shape: Sequence[int] | int,
    minval: float = 0.0,
    maxval: float = 1.0,
    dtype: Any = None,
    seed: int | SeedGenerator | None = None,
) -> Tensor:
    """Draws uniformly from ``[minval, maxval)`` (float32 by default).

    Example:
        >>> x = uniform((1000,), minval=-1.0, maxval=1.0, seed=0)
        >>> bool(x.min() >= -1.0 and x.max() < 1.0)
        True
    """
    out = torch.rand(_shape(shape), generator=_generator(seed), dtype=_float(dtype))
    return out * (maxval - minval) + minval


def randint(
    shape: Sequence[int] | int,
    minval: int,
    maxval: int,
    dtype: Any = "int32",
    seed: int | SeedGenerator | None = None,
) -> Tensor:
    """Integers drawn uniformly from ``[minval, maxval)`` (``maxval`` excluded, as Keras).

    Example:
        >>> sorted(set(randint((200,), 0, 3, seed=0).tolist()))
        [0, 1, 2]
    """
    return torch.randint(
        int(minval), int(maxval), _shape(shape), generator=_generator(seed), dtype=_dtype(dtype)
    )


def shuffle(x: Any, axis: int = 0, seed: int | SeedGenerator | None = None) -> Tensor:
    """``x`` with its entries along ``axis`` in a random order.

    Example:
        >>> sorted(shuffle(torch.arange(5), seed=1).tolist())
        [0, 1, 2, 3, 4]
    """
    x = _t(x)
    order = torch.randperm(x.shape[axis], generator=_generator(seed)).to(x.device)
    return x.index_select(axis, order)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"keras.random.{name} is not provided by deepfuse; use torch's random functions "
        "(torch.randn, torch.rand, torch.bernoulli, ...) on torch tensors"
    )
