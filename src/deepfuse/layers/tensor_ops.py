"""``TensorOp``: arithmetic written on symbolic tensors (``x + y``, ``2 * x``) as a graph layer.

Keras code adds, subtracts, multiplies and divides the outputs of layers directly
(``x = x + shortcut``); in the functional API each such expression becomes one ``TensorOp``
node. Operands are two tensors, or a tensor and a constant number.

Example:
    >>> import torch
    >>> TensorOp("subtract", reverse=True)([torch.tensor([1.0]), 3.0]).tolist()
    [2.0]
"""

from __future__ import annotations

from typing import Any

import torch

from deepfuse._utils.errors import ConfigError, invalid_choice
from deepfuse.layers.base import Layer

__all__ = ["TensorOp"]

_BINARY = {
    "add": torch.add,
    "subtract": torch.sub,
    "multiply": torch.mul,
    "divide": torch.div,
}
_OPS = (*_BINARY, "negative")


class TensorOp(Layer):
    """One arithmetic operation of a functional graph: ``add``, ``subtract``, ``multiply``,
    ``divide`` (of ``[a, b]``; ``reverse`` computes ``b op a``) or ``negative`` (of one tensor).

    Args:
        op: The operation's name.
        reverse: Swap the operands (``2 - x`` is ``TensorOp("subtract", reverse=True)([x, 2])``).
    """

    def __init__(self, op: str, *, reverse: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if op not in _OPS:
            raise invalid_choice("TensorOp operation", op, _OPS)
        self.op = op
        self.reverse = bool(reverse)
        self.built = True

    def forward(self, inputs: Any) -> torch.Tensor:
        if self.op == "negative":
            return torch.neg(inputs)
        a, b = inputs
        if self.reverse:
            a, b = b, a
        return _BINARY[self.op](a, b)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "op": self.op, "reverse": self.reverse}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TensorOp:
        if not isinstance(config.get("op"), str):
            raise ConfigError("A TensorOp config needs 'op', the operation's name.")
        return cls(**config)
