"""Keras' ``trainable``: freezing a model or a layer, and which weights each compiled model trains.

Keras 2 semantics (the classic GAN recipe): the set of trainable weights of a model is captured
when it is **compiled**. So ``discriminator.compile(...); discriminator.trainable = False;
gan.compile(...)`` makes ``gan.train_on_batch`` leave the discriminator alone while
``discriminator.train_on_batch`` still trains it.

The cost is kept near zero: each compiled model remembers its parameters (:func:`capture`);
before its own built-in training step, :func:`apply` sets ``requires_grad`` to match, and skips
all work when nothing changed since the last step (one integer comparison), so a plain ``fit``
pays nothing and alternating GAN steps touch each parameter's flag once per switch.

Example:
    >>> import deepfuse as df
    >>> model = df.Sequential([df.layers.Dense(2, input_shape=(3,))])
    >>> model.trainable = False
    >>> model.trainable, [p.requires_grad for p in model.parameters()]
    (False, [False, False])
    >>> len(trainable_parameters(model)), len(model.non_trainable_weights)
    (0, 2)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = [
    "apply",
    "capture",
    "non_trainable_weights",
    "set_trainable",
    "trainable_parameters",
    "weights",
]

# Bumped whenever requires_grad flags may have changed; a model whose applied set is current
# skips apply() entirely.
_generation = 0


def _bump() -> int:
    global _generation
    _generation += 1
    return _generation


def set_trainable(module: nn.Module, value: bool) -> None:
    """``module.trainable = value`` for a model: every deepfuse layer and model inside follows
    (Keras sets it recursively), and ``requires_grad`` is set at once."""
    value = bool(value)
    for m in module.modules():
        if m is not module and "_trainable" in vars(m):
            vars(m)["_trainable"] = value
    module.requires_grad_(value)
    _bump()


def _frozen(m: nn.Module) -> bool:
    return vars(m).get("_trainable", True) is False


def trainable_parameters(module: nn.Module) -> list[nn.Parameter]:
    """Parameters not inside a layer or model whose ``trainable`` is False, in Keras order
    (layer by layer, kernel before bias)."""
    out: list[nn.Parameter] = []
    seen: set[int] = set()

    def walk(m: nn.Module) -> None:
        if _frozen(m):
            return
        for p in m.parameters(recurse=False):
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
        for child in m.children():
            walk(child)

    walk(module)
    return out


def weights(module: nn.Module) -> list[torch.Tensor]:
    """Every weight, layer by layer (parameters, then float buffers such as BatchNorm's moving
    mean and variance), as Keras' ``model.weights`` lists them."""
    out: list[torch.Tensor] = []
    seen: set[int] = set()
    for m in module.modules():
        for t in [*m.parameters(recurse=False), *m.buffers(recurse=False)]:
            if id(t) not in seen and t.is_floating_point():
                seen.add(id(t))
                out.append(t)
    return out


def non_trainable_weights(module: nn.Module) -> list[torch.Tensor]:
    """:func:`weights` that training does not update (frozen parameters, moving statistics)."""
    train = {id(p) for p in trainable_parameters(module)}
    return [w for w in weights(module) if id(w) not in train]


def capture(model: Any) -> None:
    """Remember the parameters ``model`` trains (at compile; at setup for unbuilt layers)."""
    model._train_params = [p for p in trainable_parameters(model) if p.requires_grad]
    model._applied_generation = -1


def apply(model: Any) -> None:
    """Make ``requires_grad`` match what ``model`` captured at compile (no-op when current)."""
    if model._applied_generation == _generation:
        return
    if model._train_params is None:  # a step before setup: capture now
        capture(model)
    keep = {id(p) for p in model._train_params}
    for p in model.parameters():
        if p.requires_grad != (id(p) in keep):
            p.requires_grad_(id(p) in keep)
    model._applied_generation = _bump()
