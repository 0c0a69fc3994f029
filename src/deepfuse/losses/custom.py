"""User losses: a plain function or a torch ``nn.Module``, given ``compute(outputs, target)``.

``compile(loss=fn)`` with a plain Python function follows Keras' documented signature
``fn(y_true, y_pred)``, unless the function's first parameter is clearly a prediction (named
``y_pred``, ``pred``, ``preds``, ``outputs``, ``output``, ``logits``, ``input``, ``inputs``,
``prediction`` or ``predictions``, as in ``torch.nn.functional.mse_loss(input, target)``): then it
is called torch's way, ``fn(outputs, target)``. A function returning one value per sample (Keras
style) is averaged, as Keras' ``sum_over_batch_size``. A torch loss module
(``torch.nn.CrossEntropyLoss()``) is called torch's way, ``module(input, target)``.

Example:
    >>> import torch
    >>> def keras_style(y_true, y_pred):
    ...     return ((y_pred - y_true) ** 2).sum(dim=-1)     # one value per sample
    >>> loss = LambdaLoss(keras_style)
    >>> loss.order
    'keras'
    >>> float(loss.compute(torch.tensor([[1.0, 1.0]]), torch.tensor([[0.0, 0.0]])))
    2.0
    >>> LambdaLoss(torch.nn.functional.mse_loss).order
    'torch'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["PREDICTION_NAMES", "LambdaLoss", "ModuleLoss", "call_order"]

#: A function whose first parameter has one of these names is called ``fn(outputs, target)``.
PREDICTION_NAMES = frozenset(
    {
        "y_pred",
        "pred",
        "preds",
        "outputs",
        "output",
        "logits",
        "input",
        "inputs",
        "prediction",
        "predictions",
    }
)


def call_order(fn: Callable[..., Any]) -> str:
    """``"torch"`` if ``fn``'s first parameter names a prediction, else ``"keras"``.

    Example:
        >>> call_order(lambda y_true, y_pred: y_pred), call_order(lambda logits, y: logits)
        ('keras', 'torch')
    """
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: Keras' documented order
        return "keras"
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if positional and positional[0].name.lower() in PREDICTION_NAMES:
        return "torch"
    return "keras"


def _average(value: Any) -> Tensor:
    """A scalar loss from what a user function returned (per-sample values are averaged)."""
    if not isinstance(value, Tensor):
        value = torch.as_tensor(value)
    return value.mean() if value.dim() > 0 else value


class LambdaLoss(nn.Module):
    """Wrap a plain loss function; calling the wrapper calls the function unchanged.

    It has no ``from_logits`` attribute: the model cannot know what a user function expects, so
    it does not fuse a final activation into it.

    Args:
        fn: ``fn(y_true, y_pred)`` (Keras) or ``fn(outputs, target)`` (see :func:`call_order`).
        order: ``"keras"`` or ``"torch"``, to override the rule.

    Example:
        >>> import torch
        >>> loss = LambdaLoss(lambda y_true, y_pred: (y_pred - y_true).abs().max())
        >>> float(loss.compute(torch.tensor([1.0, 5.0]), torch.tensor([1.0, 2.0])))
        3.0
    """

    def __init__(self, fn: Callable[..., Any], order: str | None = None) -> None:
        super().__init__()
        self.fn = fn
        self.order = order or call_order(fn)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def compute(self, outputs: Tensor, target: Tensor) -> Tensor:
        """The loss in torch's order, whatever order ``fn`` takes; averaged to a scalar."""
        if self.order == "keras":
            return _average(self.fn(target, outputs))
        return _average(self.fn(outputs, target))

    def extra_repr(self) -> str:
        return f"{getattr(self.fn, '__name__', repr(self.fn))}, order={self.order!r}"


class ModuleLoss(nn.Module):
    """A torch loss module (``nn.CrossEntropyLoss()``) with ``compute(outputs, target)``.

    Calling the wrapper calls the module unchanged (torch's order ``module(input, target)``).

    Example:
        >>> import torch
        >>> loss = ModuleLoss(torch.nn.L1Loss())
        >>> float(loss.compute(torch.tensor([3.0]), torch.tensor([1.0])))
        2.0
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def compute(self, outputs: Tensor, target: Tensor) -> Tensor:
        """``module(outputs, target)``, averaged to a scalar if it returns several values."""
        return _average(self.module(outputs, target))
