"""Seeding for bit-identical CPU runs, and the one rule for what a seed may be.

Example:
    >>> generator = seed_everything(0)
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    deepfuse._utils.errors.ConfigError: Invalid 'trainer.seed'. Expected an integer from 0 to 2**64 - 1; got -1. ...
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np

from deepfuse._utils.errors import ConfigError, format_message

if TYPE_CHECKING:
    import torch

__all__ = ["MAX_SEED", "check_seed", "seed_everything"]

# numpy's generators take no negative seed and torch's none at or above 2**64.
MAX_SEED = 2**64 - 1


def check_seed(seed: object, key: str = "trainer.seed") -> int:
    """Return ``seed`` when it is an integer in ``[0, MAX_SEED]``; else a one-line ConfigError.

    Example:
        >>> check_seed(42)
        42
    """
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= seed <= MAX_SEED
    ):
        shown = seed if len(repr(seed)) <= 40 else f"{repr(seed)[:40]}..."
        raise ConfigError(
            format_message(
                f"Invalid {key!r}.",
                expected="an integer from 0 to 2**64 - 1",
                got=shown,
                fix=f"Set {key}=0 (or any non-negative integer).",
            )
        )
    return int(seed)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch.Generator seeded with ``seed`` for data order.

    Raises:
        ConfigError: ``seed`` is not an integer in ``[0, 2**64 - 1]``.
    """
    import torch  # here, not at import: deepfuse._utils stays torch-free

    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen
