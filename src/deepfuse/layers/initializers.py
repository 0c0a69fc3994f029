"""Weight initialisers by Keras name (``kernel_initializer="he_normal"``).

Defaults follow Keras (glorot_uniform kernels, zero biases, orthogonal recurrent kernels) because
tutorials' results depend on them. Fans are computed from torch's weight layout
``(out, in, *kernel)``, which gives the same numbers as Keras' ``(*kernel, in, out)``.

Example:
    >>> import torch
    >>> from deepfuse.layers import initializers
    >>> w = torch.empty(3, 4)
    >>> initializers.apply("zeros", w).sum().item()
    0.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import ConfigError, invalid_choice
from deepfuse._utils.registry import Registry

__all__ = ["INITIALIZERS", "apply", "names"]


def _fans(t: torch.Tensor) -> tuple[int, int]:
    if t.dim() < 2:
        return t.numel(), t.numel()
    receptive = math.prod(t.shape[2:]) if t.dim() > 2 else 1
    return t.shape[1] * receptive, t.shape[0] * receptive


def _variance_scaling(scale: float, mode: str, distribution: str) -> Callable[[torch.Tensor], Any]:
    """Keras ``VarianceScaling``: std or limit from ``scale / fan``."""

    def init(t: torch.Tensor) -> Any:
        fan_in, fan_out = _fans(t)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        var = scale / max(1.0, fan)
        if distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return nn.init.uniform_(t, -limit, limit)
        # Keras truncates at 2 std and rescales so the truncated std matches.
        std = math.sqrt(var) / 0.87962566103423978
        return nn.init.trunc_normal_(t, 0.0, std, -2 * std, 2 * std)

    return init


# Keras class names ("HeNormal") and snake names ("he_normal") both work: case, "_" and spaces
# do not matter.
INITIALIZERS: Registry[Callable[..., Any]] = Registry(
    "initializer", normalize=lambda name: re.sub(r"[_\s]", "", name).lower()
)
INITIALIZERS.register(
    "glorot_uniform", _variance_scaling(1.0, "fan_avg", "uniform"), aliases=["xavier_uniform"]
)
INITIALIZERS.register(
    "glorot_normal", _variance_scaling(1.0, "fan_avg", "normal"), aliases=["xavier_normal"]
)
INITIALIZERS.register(
    "he_uniform", _variance_scaling(2.0, "fan_in", "uniform"), aliases=["kaiming_uniform"]
)
INITIALIZERS.register(
    "he_normal", _variance_scaling(2.0, "fan_in", "normal"), aliases=["kaiming_normal"]
)
INITIALIZERS.register("lecun_uniform", _variance_scaling(1.0, "fan_in", "uniform"))
INITIALIZERS.register("lecun_normal", _variance_scaling(1.0, "fan_in", "normal"))
INITIALIZERS.register("orthogonal", nn.init.orthogonal_)
INITIALIZERS.register("zeros", nn.init.zeros_, aliases=["zero"])
INITIALIZERS.register("ones", nn.init.ones_, aliases=["one"])
INITIALIZERS.register(
    "random_normal",
    lambda t, mean=0.0, stddev=0.05: nn.init.normal_(t, mean, stddev),
    aliases=["normal"],
)
INITIALIZERS.register(
    "random_uniform",
    lambda t, minval=-0.05, maxval=0.05: nn.init.uniform_(t, minval, maxval),
    aliases=["uniform"],
)
INITIALIZERS.register(
    "truncated_normal",
    lambda t, mean=0.0, stddev=0.05: nn.init.trunc_normal_(
        t, mean, stddev, mean - 2 * stddev, mean + 2 * stddev
    ),
)
INITIALIZERS.register("constant", lambda t, value=0.0: nn.init.constant_(t, value))


def names() -> list[str]:
    """All accepted initialiser names (aliases included), sorted."""
    return INITIALIZERS.names()


def _split(spec: Any) -> tuple[Any, dict[str, Any]]:
    if not isinstance(spec, dict):
        return spec, {}
    options = spec.get("config")
    if options is None:
        options = {k: v for k, v in spec.items() if k not in ("name", "class_name")}
    options = {k: v for k, v in options.items() if k != "seed"}
    return spec.get("class_name", spec.get("name")), options


def check(spec: Any) -> Any:
    """Validate an initialiser spec at construction time and return it unchanged."""
    if callable(spec):
        return spec
    name, _ = _split(spec)
    if name not in INITIALIZERS:
        raise invalid_choice("initializer", name if isinstance(name, str) else spec, names())
    return spec


@torch.no_grad()
def apply(spec: Any, tensor: torch.Tensor) -> torch.Tensor:
    """Fill ``tensor`` in place: ``spec`` is a name, ``{"name": .., **options}`` or a callable."""
    if callable(spec):
        spec(tensor)
        return tensor
    check(spec)
    spec, options = _split(spec)
    fn = INITIALIZERS.get(spec)
    try:
        fn(tensor, **options)
    except TypeError as exc:
        raise ConfigError(f"Bad options {options!r} for initializer '{spec}': {exc}.") from exc
    return tensor
