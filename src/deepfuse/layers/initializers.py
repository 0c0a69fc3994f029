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

__all__ = ["apply", "names"]


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


_INITIALIZERS: dict[str, Callable[..., Any]] = {
    "glorot_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),
    "he_normal": _variance_scaling(2.0, "fan_in", "normal"),
    "lecun_uniform": _variance_scaling(1.0, "fan_in", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "normal"),
    "orthogonal": nn.init.orthogonal_,
    "zeros": nn.init.zeros_,
    "ones": nn.init.ones_,
    "random_normal": lambda t, mean=0.0, stddev=0.05: nn.init.normal_(t, mean, stddev),
    "random_uniform": lambda t, minval=-0.05, maxval=0.05: nn.init.uniform_(t, minval, maxval),
    "truncated_normal": lambda t, mean=0.0, stddev=0.05: nn.init.trunc_normal_(
        t, mean, stddev, mean - 2 * stddev, mean + 2 * stddev
    ),
    "constant": lambda t, value=0.0: nn.init.constant_(t, value),
}
_ALIASES = {
    "xavier_uniform": "glorot_uniform",
    "xavier_normal": "glorot_normal",
    "kaiming_uniform": "he_uniform",
    "kaiming_normal": "he_normal",
    "uniform": "random_uniform",
    "normal": "random_normal",
    "zero": "zeros",
    "one": "ones",
}


def names() -> list[str]:
    """All accepted initialiser names."""
    return sorted([*_INITIALIZERS, *_ALIASES])


def _key(name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    # Keras class names ("HeNormal") and snake names ("he_normal") both work.
    key = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    key = _ALIASES.get(key, key)
    return key if key in _INITIALIZERS else None


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
    if _key(name) is None:
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
    fn = _INITIALIZERS[_key(spec)]
    try:
        fn(tensor, **options)
    except TypeError as exc:
        raise ConfigError(f"Bad options {options!r} for initializer '{spec}': {exc}.") from exc
    return tensor
