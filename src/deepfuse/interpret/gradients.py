"""Gradient attributions for inputs: saliency maps and integrated gradients (own torch code).

* :func:`saliency` — ``|d score / d x|`` (Simonyan et al. 2013), max over channels for images.
* :func:`integrated_gradients` — ``(x - x0) * mean over the straight path x0 -> x of d score/d x``
  (Sundararajan et al. 2017), trapezoid rule over ``steps`` intervals, the path points batched
  through the model ``internal_batch_size`` rows at a time. Completeness holds:
  ``attributions.sum() ≈ f(x)[t] - f(x0)[t]`` (see ``return_delta``).

The score is the logit of the target class (``target=None``: the predicted class). The model is
in eval mode while it is differentiated (BatchNorm running statistics, no dropout).

Example:
    >>> import torch
    >>> from deepfuse.interpret import integrated_gradients
    >>> net = torch.nn.Linear(3, 2)
    >>> x = torch.tensor([[1.0, 2.0, 3.0]])
    >>> attr, delta = integrated_gradients(net, x, target=0, return_delta=True)
    >>> attr.shape, bool(delta.abs().max() < 1e-4)
    (torch.Size([1, 3]), True)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import UserError
from deepfuse.adversarial.attacks import eval_mode

__all__ = ["class_scores", "integrated_gradients", "resolve_target", "saliency"]


def class_scores(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The target logit of each row: ``(N, C)`` outputs, ``(N,)`` targets → ``(N,)``.

    A single output unit (``(N,)`` or ``(N, 1)``, binary/regression) is its own score.
    """
    if outputs.dim() == 1:
        outputs = outputs[:, None]
    outputs = outputs.reshape(len(outputs), -1)  # (N, C)
    if outputs.shape[1] == 1:
        return outputs[:, 0]
    return outputs.gather(1, target.reshape(-1, 1).long()).squeeze(1)


def resolve_target(model: nn.Module, x: Any, target: Any) -> torch.Tensor:
    """``(B,)`` class indices: ``target`` as given (int or per row), else the predicted class."""
    batch = len(x)
    if target is None:
        with torch.no_grad():
            out = model(x)
        out = out[:, None] if out.dim() == 1 else out.reshape(batch, -1)
        return out.argmax(dim=1) if out.shape[1] > 1 else torch.zeros(batch, dtype=torch.long)
    target = torch.as_tensor(target, dtype=torch.long)
    if target.dim() == 0:
        return target.expand(batch).clone()
    if target.shape != (batch,):
        raise UserError(
            f"'target' must be one class index or one per row ({batch} rows); "
            f"got shape {tuple(target.shape)}."
        )
    return target


def saliency(model: nn.Module, x: torch.Tensor, target: Any = None) -> torch.Tensor:
    """Saliency map: absolute gradient of the target class score with respect to the input.

    Args:
        model: Maps ``x`` to logits ``(B, C)``.
        x: Inputs; ``(B, C, H, W)`` images or ``(B, F)`` feature rows.
        target: Class index (int), one per row ``(B,)``, or ``None`` for the predicted class.

    Returns:
        ``(B, H, W)`` for images (max of ``|grad|`` over the channels), else ``|grad|`` with the
        shape of ``x``.

    Example:
        >>> import torch
        >>> net = torch.nn.Linear(2, 2)
        >>> with torch.no_grad():
        ...     _ = net.weight.copy_(torch.tensor([[3.0, 0.0], [-1.0, 2.0]]))
        >>> saliency(net, torch.ones(1, 2), target=0).tolist()
        [[3.0, 0.0]]
    """
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise UserError("saliency() needs a floating-point input tensor (images or numbers).")
    with eval_mode(model):
        target = resolve_target(model, x, target)
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(class_scores(model(x), target).sum(), x)
    grad = grad.abs()
    return grad.amax(dim=1) if grad.dim() == 4 else grad  # (B, C, H, W) -> (B, H, W)


def _trapezoid(steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Path positions ``alphas`` (steps + 1,) and trapezoid weights summing to 1."""
    if not isinstance(steps, int) or steps < 1:
        raise UserError(f"'steps' must be an integer >= 1; got {steps!r}.")
    alphas = torch.linspace(0.0, 1.0, steps + 1)
    weights = torch.full((steps + 1,), 1.0 / steps)
    weights[0] = weights[-1] = 0.5 / steps
    return alphas, weights


def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    baseline: torch.Tensor | float | None = None,
    steps: int = 50,
    target: Any = None,
    *,
    internal_batch_size: int = 512,
    return_delta: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Integrated gradients of the target class score, along the straight path baseline → x.

    Args:
        model: Maps ``x`` to logits.
        x: Inputs ``(B, ...)`` (floating point).
        baseline: Same shape as ``x`` (or broadcastable, or a number); default all zeros
            (a black image).
        steps: Intervals of the trapezoid rule (``steps + 1`` model evaluations per row).
        target: Class index, one per row, or ``None`` for the predicted class.
        internal_batch_size: Path points sent through the model at once (bounds memory).
        return_delta: Also return the completeness error per row,
            ``attributions.sum() - (f(x)[t] - f(baseline)[t])``.

    Returns:
        Attributions with the shape of ``x`` (and the ``(B,)`` deltas when asked).

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
        >>> x = torch.tensor([[0.5, -1.0]])
        >>> attr = integrated_gradients(net, x, target=1, steps=200)
        >>> gap = net(x)[0, 1] - net(torch.zeros(1, 2))[0, 1]
        >>> bool(torch.isclose(attr.sum(), gap, atol=1e-4))
        True
    """
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise UserError("integrated_gradients() needs a floating-point input tensor.")
    x = x.detach()
    base = torch.zeros_like(x) if baseline is None else torch.as_tensor(baseline, dtype=x.dtype)
    base = base.to(x.device).expand_as(x)
    alphas, weights = _trapezoid(steps)
    batch, feature_dims = len(x), (1,) * (x.dim() - 1)
    diff = x - base  # (B, ...)
    with eval_mode(model):
        target = resolve_target(model, x, target).to(x.device)
        avg_grad = torch.zeros_like(x)
        per_chunk = max(1, internal_batch_size // max(batch, 1))  # path points per forward
        for start in range(0, steps + 1, per_chunk):
            a = alphas[start : start + per_chunk].to(x)  # (s,)
            w = weights[start : start + per_chunk].to(x)
            s = len(a)
            # (s, B, ...) points on the path, flattened to (s * B, ...) rows for one forward
            path = (base + a.view(s, 1, *feature_dims) * diff).reshape(s * batch, *x.shape[1:])
            path.requires_grad_(True)
            scores = class_scores(model(path), target.repeat(s))
            (grad,) = torch.autograd.grad(scores.sum(), path)
            avg_grad += (w.view(s, 1, *feature_dims) * grad.view(s, *x.shape)).sum(0)
        attributions = diff * avg_grad
        if not return_delta:
            return attributions
        with torch.no_grad():
            gap = class_scores(model(x), target) - class_scores(model(base), target)
    return attributions, attributions.reshape(batch, -1).sum(1) - gap
