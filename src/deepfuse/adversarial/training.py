"""Adversarial training: each training batch is a mix of clean and adversarial examples.

``model.compile(..., adversarial={"attack": "fgsm", "eps": 0.1, "ratio": 0.5})`` (or the config key
``trainer.adversarial``) plugs an :class:`AdversarialTraining` into the model as its step
extension (``deepfuse.training.protocols.StepExtension``): its :meth:`~AdversarialTraining.train_step`
replaces the model's, :meth:`~AdversarialTraining.mix` crafts the batch and the model's plain
``optimize_step`` trains on it. The first ``round(ratio * B)`` rows of the (already shuffled)
batch are replaced by their attacked versions, crafted against the current weights. Replacing rows instead
of appending them keeps the batch size, the cost per step (one extra forward/backward on the
attacked rows) and the learning-rate schedule unchanged; it is an unbiased estimate of Goodfellow
et al.'s mixed objective ``(1 - ratio) * J(x) + ratio * J(x_adv)``.
The training loss and metrics that ``fit`` reports are those of the mixed batches.

``random_start: true`` with FGSM is the "fast adversarial training" of Wong et al. (2020): start
from a random point of the eps-ball and take one step of ``alpha`` (default ``1.25 * eps``); it
avoids the catastrophic overfitting that plain FGSM training can show at large eps.

Example:
    >>> import torch
    >>> adv = AdversarialTraining.from_spec({"attack": "fgsm", "eps": 0.1, "ratio": 0.5})
    >>> adv
    AdversarialTraining(attack='fgsm', eps=0.1, ratio=0.5, steps=1, alpha=None, random_start=False, clamp=(0.0, 1.0))
    >>> net = torch.nn.Linear(3, 2)
    >>> x, y = torch.full((4, 3), 0.5), torch.tensor([0, 1, 0, 1])
    >>> x_mix = adv.mix(net, x, y)
    >>> bool(torch.equal(x_mix[2:], x[2:])), bool((x_mix[:2] - x[:2]).abs().max() > 0)
    (True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import ConfigError, did_you_mean, format_message
from deepfuse.adversarial.attacks import ATTACKS, fgsm, pgd

__all__ = ["AdversarialTraining"]


def _bad(key: str, expected: str, got: Any, fix: str = "") -> ConfigError:
    return ConfigError(
        format_message(f"Invalid 'adversarial.{key}'.", expected=expected, got=got, fix=fix)
    )


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@dataclass(frozen=True)
class AdversarialTraining:
    """Settings of adversarial training (validated by :meth:`from_spec`).

    Attributes:
        attack: ``"fgsm"`` or ``"pgd"``.
        eps: L-inf radius in input units (0.1 for MNIST pixels in [0, 1]).
        ratio: Fraction of each batch replaced by adversarial examples, in (0, 1].
        steps: PGD steps (ignored by FGSM).
        alpha: Step size (PGD default ``2.5 * eps / steps``; random-start FGSM ``1.25 * eps``).
        random_start: Start from a random point of the eps-ball.
        clamp: Valid input range ``(low, high)`` or ``None``.
    """

    attack: str = "fgsm"
    eps: float = 0.1
    ratio: float = 0.5
    steps: int = 1
    alpha: float | None = None
    random_start: bool = False
    clamp: tuple[float, float] | None = (0.0, 1.0)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> AdversarialTraining | None:
        """Validate a ``compile(adversarial=...)`` / ``trainer.adversarial`` value.

        Raises:
            ConfigError: Unknown key, unknown attack or a value out of range (names the key).
        """
        if spec is None or spec is False:
            return None
        if not isinstance(spec, Mapping):
            raise _bad("", "a mapping like {attack: fgsm, eps: 0.1, ratio: 0.5}", spec)
        allowed = list(cls.__dataclass_fields__)
        for key in spec:
            if key not in allowed:
                raise ConfigError(
                    f"Unknown key 'adversarial.{key}'. Allowed keys: {', '.join(allowed)}."
                    + did_you_mean(str(key), allowed)
                )
        opts = {**asdict(cls()), **dict(spec)}
        if opts["attack"] not in ATTACKS:
            raise _bad("attack", f"one of {sorted(ATTACKS)}", opts["attack"])
        if not _num(opts["eps"]) or opts["eps"] <= 0:
            raise _bad(
                "eps", "a number > 0", opts["eps"], "Use e.g. eps: 0.1 for images in [0, 1]."
            )
        if not _num(opts["ratio"]) or not 0 < opts["ratio"] <= 1:
            raise _bad("ratio", "a number in (0, 1]", opts["ratio"])
        if (
            not isinstance(opts["steps"], int)
            or isinstance(opts["steps"], bool)
            or opts["steps"] < 1
        ):
            raise _bad("steps", "an integer >= 1", opts["steps"])
        if opts["alpha"] is not None and (not _num(opts["alpha"]) or opts["alpha"] <= 0):
            raise _bad("alpha", "null or a number > 0", opts["alpha"])
        if not isinstance(opts["random_start"], bool):
            raise _bad("random_start", "true or false", opts["random_start"])
        clamp = opts["clamp"]
        if clamp is not None:
            if not (isinstance(clamp, list | tuple) and len(clamp) == 2 and all(map(_num, clamp))):
                raise _bad("clamp", "null or [low, high]", clamp)
            clamp = (float(clamp[0]), float(clamp[1]))
        if opts["attack"] == "pgd" and "steps" not in spec:
            opts["steps"] = 7  # a single-step "PGD" would be FGSM; 7 is the usual training choice
        return cls(
            attack=opts["attack"],
            eps=float(opts["eps"]),
            ratio=float(opts["ratio"]),
            steps=int(opts["steps"]),
            alpha=None if opts["alpha"] is None else float(opts["alpha"]),
            random_start=opts["random_start"],
            clamp=clamp,
        )

    def attack_rows(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Adversarial versions of all rows of ``x`` against the current weights."""
        if self.attack == "pgd":
            return pgd(model, x, y, self.eps, self.alpha, self.steps, self.random_start, self.clamp)
        if not self.random_start:
            return fgsm(model, x, y, self.eps, clamp=self.clamp)
        # Fast adversarial training: a random start in the ball, then one FGSM step of alpha.
        alpha = 1.25 * self.eps if self.alpha is None else self.alpha
        return pgd(model, x, y, self.eps, alpha, 1, True, self.clamp)

    def mix(self, model: nn.Module, x: Any, y: torch.Tensor | None) -> Any:
        """Replace the first ``round(ratio * B)`` rows of ``x`` with adversarial examples.

        Args:
            model: The model being trained (attacked in eval mode, weights unchanged).
            x: Input batch ``(B, ...)``, a floating-point tensor.
            y: Targets ``(B,)``.

        Returns:
            A new tensor of the same shape: adversarial rows first, then the clean rest.
        """
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or y is None:
            raise ConfigError(
                "Adversarial training needs a model with one floating-point input tensor "
                "(images or numbers) and a target; remove 'adversarial' for this model."
            )
        k = round(self.ratio * len(x))
        if k == 0:
            return x
        x_adv = self.attack_rows(model, x[:k], y[:k])  # (k, ...) detached
        return torch.cat([x_adv, x[k:]]) if k < len(x) else x_adv

    def train_step(self, model: Any, x: Any, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """The model's training step on the mixed batch (``model.optimize_step``)."""
        return model.optimize_step(self.mix(model, x, y), y)

    def get_config(self) -> dict[str, Any]:
        """JSON-able settings (what ``from_spec`` accepts)."""
        out = asdict(self)
        out["clamp"] = None if self.clamp is None else list(self.clamp)
        return out
