"""WGAN-GP's gradient penalty, done right (Gulrajani et al. 2017, section 4).

One uniform mixing weight per sample, broadcast over the whole image; interpolates between real
and *detached* fake images; the critic's input gradient with ``create_graph=True`` (the penalty
trains the critic); its norm over ALL non-batch dimensions (``g.flatten(1)``) with a stable
square root; ``weight * mean((norm - 1) ** 2)``.

Example:
    >>> import torch
    >>> critic = lambda x: 3 * x.sum(dim=(1, 2, 3))   # gradient 3 at every pixel of 2x2 images
    >>> gradient_norms(critic, torch.zeros(2, 1, 2, 2)).tolist()  # sqrt(4 * 3**2) = 6
    [6.0, 6.0]
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["gradient_norms", "gradient_penalty"]


def gradient_norms(
    critic: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor
) -> torch.Tensor:
    """``||d critic(x_i) / d x_i||`` for every sample ``i``: ``(N,)``, differentiable.

    The norm runs over ALL non-batch dimensions (channels and pixels: ``g.flatten(1)``), with a
    stable square root ``sqrt(sum(g**2) + 1e-12)`` (finite gradient at 0, unlike ``norm``).
    ``create_graph=True``: the penalty built on it trains the critic.
    """
    inputs = inputs.detach().requires_grad_(True)
    scores = critic(inputs)
    # The samples are independent, so the gradient of the sum is each sample's own gradient.
    (grads,) = torch.autograd.grad(scores.sum(), inputs, create_graph=True)
    return torch.sqrt(grads.flatten(1).pow(2).sum(dim=1) + 1e-12)


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP's penalty ``weight * mean((||grad critic(x_hat)|| - 1) ** 2)``.

    ``x_hat = a * real + (1 - a) * fake`` with one uniform ``a`` per sample, broadcast over the
    whole image; ``fake`` is detached (the penalty trains the critic only).

    Args:
        critic: Inputs ``(N, ...)`` -> scores ``(N, 1)`` or ``(N,)``.
        real, fake: Batches of the same shape.
        weight: The penalty's weight (lambda, 10 in the paper).
        generator: Random generator of the mixing weights (default: torch's global one).

    Example:
        >>> w = torch.tensor([3.0, 4.0])          # f(x) = <w, x>: gradient w everywhere
        >>> float(gradient_penalty(lambda x: x @ w, torch.zeros(5, 2), torch.ones(5, 2)))
        160.0
    """
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)  # (N, 1, 1, 1): one weight per sample
    mix = torch.rand(shape, generator=generator, dtype=real.dtype, device=real.device)
    mixed = mix * real.detach() + (1 - mix) * fake.detach()
    return weight * (gradient_norms(critic, mixed) - 1).pow(2).mean()
