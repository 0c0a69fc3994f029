"""Weight penalties (``kernel_regularizer="l2"``), computed only when asked for.

Keras semantics: ``l1 * sum(|w|) + l2 * sum(w**2)`` (no 1/2 factor); the string ``"l1"`` or
``"l2"`` means a factor of 0.01 as in Keras.

Example:
    >>> import torch
    >>> from deepfuse.layers import regularizers
    >>> penalty = regularizers.get({"l2": 0.5})
    >>> penalty(torch.tensor([1.0, 2.0])).item()
    2.5
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from deepfuse._utils.errors import ConfigError, invalid_choice

__all__ = ["L1L2", "get"]

_DEFAULT = 0.01


class L1L2:
    """``l1 * sum(|w|) + l2 * sum(w**2)``; JSON config ``{"l1": .., "l2": ..}``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        for key, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(
                    f"The '{key}' regularization factor must be a float >= 0; got {value!r}."
                )
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        loss = weight.new_zeros(())
        if self.l1:
            loss = loss + self.l1 * weight.abs().sum()
        if self.l2:
            loss = loss + self.l2 * weight.square().sum()
        return loss

    def get_config(self) -> dict[str, float]:
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self) -> str:
        return f"L1L2(l1={self.l1}, l2={self.l2})"


def get(spec: Any) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """Resolve ``None``, ``"l1"``, ``"l2"``, ``"l1_l2"``, ``{"l1": .., "l2": ..}`` or a callable."""
    if spec is None:
        return None
    if isinstance(spec, str):
        key = spec.lower()
        table = {"l1": (_DEFAULT, 0.0), "l2": (0.0, _DEFAULT), "l1_l2": (_DEFAULT, _DEFAULT)}
        if key not in table:
            raise invalid_choice("regularizer", spec, [*table, "{'l1': .., 'l2': ..}"])
        return L1L2(*table[key])
    if isinstance(spec, dict):
        options = spec.get("config", spec)
        unknown = set(options) - {"l1", "l2", "name", "class_name"}
        if unknown:
            raise ConfigError(
                f"Unknown regularizer keys {sorted(unknown)}; allowed keys are "
                "'l1' and 'l2', e.g. {'l1': 1e-5, 'l2': 1e-4}."
            )
        return L1L2(options.get("l1", 0.0), options.get("l2", 0.0))
    if callable(spec):
        return spec
    raise ConfigError(
        f"A regularizer must be 'l1', 'l2', a dict {{'l1': .., 'l2': ..}} or a "
        f"callable; got {spec!r}."
    )


def config_value(spec: Any) -> Any:
    """What ``get_config`` stores: ``{"l1": .., "l2": ..}`` for built-ins, else the callable."""
    resolved = spec if isinstance(spec, L1L2) else get(spec) if not callable(spec) else spec
    return resolved.get_config() if isinstance(resolved, L1L2) else resolved


def total(
    pairs: list[tuple[Callable[[torch.Tensor], torch.Tensor] | None, torch.Tensor | None]],
) -> torch.Tensor | None:
    """Sum ``penalty(weight)`` over ``(penalty, weight)`` pairs; ``None`` when there is none."""
    loss = None
    for penalty, weight in pairs:
        if penalty is not None and weight is not None:
            value = penalty(weight)
            loss = value if loss is None else loss + value
    return loss
