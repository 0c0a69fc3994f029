"""L-inf gradient attacks (FGSM, PGD) and robust accuracy against epsilon.

Both attacks maximise the model's loss inside the L-inf ball ``|x_adv - x| <= eps`` and keep the
result in the valid input range (``clamp``, ``(0, 1)`` for images scaled to [0, 1]). The model is
put in eval mode while it is attacked (BatchNorm uses its running statistics, dropout is off) and
its previous mode is restored afterwards; parameter gradients are never touched.

Example:
    >>> import torch
    >>> from deepfuse.adversarial import fgsm
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> x, y = torch.full((3, 1, 2, 2), 0.5), torch.tensor([0, 1, 0])
    >>> x_adv = fgsm(net, x, y, eps=0.1)
    >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6), x_adv.shape
    (True, torch.Size([3, 1, 2, 2]))
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepfuse._utils.errors import UserError, format_message
from deepfuse.data.tensors import to_batch_tensor

__all__ = ["ATTACKS", "fgsm", "pgd", "robust_accuracy"]

Clamp = tuple[float, float] | None


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Run the body with ``model`` in eval mode, then restore the mode it had."""
    was_training = model.training
    model.train(False)
    try:
        yield
    finally:
        model.train(was_training)


def loss_of(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss an attack maximises: the model's compiled loss, else cross-entropy on logits."""
    loss_fn = getattr(model, "compiled_loss", None)
    compute = getattr(loss_fn, "compute", None)  # deepfuse losses: torch order (outputs, target)
    if callable(compute):
        return compute
    return loss_fn if callable(loss_fn) else F.cross_entropy


def _check_eps(eps: float, name: str = "eps") -> float:
    if not isinstance(eps, int | float) or isinstance(eps, bool) or eps < 0:
        raise UserError(
            format_message(
                f"Invalid attack '{name}'.",
                expected="a number >= 0 (an L-inf radius in input units)",
                got=eps,
                fix="Use e.g. eps=0.1 for images in [0, 1].",
            )
        )
    return float(eps)


def _project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, clamp: Clamp) -> torch.Tensor:
    """Back into the eps-ball around ``x`` and into the valid range."""
    x_adv = torch.max(torch.min(x_adv, x + eps), x - eps)
    return x_adv.clamp(*clamp) if clamp is not None else x_adv


