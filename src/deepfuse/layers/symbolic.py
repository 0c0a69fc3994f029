"""Symbolic tensors of the functional API (``keras.Input``): the hook ``Layer.__call__`` uses.

Filled in by the functional-API work; this module only answers "is any argument symbolic?"
until then, so ``Layer.__call__`` has one cheap test on its hot path.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SymbolicTensor", "call_layer", "has_symbolic"]


class SymbolicTensor:
    """A placeholder for a batch that will flow through a functional model (see ``Input``)."""


def has_symbolic(args: tuple[Any, ...]) -> bool:
    """True when an argument (or an item of a list/tuple argument) is a :class:`SymbolicTensor`."""
    for arg in args:
        if isinstance(arg, SymbolicTensor):
            return True
        if isinstance(arg, list | tuple) and any(isinstance(a, SymbolicTensor) for a in arg):
            return True
    return False


def call_layer(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Record ``layer(*args)`` as a node of a functional graph and return its output tensors."""
    raise NotImplementedError("the functional API is being built")
