"""Keras' weight layout: the pieces each layer's ``keras_weights`` mapping is made of.

Keras stores a ``Dense`` kernel as ``(in, units)`` and a ``Conv2D`` kernel as ``(kh, kw, in,
filters)`` where torch keeps ``(units, in)`` and ``(filters, in, kh, kw)``. Each layer class maps
its tensors with :meth:`~deepfuse.layers.Layer.keras_weights` / ``set_keras_weights``; this module
holds the shared helpers and the checked ``set_weights`` that the layer and the model use.

Example:
    >>> import torch
    >>> kernel_to_keras(torch.zeros(8, 3)).shape   # Dense(8) on 3 features: Keras (3, 8)
    torch.Size([3, 8])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfuse._utils.errors import DataError

__all__ = [
    "KernelBiasWeights",
    "check_weight_shapes",
    "kernel_from_keras",
    "kernel_to_keras",
    "own_tensors",
    "set_weights",
    "weight_buffers",
]


def weight_buffers(module: nn.Module) -> list[torch.Tensor]:
    """``module``'s own buffers that are weights: persistent float ones (BatchNorm's moving
    mean and variance), not a loss's class weights (non-persistent) nor integer counters.

    Example:
        >>> from deepfuse.layers import BatchNormalization
        >>> bn = BatchNormalization()
        >>> bn.build([None, 3])
        >>> [tuple(b.shape) for b in weight_buffers(bn)]
        [(3,), (3,)]
    """
    return [
        b
        for name, b in module.named_buffers(recurse=False)
        if b.is_floating_point() and name not in module._non_persistent_buffers_set
    ]


def own_tensors(module: nn.Module) -> list[torch.Tensor]:
    """The tensors of :meth:`KerasWeights.keras_weights`' default: ``module``'s own parameters
    and persistent float buffers, then each child's (a layer child through its own mapping)."""
    out: list[torch.Tensor] = [*module.parameters(recurse=False), *weight_buffers(module)]
    for child in module.children():
        if callable(getattr(child, "keras_weights", None)):  # a deepfuse layer: its mapping
            out += child.keras_weights()
        else:
            out += own_tensors(child)
    seen: set[int] = set()
    return [t for t in out if not (id(t) in seen or seen.add(id(t)))]  # shared once


def kernel_to_keras(weight: torch.Tensor) -> torch.Tensor:
    """torch's ``(out, in, k...)`` kernel (``(in, out, k...)`` for a transposed conv) in Keras'
    layout ``(k..., in, out)`` (``(k..., out, in)``): spatial axes first, the two others swapped.

    Example:
        >>> kernel_to_keras(torch.zeros(8, 3, 5, 5)).shape   # Conv2D(8, 5) on 3 channels
        torch.Size([5, 5, 3, 8])
    """
    return weight.detach().permute(*range(2, weight.dim()), 1, 0)


def kernel_from_keras(kernel: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`kernel_to_keras` (Keras' ``(k..., in, out)`` -> torch's layout).

    Example:
        >>> kernel_from_keras(torch.zeros(5, 5, 3, 8)).shape
        torch.Size([8, 3, 5, 5])
    """
    n = kernel.dim()
    return kernel.permute(n - 1, n - 2, *range(n - 2))


def check_weight_shapes(
    owner: str, targets: Sequence[torch.Tensor], values: Sequence[Any], kind: str = "layer"
) -> list[np.ndarray]:
    """``values`` as numpy arrays after checking their count and shapes against ``targets``
    (``owner`` names the layer in the errors, ``kind`` says what it is)."""
    shapes = [tuple(w.shape) for w in targets]
    if len(values) != len(targets):
        raise DataError(
            f"set_weights of {owner} got {len(values)} arrays but the {kind} has {len(targets)} "
            f"weights (shapes {shapes}, Keras' layout). Pass one array per weight, in "
            "get_weights() order."
        )
    arrays = [np.asarray(v) for v in values]
    for i, (shape, arr) in enumerate(zip(shapes, arrays, strict=True)):
        if tuple(arr.shape) != shape:
            raise DataError(
                f"set_weights of {owner}: weight {i} has shape {shape} (Keras' layout, as "
                f"get_weights() returns it) but the array has shape {tuple(arr.shape)}."
            )
    return arrays


def set_weights(layer: Any, values: Sequence[Any]) -> None:
    """Load numpy arrays in Keras' layout into ``layer``, checking count and shapes first."""
    targets = layer.keras_weights()
    arrays = check_weight_shapes(f"{type(layer).__name__} '{layer.name}'", targets, values)
    tensors = [
        torch.as_tensor(a, dtype=w.dtype, device=w.device)
        for w, a in zip(targets, arrays, strict=True)
    ]
    layer.set_keras_weights(tensors)


class KernelBiasWeights:
    """Keras' ``[kernel, bias]`` for a layer with torch's ``weight`` (out, in, k...) and ``bias``
    (Dense, the convolutions): the kernel is ``(k..., in, out)`` as Keras stores it."""

    weight: Any
    bias: Any

    def keras_weights(self) -> list[torch.Tensor]:
        """``[kernel, bias]`` in Keras' layout (empty before the layer is built)."""
        if self.weight is None:
            return []
        bias = [] if self.bias is None else [self.bias.detach()]
        return [kernel_to_keras(self.weight), *bias]

    def set_keras_weights(self, values: Sequence[torch.Tensor]) -> None:
        """Copy Keras' ``[kernel, bias]`` into ``weight`` and ``bias``."""
        with torch.no_grad():
            self.weight.copy_(kernel_from_keras(values[0]))
            if self.bias is not None:
                self.bias.copy_(values[1])
