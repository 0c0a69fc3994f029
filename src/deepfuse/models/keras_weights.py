"""A model's ``get_weights`` / ``set_weights`` in Keras' order and layout.

Keras code computes with these arrays in numpy (``x @ w1 + b1``) and exchanges them with Keras,
so a model's list is the concatenation, layer by layer in the model's order, of each layer's
:meth:`~deepfuse.layers.Layer.keras_weights` (``Dense`` kernel ``(in, units)``, ``Conv2D``
kernel ``(kh, kw, in, filters)``, BatchNormalization ``[gamma, beta, moving_mean,
moving_variance]``, ...). A layer shared by several calls counts once; torch modules that are not
deepfuse layers contribute their parameters and float buffers as they are.

Example:
    >>> import deepfuse as df
    >>> model = df.Sequential([df.layers.Dense(8, input_shape=(4,)), df.layers.Dense(3)])
    >>> [w.shape for w in get_weights(model)]
    [(4, 8), (8,), (8, 3), (3,)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfuse._utils.errors import UserError
from deepfuse.layers.keras_api import KerasWeights
from deepfuse.layers.weight_layout import check_weight_shapes, weight_buffers

__all__ = ["get_weights", "layer_units", "set_weights"]


def layer_units(model: nn.Module) -> list[tuple[str, nn.Module | None, list[torch.Tensor]]]:
    """``(name, layer or None, Keras-layout tensors)`` per unit holding weights, in order.

    A deepfuse layer is one unit (its own mapping); a model or torch container is walked, its
    own loose parameters/buffers forming a unit of their own (``layer`` None: as they are).
    """
    units: list[tuple[str, nn.Module | None, list[torch.Tensor]]] = []
    seen: set[int] = set()

    def walk(prefix: str, module: nn.Module) -> None:
        if id(module) in seen:
            return  # a shared layer or model: its weights are listed once
        seen.add(id(module))
        if isinstance(module, KerasWeights):  # a deepfuse layer (models are not)
            tensors = module.keras_weights()
            if tensors:
                name = getattr(module, "name", None) or prefix
                units.append((f"{type(module).__name__} '{name}'", module, tensors))
            return
        loose = [*module.parameters(recurse=False), *weight_buffers(module)]
        loose = [t for t in loose if id(t) not in seen]
        seen.update(map(id, loose))
        if loose:
            units.append((f"{type(module).__name__} '{prefix or 'model'}'", None, loose))
        for child_name, child in module.named_children():
            walk(f"{prefix}.{child_name}" if prefix else child_name, child)

    walk("", model)
    return units


def get_weights(model: nn.Module) -> list[np.ndarray]:
    """Copies of every weight as numpy arrays, layer by layer, in Keras' layout."""
    return [t.detach().cpu().numpy().copy() for _, _, ts in layer_units(model) for t in ts]


def set_weights(model: nn.Module, values: Sequence[Any]) -> None:
    """Load arrays in :func:`get_weights`' order and shapes, checking all of them first."""
    units = layer_units(model)
    total = sum(len(ts) for _, _, ts in units)
    if len(values) != total:
        raise UserError(
            f"set_weights got {len(values)} arrays but the model has {total} weights "
            f"({', '.join(f'{n}: {len(ts)}' for n, _, ts in units) or 'none: build it first'}); "
            "pass the list model.get_weights() returns, in Keras' layout."
        )
    checked, start = [], 0
    for name, layer, tensors in units:
        part = values[start : start + len(tensors)]
        start += len(tensors)
        checked.append((layer, tensors, check_weight_shapes(name, tensors, part, "model")))
    with torch.no_grad():
        for layer, tensors, arrays in checked:
            new = [
                torch.as_tensor(a, dtype=t.dtype, device=t.device)
                for t, a in zip(tensors, arrays, strict=True)
            ]
            if layer is not None:
                layer.set_keras_weights(new)  # type: ignore[operator]
            else:
                for t, v in zip(tensors, new, strict=True):
                    t.copy_(v)
