"""Zoo GANs: ``dcgan`` and ``wgan_gp`` (``model: {type: dcgan}``), trained by the one ``fit``.

Each is a :class:`~deepfuse.models.Model` holding a ``generator`` and a ``discriminator``
(:mod:`~deepfuse.models.zoo.gan_nets`) with two Adam optimizers (``g_optimizer``,
``d_optimizer``; the trainer checkpoints and logs both) and its own ``train_step``: no branch
in the loop. Both implement the :class:`~deepfuse.models.generative.Generator` protocol:
:meth:`GAN.noise` draws from a local ``torch.Generator`` (the run's random stream is untouched)
and :meth:`GAN.generate` returns images in ``[0, 1]``; inside, the networks work on images
scaled to ``[-1, 1]`` (the generator ends in ``tanh``).

* ``dcgan`` - the classic tutorial: non-saturating BCE-with-logits losses, Adam(2e-4, betas
  (0.5, 0.999)) for both networks, one discriminator and one generator step per batch.
  Logs ``d_loss``, ``g_loss``.
* ``wgan_gp`` - Wasserstein GAN with gradient penalty (Gulrajani et al. 2017): a critic without
  BatchNorm, Adam(1e-4, betas (0.0, 0.9)); one ``train_step`` = one batch = one critic step, and
  every ``n_critic``-th step also steps the generator (the count is a buffer of the model, so a
  run resumed mid-epoch continues the cycle). Logs ``d_loss``, ``g_loss`` (the last generator
  step's), ``gp`` (the weighted penalty) and ``wasserstein`` (the critic's estimate).

``conditional: true`` feeds the batch's class labels to both networks; ``noise()`` then cycles
labels over the classes. The learning rates and betas are builder arguments (recorded in
config.yaml with the others); ``compile`` takes no optimizer, loss or metrics.

Example:
    >>> import torch
    >>> from deepfuse.models import zoo
    >>> gan = zoo.get("dcgan", latent_dim=8, g_widths=[8, 4, 4], d_widths=[4, 8])
    >>> images = gan.generate(*gan.noise(3, seed=1))
    >>> tuple(images.shape), bool(images.min() >= 0), bool(images.max() <= 1)
    ((3, 1, 28, 28), True, True)
    >>> torch.equal(images, gan.generate(*gan.noise(3, seed=1)))
    True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from deepfuse._utils.errors import ConfigError, UserError
from deepfuse.models.model import Model
from deepfuse.models.zoo._common import positive_int, rate
from deepfuse.models.zoo.gan_nets import CriticNet, GeneratorNet, gan_arguments
from deepfuse.models.zoo.gan_penalty import gradient_penalty
from deepfuse.training.optim import build_optimizer, clip_gradients

__all__ = ["DCGAN", "GAN", "WGANGP", "dcgan", "wgan_gp"]

_EVAL_SEED = 0  # the noise of test_step: evaluation never draws from the run's random stream


@contextlib.contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """No weight gradients for ``module`` inside (the other network's step); each
    ``requires_grad`` flag comes back as it was (a layer frozen with ``trainable`` stays so)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


# ------------------------------------------------------------------------------ models
class GAN(Model):
    """What both zoo GANs share: the two networks, optimizers, noise, sampling and saving.

    Attributes:
        generator: :class:`~deepfuse.models.zoo.gan_nets.GeneratorNet`.
        discriminator: :class:`~deepfuse.models.zoo.gan_nets.CriticNet`.
        g_optimizer, d_optimizer: Their Adam optimizers (built when ``fit`` starts).
        latent_dim: Width of a noise vector.
        num_classes: Classes of a conditional GAN, 0 otherwise.
        image_shape: ``(C, H, W)`` of the images.
    """

    zoo_name: ClassVar[str] = "gan"

    def __init__(
        self,
        generator: GeneratorNet,
        discriminator: CriticNet,
        *,
        latent_dim: int,
        num_classes: int,
        image_shape: Sequence[int],
        g_lr: float,
        d_lr: float,
        betas: Sequence[float],
        config: dict[str, Any],
    ) -> None:
        super().__init__(name=self.zoo_name)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.image_shape = [int(s) for s in image_shape]
        self.g_optimizer: torch.optim.Optimizer | None = None
        self.d_optimizer: torch.optim.Optimizer | None = None
        self._adam = {"g": float(g_lr), "d": float(d_lr), "betas": tuple(float(b) for b in betas)}
        self.zoo_config = dict(config)
        self.architecture = {"kind": "zoo", "name": self.zoo_name, "kwargs": dict(config)}

    # ------------------------------------------------------------ protocol
    def noise(self, n: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` noise vectors from a local generator seeded with ``seed`` (and labels cycling
        over the classes when conditional); the global random state is never touched."""
        g = torch.Generator().manual_seed(int(seed))
        z = torch.randn(n, self.latent_dim, generator=g)
        labels = torch.arange(n) % self.num_classes if self.num_classes else None
        return z, labels

    @torch.no_grad()
    def generate(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images ``(N, C, H, W)`` in ``[0, 1]`` for ``noise`` (eval mode, no gradients)."""
        device = next(self.generator.parameters()).device
        if self.num_classes and labels is None:
            labels = torch.arange(len(noise)) % self.num_classes
        was_training = self.generator.training
        self.generator.train(False)  # BatchNorm's running statistics: fixed noise, fixed images
        try:
            out = self.generator(
                noise.to(device), None if labels is None else labels.to(device).long()
            )
        finally:
            self.generator.train(was_training)
        return ((out + 1) / 2).clamp(0, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The discriminator's score of images ``x`` in ``[0, 1]`` (a logit / critic value);
        a conditional one without ``labels`` leaves out its label term."""
        return self.discriminator(x * 2 - 1, None if labels is None else labels.reshape(-1).long())

    # ------------------------------------------------------------ training
    def compile(
        self,
        optimizer: Any = None,
        loss: Any = None,
        metrics: Sequence[Any] | None = None,
        **options: Any,
    ) -> None:
        """Ready the GAN for ``fit``; its optimizers and losses are its own (builder arguments
        ``g_lr``, ``d_lr``, ``betas``). ``grad_clip`` clips each network's gradients."""
        given = {"optimizer": optimizer, "loss": loss, "metrics": metrics or None}
        given.update({k: options.get(k) for k in ("schedule", "adversarial", "loss_weights")})
        given.update({k: options.get(k) or None for k in ("l1", "l2")})
        refused = sorted(k for k, v in given.items() if v is not None)
        if refused:
            raise UserError(
                f"A '{self.zoo_name}' model takes no {', '.join(refused)}: it trains with its "
                "own losses and two Adam optimizers. Set g_lr, d_lr and betas in the model "
                "section, and leave those trainer keys out."
            )
        keep = ("grad_clip", "run_eagerly", "jit_compile", "steps_per_execution")
        super().compile(optimizer=None, **{k: v for k, v in options.items() if k in keep})

    def setup(self, example: dict[str, torch.Tensor], *, for_training: bool = True) -> None:
        """Input keys and shapes from ``example``, then (to train) the two Adam optimizers."""
        from deepfuse.models.setup import setup

        setup(self, example, for_training=False)  # no model.optimizer: the step has its own
        if for_training and self.g_optimizer is None:
            adam = {"name": "adam", "betas": self._adam["betas"]}
            self.g_optimizer = build_optimizer(
                {**adam, "lr": self._adam["g"]}, self.generator.parameters()
            )
            self.d_optimizer = build_optimizer(
                {**adam, "lr": self._adam["d"]}, self.discriminator.parameters()
            )

    def _batch(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Real images scaled to ``[-1, 1]`` and, when conditional, their labels."""
        x = batch[self._input_keys[0]] if self._input_keys else batch["x"]
        labels = batch.get(self.target_key) if self.num_classes else None
        return x * 2 - 1, self._labels(labels)

    def _labels(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        if labels is None:
            raise UserError(
                f"This conditional '{self.zoo_name}' needs class labels: the batch has no "
                f"'{self.target_key}'. Train on labelled images, or set conditional: false."
            )
        return labels.reshape(-1).long()

    def _step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, net: nn.Module) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self._grad_clip is not None:
            clip_gradients(net.parameters(), self._grad_clip)
        optimizer.step()

    def _fake(
        self, n: int, labels: torch.Tensor | None, like: torch.Tensor, *, fixed: bool = False
    ) -> torch.Tensor:
        """Generated images for ``n`` fresh noise vectors: from the run's random stream (it is
        checkpointed), or with ``fixed`` (evaluation) from a local generator, the same each time."""
        g = torch.Generator(device=like.device).manual_seed(_EVAL_SEED) if fixed else None
        z = torch.randn(n, self.latent_dim, generator=g, device=like.device, dtype=like.dtype)
        return self.generator(z, labels)


class DCGAN(GAN):
    """DCGAN: non-saturating BCE-with-logits losses, one D and one G step per batch."""

    zoo_name = "dcgan"

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        real, labels = self._batch(batch)
        n = real.shape[0]
        ones, zeros = real.new_ones(n, 1), real.new_zeros(n, 1)
        # Discriminator: real -> 1, fake -> 0; the fake images carry no graph to the generator.
        with torch.no_grad():
            fake = self._fake(n, labels, real)
        both = torch.cat([real, fake])  # one pass over 2N images
        scores = self.discriminator(both, None if labels is None else torch.cat([labels, labels]))
        d_loss = F.binary_cross_entropy_with_logits(
            scores[:n], ones
        ) + F.binary_cross_entropy_with_logits(scores[n:], zeros)
        self._step(self.d_optimizer, d_loss, self.discriminator)
        # Generator: make the discriminator say "real" (non-saturating), D's weights frozen.
        with _frozen(self.discriminator):
            g_loss = F.binary_cross_entropy_with_logits(
                self.discriminator(self._fake(n, labels, real), labels), ones
            )
            self._step(self.g_optimizer, g_loss, self.generator)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def test_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        real, labels = self._batch(batch)
        n = real.shape[0]
        fake = self._fake(n, labels, real, fixed=True)
        d_real, d_fake = self.discriminator(real, labels), self.discriminator(fake, labels)
        ones, zeros = real.new_ones(n, 1), real.new_zeros(n, 1)
        d_loss = F.binary_cross_entropy_with_logits(
            d_real, ones
        ) + F.binary_cross_entropy_with_logits(d_fake, zeros)
        return {"d_loss": d_loss, "g_loss": F.binary_cross_entropy_with_logits(d_fake, ones)}


class WGANGP(GAN):
    """WGAN-GP: ``n_critic`` critic steps per generator step, one critic step per batch."""

    zoo_name = "wgan_gp"

    def __init__(self, *args: Any, n_critic: int, gp_weight: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.n_critic = int(n_critic)
        self.gp_weight = float(gp_weight)
        # Model state (in checkpoints, so a mid-epoch resume continues the cycle exactly):
        # critic steps taken, and the last generator loss (logged between generator steps).
        self.register_buffer("critic_steps", torch.zeros((), dtype=torch.int64))
        self.register_buffer("last_g_loss", torch.zeros(()))

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        real, labels = self._batch(batch)
        n = real.shape[0]
        with torch.no_grad():
            fake = self._fake(n, labels, real)
        c_real = self.discriminator(real, labels).mean()
        c_fake = self.discriminator(fake, labels).mean()
        gp = gradient_penalty(lambda x: self.discriminator(x, labels), real, fake, self.gp_weight)
        d_loss = c_fake - c_real + gp  # the critic minimises -W + penalty
        self._step(self.d_optimizer, d_loss, self.discriminator)
        self.critic_steps += 1
        if int(self.critic_steps) % self.n_critic == 0:
            with _frozen(self.discriminator):
                g_loss = -self.discriminator(self._fake(n, labels, real), labels).mean()
                self._step(self.g_optimizer, g_loss, self.generator)
            self.last_g_loss.copy_(g_loss.detach())
        return {
            "d_loss": d_loss.detach(),
            "g_loss": self.last_g_loss.clone(),
            "gp": gp.detach(),
            "wasserstein": (c_real - c_fake).detach(),
        }

    def test_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        real, labels = self._batch(batch)
        fake = self._fake(real.shape[0], labels, real, fixed=True)
        c_real = self.discriminator(real, labels).mean()
        c_fake = self.discriminator(fake, labels).mean()
        return {"d_loss": c_fake - c_real, "g_loss": -c_fake, "wasserstein": c_real - c_fake}


# ------------------------------------------------------------------------------ builders
def dcgan(
    latent_dim: int = 100,
    g_widths: Sequence[int] | None = None,
    d_widths: Sequence[int] | None = None,
    kernel_size: int = 4,
    dropout: float = 0.3,
    conditional: bool = False,
    num_classes: int = 0,
    input_shape: Sequence[int] = (1, 28, 28),
    g_lr: float = 2e-4,
    d_lr: float = 2e-4,
    betas: Sequence[float] = (0.5, 0.999),
) -> DCGAN:
    """The classic DCGAN (TensorFlow's tutorial shape, narrower by default: it trains MNIST
    in minutes on two CPU cores).

    Args:
        latent_dim: Width of a noise vector.
        g_widths: Channels after the generator's Dense layer, then of each hidden
            ``Conv2DTranspose`` (one more than the stride-2 upsamplings; default for 28x28:
            ``[64, 32, 16]``; the tutorial's is ``[256, 128, 64]``).
        d_widths: Channels of each stride-2 ``Conv2D`` of the discriminator (default for
            28x28: ``[16, 32]``; the tutorial's: ``[64, 128]``).
        kernel_size: Kernel of every convolution (the tutorial's 5 costs 1.6x the time of 4).
        dropout: Dropout after each discriminator block.
        conditional: Feed the class labels (the batch's target) to both networks.
        num_classes: Number of classes (filled from the data).
        input_shape: ``(C, H, W)`` of the images (filled from the data).
        g_lr, d_lr, betas: The two Adam optimizers' settings.
    """
    args = dict(locals())
    c = gan_arguments("dcgan", latent_dim, g_widths, d_widths, kernel_size, conditional, num_classes,
                input_shape, g_lr, d_lr, betas)  # fmt: skip
    generator = GeneratorNet(
        c["latent_dim"], c["image_shape"], c["g_widths"], c["kernel_size"], c["num_classes"]
    )
    discriminator = CriticNet(
        c["image_shape"], c["d_widths"], c["kernel_size"],
        dropout=rate("dcgan", "dropout", dropout), num_classes=c["num_classes"],
    )  # fmt: skip
    return DCGAN(generator, discriminator, latent_dim=c["latent_dim"],
                 num_classes=c["num_classes"], image_shape=c["image_shape"], **c["adam"],
                 config=_jsonable(args))  # fmt: skip


def wgan_gp(
    latent_dim: int = 100,
    g_widths: Sequence[int] | None = None,
    d_widths: Sequence[int] | None = None,
    kernel_size: int = 4,
    n_critic: int = 5,
    gp_weight: float = 10.0,
    conditional: bool = False,
    num_classes: int = 0,
    input_shape: Sequence[int] = (1, 28, 28),
    g_lr: float = 1e-4,
    d_lr: float = 1e-4,
    betas: Sequence[float] = (0.0, 0.9),
) -> WGANGP:
    """WGAN-GP: the DCGAN generator against a critic with LayerNorm and no Dropout.

    Args:
        n_critic: Critic steps (batches) per generator step.
        gp_weight: Weight of the gradient penalty (lambda).
        latent_dim, g_widths, d_widths, kernel_size, conditional, num_classes, input_shape:
            as :func:`dcgan`.
        g_lr, d_lr, betas: The two Adam optimizers' settings (the paper's by default).
    """
    args = dict(locals())
    c = gan_arguments("wgan_gp", latent_dim, g_widths, d_widths, kernel_size, conditional,
                num_classes, input_shape, g_lr, d_lr, betas)  # fmt: skip
    if isinstance(gp_weight, bool) or not isinstance(gp_weight, int | float) or gp_weight < 0:
        raise ConfigError(
            f"The 'gp_weight' argument of zoo model 'wgan_gp' must be a number >= 0; got "
            f"{gp_weight!r}."
        )
    generator = GeneratorNet(
        c["latent_dim"], c["image_shape"], c["g_widths"], c["kernel_size"], c["num_classes"]
    )
    critic = CriticNet(
        c["image_shape"], c["d_widths"], c["kernel_size"], layer_norm=True,
        num_classes=c["num_classes"],
    )  # fmt: skip
    return WGANGP(generator, critic, latent_dim=c["latent_dim"], num_classes=c["num_classes"],
                  image_shape=c["image_shape"], **c["adam"], config=_jsonable(args),
                  n_critic=positive_int("wgan_gp", "n_critic", n_critic),
                  gp_weight=gp_weight)  # fmt: skip


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    """Builder arguments as model.json records them (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}
