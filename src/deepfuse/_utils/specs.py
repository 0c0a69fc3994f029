"""Shared parsing of component specifications (losses, metrics, ...) and of prediction shapes.

Example:
    >>> split_spec({"name": "f1", "average": "macro"}, kind="metric", example="{'name': 'f1'}")
    ('f1', {'average': 'macro'})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from deepfuse._utils.errors import ConfigError, DataError, format_message

if TYPE_CHECKING:  # annotations only: importing _utils must not import torch
    import torch

__all__ = ["split_spec", "squeeze_to_match"]


def split_spec(spec: Mapping[str, Any], *, kind: str, example: str) -> tuple[Any, dict[str, Any]]:
    """``{"name": n, **opts}`` or ``{"class_name": n, "config": {...}}`` → ``(n, opts)``."""
    config = dict(spec)
    if "class_name" in config:
        name, options = config.pop("class_name"), dict(config.pop("config", None) or {})
        options.update(config)
        return name, options
    if "name" in config:
        return config.pop("name"), config
    raise ConfigError(
        format_message(
            f"A {kind} config dict has no 'name' key.",
            got=dict(spec),
            fix=f"Write it as {example}.",
        )
    )


def squeeze_to_match(
    outputs: torch.Tensor, target: torch.Tensor, *, what: str, fix: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Make ``outputs`` and ``target`` the same shape, never by a silent broadcast.

    ``(N, 1)`` against ``(N,)`` (either way round) is the one harmless mismatch: the trailing 1 is
    dropped. Anything else raises a :class:`DataError` naming ``what`` (e.g. "Loss 'mse'").
    """
    if outputs.shape != target.shape:
        if outputs.dim() == target.dim() + 1 and outputs.shape[-1] == 1:
            outputs = outputs.squeeze(-1)
        elif target.dim() == outputs.dim() + 1 and target.shape[-1] == 1:
            target = target.squeeze(-1)
        if outputs.shape != target.shape:
            raise DataError(
                format_message(
                    f"{what} got outputs of shape {tuple(outputs.shape)} and a target of shape "
                    f"{tuple(target.shape)}.",
                    expected="the same shape (or (N, 1) against (N,))",
                    fix=fix,
                )
            )
    return outputs, target
