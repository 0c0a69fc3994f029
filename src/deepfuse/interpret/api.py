"""``attribute(model, x, method=...)``: our gradient methods, or any Captum attribution class.

``method="captum:IntegratedGradients"`` (or ``captum:Saliency``, ``captum:DeepLift``, ...) builds
``captum.attr.<Name>(model)`` and calls its ``attribute(x, target=..., **options)``; Captum is
imported lazily and its absence is reported with the extra to install.

Example:
    >>> import torch
    >>> net = torch.nn.Linear(2, 2)
    >>> attribute(net, torch.ones(1, 2), method="ig", target=1, steps=10).shape
    torch.Size([1, 2])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import UserError, invalid_choice
from deepfuse._utils.optional import require
from deepfuse.adversarial.attacks import eval_mode
from deepfuse.interpret.gradients import integrated_gradients, resolve_target, saliency

__all__ = ["METHODS", "attribute"]

#: Our own methods; anything spelt ``captum:<ClassName>`` goes to ``captum.attr``.
METHODS = {
    "saliency": saliency,
    "integrated_gradients": integrated_gradients,
    "ig": integrated_gradients,
}


def attribute(
    model: nn.Module,
    x: torch.Tensor,
    method: str = "integrated_gradients",
    target: Any = None,
    **options: Any,
) -> torch.Tensor:
    """Attributions of ``x`` for the target class with the named method.

    Args:
        model: Maps ``x`` to logits.
        x: Inputs ``(B, ...)``.
        method: ``"saliency"``, ``"integrated_gradients"``/``"ig"``, or ``"captum:<Name>"``.
        target: Class index, one per row, or ``None`` for the predicted class.
        **options: Passed to the method (``steps``, ``baseline`` for ours; Captum's own keyword
            arguments such as ``n_steps`` or ``baselines`` for Captum).

    Returns:
        The attributions (a tensor).

    Raises:
        MissingDependencyError: A ``captum:`` method without Captum installed.
    """
    if method.startswith("captum:"):
        return _captum(model, x, method.removeprefix("captum:"), target, **options)
    if method not in METHODS:
        raise invalid_choice("attribution method", method, [*METHODS, "captum:<Name>"])
    return METHODS[method](model, x, target=target, **options)


def _captum(model: nn.Module, x: torch.Tensor, name: str, target: Any, **options: Any) -> Any:
    attr = require("captum.attr", extra="interpret", purpose=f"method='captum:{name}'")
    cls = getattr(attr, name, None)
    if cls is None or not isinstance(cls, type):
        raise UserError(
            f"captum.attr has no attribution class {name!r}. Use e.g. 'captum:IntegratedGradients' "
            "or 'captum:Saliency'."
        )
    with eval_mode(model):
        target = resolve_target(model, x, target)
        return cls(model).attribute(x, target=target, **options)
