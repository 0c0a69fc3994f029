"""Small structural helpers for ``Model``: find the first/last layer, fuse a final activation,
detect unbuilt lazy layers, and convert channels-last image arrays once at the data boundary.

Example:
    >>> import torch
    >>> to_model_layout(torch.zeros(2, 28, 28, 1), "channels_last").shape
    torch.Size([2, 1, 28, 28])
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "detach_final_activation",
    "final_activation",
    "first_leaf",
    "fuse_output_activation",
    "has_unbuilt_layers",
    "infer_input_layout",
    "last_leaf",
    "to_model_layout",
]

_CHANNEL_SIZES = (1, 3, 4)  # grayscale, RGB, RGBA


def _leaves(module: nn.Module) -> list[tuple[nn.Module | None, str, nn.Module]]:
    """(parent, attribute name, leaf) for every module without children, in registration order."""
    out: list[tuple[nn.Module | None, str, nn.Module]] = []

    def walk(parent: nn.Module | None, name: str, mod: nn.Module) -> None:
        children = list(mod.named_children())
        if not children or _is_layer(mod):
            out.append((parent, name, mod))
            return
        for child_name, child in children:
            walk(mod, child_name, child)

    # A deepfuse Model keeps its network in `.module` (when wrapping one); walk that.
    root = getattr(module, "module", None)
    walk(None, "", root if isinstance(root, nn.Module) else module)
    return out


def _is_layer(module: nn.Module) -> bool:
    # A deepfuse layer that owns torch submodules (LSTM, Bidirectional) is one layer.
    return type(module).__module__.startswith("deepfuse.layers")


def first_leaf(model: nn.Module) -> nn.Module | None:
    """The first layer that does something (skipping Input placeholders)."""
    for _, _, leaf in _leaves(model):
        if type(leaf).__name__ not in ("Input", "InputLayer", "Identity"):
            return leaf
    return None


def last_leaf(model: nn.Module) -> tuple[nn.Module | None, str, nn.Module] | None:
    """(parent, name, layer) of the last layer, skipping trailing Dropout/Identity."""
    leaves = [t for t in _leaves(model) if type(t[2]).__name__ not in ("Dropout", "Identity")]
    return leaves[-1] if leaves else None


def detach_final_activation(model: nn.Module) -> str | None:
    """Remove a final softmax/sigmoid from ``model`` and return its name (or None).

    Handles deepfuse layers (``activation="softmax"`` or an ``Activation`` layer) and torch's own
    ``nn.Softmax``/``nn.Sigmoid`` at the end of an ``nn.Sequential``.
    """
    found = last_leaf(model)
    if found is None:
        return None
    parent, name, layer = found
    detach = getattr(layer, "detach_output_activation", None)
    if callable(detach) and getattr(layer, "activation_name", None) in ("softmax", "sigmoid"):
        return detach()
    if isinstance(layer, nn.Softmax | nn.Sigmoid) and parent is not None:
        setattr(parent, name, nn.Identity())
        return "softmax" if isinstance(layer, nn.Softmax) else "sigmoid"
    return None


def fuse_output_activation(model: nn.Module, loss_fn: object) -> tuple[str | None, object]:
    """Move a final softmax/sigmoid out of ``model`` and into a from-logits version of
    ``loss_fn``; return ``(activation name or None, loss)``. Regression and custom losses (no
    ``from_logits``) leave the network as it is."""
    if not hasattr(loss_fn, "from_logits"):
        return None, loss_fn
    name = detach_final_activation(model)
    if name not in ("softmax", "sigmoid"):
        return None, loss_fn
    return name, (loss_fn if loss_fn.from_logits else loss_fn.as_logits())  # type: ignore[attr-defined]


def has_unbuilt_layers(model: nn.Module) -> bool:
    """True when a lazy layer still waits for its first input."""
    for m in model.modules():
        if getattr(m, "built", True) is False:
            return True
        if isinstance(m, nn.modules.lazy.LazyModuleMixin) and m.has_uninitialized_params():
            return True
    return False


def _is_conv2d(layer: nn.Module | None) -> bool:
    return layer is not None and (isinstance(layer, nn.Conv2d) or type(layer).__name__ == "Conv2D")


def infer_input_layout(model: nn.Module, x: torch.Tensor) -> str | None:
    """Decide once how image arrays must be turned into NCHW for a model starting with a Conv2D.

    Returns "channels_last" for (N, H, W, C) arrays with C in 1/3/4, "add_channel" for
    (N, H, W) arrays, or None (use as is).
    """
    first = first_leaf(model)
    if not _is_conv2d(first) or not x.is_floating_point():
        return None
    if x.dim() == 3:
        return "add_channel"
    declared = getattr(first, "input_shape", None)
    if x.dim() == 4:
        if declared is not None and len(declared) == 3:
            return (
                "channels_last"
                if tuple(x.shape[1:]) == tuple(declared)
                and declared[-1] in _CHANNEL_SIZES
                and declared[0] not in _CHANNEL_SIZES
                else None
            )
        if x.shape[-1] in _CHANNEL_SIZES and x.shape[1] not in _CHANNEL_SIZES:
            return "channels_last"
    return None


def to_model_layout(x: torch.Tensor, input_layout: str | None) -> torch.Tensor:
    """Apply the layout decided by :func:`infer_input_layout` (a copy made once, not per batch)."""
    # Arrays that already look channels-first (N, C, H, W) are left alone.
    if input_layout == "channels_last" and x.dim() == 4 and x.shape[1] not in _CHANNEL_SIZES:
        return x.permute(0, 3, 1, 2).contiguous()
    if input_layout == "add_channel" and x.dim() == 3:
        return x.unsqueeze(1)
    return x


def final_activation(model: nn.Module) -> str | None:
    """The activation name of the model's last layer (``None`` when it has none or is unknown)."""
    found = last_leaf(model)
    if found is None:
        return None
    layer = found[2]
    if isinstance(layer, nn.Softmax):
        return "softmax"
    if isinstance(layer, nn.Sigmoid):
        return "sigmoid"
    return getattr(layer, "activation_name", None)
