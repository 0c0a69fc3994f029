"""Keras-style optimizer objects: ``deepfuse.optimizers.Adam(learning_rate=1e-3)``.

They are specifications, turned into a ``torch.optim`` optimizer once the model is built (lazy
layers have no parameters before the first batch).

Example:
    >>> Adam(learning_rate=0.01).get_config()
    {'name': 'adam', 'lr': 0.01}
"""

from __future__ import annotations

from typing import Any

__all__ = ["SGD", "Adam", "AdamW", "OptimizerSpec", "RMSprop"]


class OptimizerSpec:
    """An optimizer name plus options; ``compile(optimizer=spec)`` accepts it."""

    name = ""

    def __init__(self, learning_rate: float | None = None, **options: Any) -> None:
        self.options = dict(options)
        if learning_rate is not None:
            self.options["lr"] = learning_rate

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.options}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options})"


class SGD(OptimizerSpec):
    """Stochastic gradient descent (``momentum``, ``nesterov``, ``weight_decay``)."""

    name = "sgd"


class Adam(OptimizerSpec):
    """Adam (``betas``, ``eps``, ``weight_decay``)."""

    name = "adam"


class AdamW(OptimizerSpec):
    """Adam with decoupled weight decay."""

    name = "adamw"


class RMSprop(OptimizerSpec):
    """RMSprop (``alpha``, ``momentum``)."""

    name = "rmsprop"