def _input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d loss(model(x), y) / d x, without touching the parameters' ``.grad``."""
    x = x.detach().requires_grad_(True)
    loss = loss_of(model)(model(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    clamp: Clamp = (0.0, 1.0),
) -> torch.Tensor:
    """Fast gradient sign method: ``clamp(x + eps * sign(d loss / d x))``.

    Args:
        model: Maps ``x`` to logits (a ``deepfuse.Model`` attacks its compiled loss).
        x: Clean inputs, e.g. ``(B, C, H, W)`` images in [0, 1].
        y: Targets ``(B,)`` (class indices).
        eps: L-inf radius in input units.
        clamp: Valid input range ``(low, high)``, or ``None`` for no clamping.

    Returns:
        Adversarial inputs, same shape and dtype as ``x``, detached.

    Example:
        >>> import torch
        >>> net = torch.nn.Linear(2, 2)
        >>> fgsm(net, torch.zeros(1, 2), torch.tensor([0]), eps=0.0).tolist()
        [[0.0, 0.0]]
    """
    eps = _check_eps(eps)
    if eps == 0:
        return x.detach().clone()
    with eval_mode(model):
        grad = _input_grad(model, x, y)
    x_adv = x.detach() + eps * grad.sign()
    return (x_adv.clamp(*clamp) if clamp is not None else x_adv).detach()


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    alpha: float | None = None,
    steps: int = 10,
    random_start: bool = True,
    clamp: Clamp = (0.0, 1.0),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Projected gradient descent (Madry et al.), L-inf: ``steps`` signed-gradient steps of size
    ``alpha``, each projected back into the eps-ball around ``x`` and into ``clamp``.

    Args:
        model: Maps ``x`` to logits.
        x: Clean inputs.
        y: Targets ``(B,)``.
        eps: L-inf radius.
        alpha: Step size (default ``2.5 * eps / steps``, the usual choice).
        steps: Number of gradient steps.
        random_start: Start from a uniform random point of the ball (stronger attack).
        clamp: Valid input range, or ``None``.
        generator: Random source for the start (for reproducible attacks).

    Returns:
        Adversarial inputs, detached.

    Example:
        >>> import torch
        >>> net = torch.nn.Linear(3, 2)
        >>> x = torch.full((4, 3), 0.5)
        >>> x_adv = pgd(net, x, torch.zeros(4, dtype=torch.long), eps=0.05, steps=3)
        >>> bool((x_adv - x).abs().max() <= 0.05 + 1e-6)
        True
    """
    eps = _check_eps(eps)
    if not isinstance(steps, int) or steps < 1:
        raise UserError(f"PGD needs 'steps' to be an integer >= 1; got {steps!r}.")
    alpha = _check_eps(2.5 * eps / steps if alpha is None else alpha, "alpha")
    x = x.detach()
    if eps == 0:
        return x.clone()
    x_adv = x.clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        x_adv = _project(x + (2 * noise - 1) * eps, x, eps, clamp)
    with eval_mode(model):
        for _ in range(steps):
            grad = _input_grad(model, x_adv, y)
            x_adv = _project(x_adv + alpha * grad.sign(), x, eps, clamp)
    return x_adv.detach()


#: Attack names accepted by :func:`robust_accuracy`, the CLI and adversarial training.
ATTACKS: dict[str, Callable[..., torch.Tensor]] = {"fgsm": fgsm, "pgd": pgd}


def get_attack(name: str) -> Callable[..., torch.Tensor]:
    """The attack function called ``name`` (``"fgsm"`` or ``"pgd"``)."""
    from deepfuse._utils.errors import invalid_choice

    if name not in ATTACKS:
        raise invalid_choice("attack", name, ATTACKS, error=UserError)
    return ATTACKS[name]


def _batches(
    model: nn.Module, data: Any, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(x, y)`` tensor pairs from ``(x, y)`` arrays, a batch dict, or an iterable of either."""
    if isinstance(data, Mapping):  # one dict of tensors: {input: ..., target: ...}
        data = [data]
    elif (
        isinstance(data, Sequence)
        and len(data) == 2
        and not isinstance(data[0], Mapping | tuple | list)
    ):  # (x, y) arrays, not a list of two batches
        x, y = to_batch_tensor(data[0]), to_batch_tensor(data[1], label=True)
        for i in range(0, len(x), batch_size):
            yield x[i : i + batch_size], y[i : i + batch_size]
        return
    for batch in data:
        if isinstance(batch, Mapping):
            split = getattr(model, "split_batch", None)
            if split is None or getattr(model, "_input_keys", None) is None:
                raise UserError(
                    "Batches given as dicts need a deepfuse.Model that has seen data; "
                    "pass (x, y) tensors instead."
                )
            x, y = split(batch)
            if not isinstance(x, torch.Tensor):
                raise UserError(
                    "Attacks need a model with one input tensor (images or numbers); this model "
                    f"takes several inputs: {sorted(x)}."
                )
            for i in range(0, len(x), batch_size):  # one big dict: attack it in chunks
                yield x[i : i + batch_size], y[i : i + batch_size]
        else:
            x, y = batch
            yield to_batch_tensor(x), to_batch_tensor(y, label=True)


def _correct(outputs: torch.Tensor, y: torch.Tensor) -> int:
    """Correct predictions: argmax for (B, C) logits, ``> 0`` for one binary logit."""
    if outputs.dim() == 1 or outputs.shape[-1] == 1:
        pred = (outputs.reshape(-1) > 0).long()
    else:
        pred = outputs.argmax(dim=-1)
    return int((pred == y.reshape(-1).long()).sum())


def robust_accuracy(
    model: nn.Module,
    data: Any,
    eps_list: Iterable[float],
    attack: str = "fgsm",
    *,
    batch_size: int = 256,
    clamp: Clamp = (0.0, 1.0),
    **attack_options: Any,
) -> dict[float, float]:
    """Accuracy on adversarial examples for each epsilon (``eps = 0`` is clean accuracy).

    Args:
        model: Maps inputs to logits (a fitted ``deepfuse.Model`` or any ``nn.Module``).
        data: ``(x, y)`` tensors/arrays, a batch dict, or an iterable of batches.
        eps_list: The radii to evaluate, e.g. ``[0, 0.05, 0.1, 0.2, 0.3]``.
        attack: ``"fgsm"`` or ``"pgd"``.
        batch_size: Rows attacked at once (for array inputs).
        clamp: Valid input range, or ``None``.
        **attack_options: Passed to the attack (``steps``, ``alpha``, ``random_start`` for PGD).

    Returns:
        ``{eps: accuracy}`` in the order of ``eps_list``.

    Example:
        >>> import torch
        >>> net = torch.nn.Linear(2, 2)
        >>> x, y = torch.rand(8, 2), torch.randint(0, 2, (8,))
        >>> curve = robust_accuracy(net, (x, y), [0.0, 0.5])
        >>> curve[0.5] <= curve[0.0]
        True
    """
    fn = get_attack(attack)
    eps_values = [_check_eps(e) for e in eps_list]
    correct = dict.fromkeys(eps_values, 0)
    total = 0
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    with eval_mode(model):
        for x, y in _batches(model, data, batch_size):
            x, y = x.to(device), y.to(device)
            total += len(y)
            for eps in eps_values:
                x_adv = fn(model, x, y, eps, clamp=clamp, **attack_options) if eps else x
                with torch.no_grad():
                    correct[eps] += _correct(model(x_adv), y)
    if total == 0:
        raise UserError("robust_accuracy() got no rows; pass (x, y) with at least one row.")
    return {eps: correct[eps] / total for eps in eps_values}
