"""The two networks of the zoo GANs (:mod:`deepfuse.models.zoo.gan`), from deepfuse layers.

* :class:`GeneratorNet` - the classic DCGAN generator: ``Dense(latent -> h0·w0·C0)`` ->
  BatchNorm -> LeakyReLU -> Reshape, then one ``Conv2DTranspose`` (stride 1) and stride-2
  ``Conv2DTranspose`` layers, each with BatchNorm + LeakyReLU, up to the image size; a last
  stride-2 ``Conv2DTranspose`` to the image channels with ``tanh`` (images in ``[-1, 1]``).
* :class:`CriticNet` - ``Conv2D(stride 2)`` + LeakyReLU (+ Dropout for DCGAN, + LayerNorm for
  the WGAN critic, never BatchNorm: the gradient penalty is per sample) stack -> Flatten ->
  ``Dense(1)``, one logit / critic value per image.

Conditional variants: the generator concatenates a label embedding to the noise; the critic
adds a projection head (``<embedding(label), features>``, Miyato & Koyama 2018) to its output.

Example:
    >>> import torch
    >>> g = GeneratorNet(latent_dim=8, image_shape=(1, 28, 28), widths=[16, 8, 4], kernel_size=5)
    >>> d = CriticNet(image_shape=(1, 28, 28), widths=[4, 8], kernel_size=5, dropout=0.3)
    >>> images = g(torch.zeros(2, 8))
    >>> tuple(images.shape), tuple(d(images).shape)
    ((2, 1, 28, 28), (2, 1))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import ConfigError
from deepfuse.layers import (
    BatchNorm,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    LayerNorm,
    LeakyReLU,
    Reshape,
)
from deepfuse.layers.base import channels_first_shape
from deepfuse.models.zoo._common import int_list, positive_int, rate

__all__ = ["CriticNet", "GeneratorNet", "gan_arguments", "upsamplings"]

#: Width of the label embedding a conditional generator concatenates to its noise.
LABEL_DIM = 32
_SLOPE = 0.2  # LeakyReLU's negative slope (DCGAN paper)


def upsamplings(height: int, width: int) -> tuple[int, int, int]:
    """``(stride-2 layers, start height, start width)`` of a generator for ``height x width``:
    halve while both sides are even and stay at least 3 (28 -> 7 in 2, 32 -> 4 in 3).

    Example:
        >>> upsamplings(28, 28), upsamplings(32, 32), upsamplings(64, 48)
        ((2, 7, 7), (3, 4, 4), (4, 4, 3))
    """
    n = 0
    while height % 2 == 0 and width % 2 == 0 and height // 2 >= 3 and width // 2 >= 3:
        height, width, n = height // 2, width // 2, n + 1
    if n == 0:
        raise ConfigError(
            f"A GAN generator upsamples by 2: the image size {height}x{width} must be even and "
            "at least 8 pixels per side. Resize the images (e.g. to 28x28 or 32x32)."
        )
    return n, height, width


class GeneratorNet(nn.Module):
    """Noise ``(N, latent_dim)`` (+ labels ``(N,)``) -> images ``(N, C, H, W)`` in ``[-1, 1]``.

    Args:
        latent_dim: Width of a noise vector.
        image_shape: ``(C, H, W)`` of the images.
        widths: Channels after the Dense layer, then of each hidden ``Conv2DTranspose``: one
            more than the number of stride-2 upsamplings :func:`upsamplings` gives.
        kernel_size: Kernel of every ``Conv2DTranspose``.
        num_classes: Classes of a conditional generator (0: unconditional).
    """

    def __init__(
        self,
        latent_dim: int,
        image_shape: Sequence[int],
        widths: Sequence[int],
        kernel_size: int,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        ups, h0, w0 = upsamplings(height, width)
        if len(widths) != ups + 1:
            raise ConfigError(
                f"A generator for {height}x{width} images upsamples {ups} times, so it takes "
                f"{ups + 1} widths; got {list(widths)}."
            )
        self.embed = Embedding(num_classes, LABEL_DIM) if num_classes else None
        layers: list[nn.Module] = [
            Dense(h0 * w0 * widths[0], use_bias=False),
            BatchNorm(),
            LeakyReLU(_SLOPE),
            Reshape((widths[0], h0, w0), data_format="channels_first"),  # (N, C0, h0, w0)
        ]
        # The tutorial's first transposed convolution keeps the size (stride 1); every later
        # one doubles it, the last one ending at the image's channels.
        for i, units in enumerate(widths[1:]):
            layers += [
                Conv2DTranspose(units, kernel_size, strides=1 if i == 0 else 2, padding="same",
                                use_bias=False),
                BatchNorm(),
                LeakyReLU(_SLOPE),
            ]  # fmt: skip
        out = Conv2DTranspose(
            channels, kernel_size, strides=2, padding="same", use_bias=False, activation="tanh"
        )  # no bias, as the tutorial's: BatchNorm-free last layer, images in [-1, 1]
        layers.append(out)
        self.body = nn.Sequential(*layers)
        self(torch.zeros(2, latent_dim), torch.zeros(2, dtype=torch.long) if num_classes else None)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if labels is None:
                raise ValueError("A conditional generator needs class labels with its noise.")
            z = torch.cat([z, self.embed(labels.long())], dim=1)  # (N, latent + LABEL_DIM)
        return self.body(z)


class CriticNet(nn.Module):
    """Images ``(N, C, H, W)`` in ``[-1, 1]`` (+ labels) -> one score per image ``(N, 1)``.

    Args:
        image_shape: ``(C, H, W)`` of the images.
        widths: Channels of each stride-2 ``Conv2D``.
        kernel_size: Kernel of every convolution.
        dropout: Dropout after each block (DCGAN's discriminator; 0 for a WGAN critic).
        layer_norm: LayerNorm (per pixel, over channels) after every block but the first
            (the WGAN-GP critic; never BatchNorm, which would mix the samples of a batch).
        num_classes: Classes of a conditional critic (0: unconditional): a projection head.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        widths: Sequence[int],
        kernel_size: int,
        dropout: float = 0.0,
        layer_norm: bool = False,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, units in enumerate(widths):
            layers += [Conv2D(units, kernel_size, strides=2, padding="same"), LeakyReLU(_SLOPE)]
            if layer_norm and i > 0:
                layers.append(LayerNorm())
            if dropout:
                layers.append(Dropout(dropout))
        layers.append(Flatten(data_format="channels_first"))  # (N, F)
        self.features = nn.Sequential(*layers)
        self.head = Dense(1)
        example = torch.zeros(2, *image_shape)
        size = int(self.features(example).shape[1])
        self.project = Embedding(num_classes, size) if num_classes else None
        self(example, torch.zeros(2, dtype=torch.long) if num_classes else None)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(images)  # (N, F)
        out = self.head(h)  # (N, 1)
        # Without labels a conditional critic gives its label-free part (inspection tools
        # that call the model on images alone); training always passes the labels.
        if self.project is not None and labels is not None:
            out = out + (self.project(labels.long()) * h).sum(dim=1, keepdim=True)
        return out


def gan_arguments(
    model: str,
    latent_dim: Any,
    g_widths: Any,
    d_widths: Any,
    kernel_size: Any,
    conditional: Any,
    num_classes: Any,
    input_shape: Any,
    g_lr: Any,
    d_lr: Any,
    betas: Any,
) -> dict[str, Any]:
    """The zoo GAN builders' arguments, checked; widths derived from the image size when not
    given (the generator's halve from the Dense layer to the image, the critic's double).

    Example:
        >>> a = gan_arguments("dcgan", 100, None, None, 5, False, 10, [1, 28, 28], 2e-4, 2e-4,
        ...                   [0.5, 0.999])
        >>> a["g_widths"], a["d_widths"], a["num_classes"], a["image_shape"]
        ([64, 32, 16], [16, 32], 0, (1, 28, 28))
    """
    shape = channels_first_shape(int_list(model, "input_shape", input_shape, allow_empty=False))
    if len(shape) != 3:
        raise ConfigError(
            f"The 'input_shape' argument of zoo model '{model}' must be an image shape "
            f"(C, H, W); got {input_shape!r}."
        )
    ups, _, _ = upsamplings(shape[1], shape[2])
    classes = 0
    if conditional:
        classes = positive_int(model, "num_classes", num_classes)
        if classes < 2:
            raise ConfigError(
                f"A conditional '{model}' needs at least 2 classes; got num_classes="
                f"{num_classes!r}. Train on labelled images, or set conditional: false."
            )
    for key, value in (("g_lr", g_lr), ("d_lr", d_lr)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(
                f"The '{key}' argument of zoo model '{model}' must be a number > 0; got {value!r}."
            )
    if not isinstance(betas, Sequence) or isinstance(betas, str) or len(betas) != 2:
        raise ConfigError(
            f"The 'betas' argument of zoo model '{model}' must be two floats in [0, 1); "
            f"got {betas!r}."
        )
    return {
        "latent_dim": positive_int(model, "latent_dim", latent_dim),
        "image_shape": shape,
        "num_classes": classes,
        "kernel_size": positive_int(model, "kernel_size", kernel_size),
        "g_widths": int_list(model, "g_widths", g_widths)
        if g_widths is not None
        else [16 * 2 ** (ups - i) for i in range(ups + 1)],  # 28x28: [64, 32, 16]
        "d_widths": int_list(model, "d_widths", d_widths, allow_empty=False)
        if d_widths is not None
        else [16 * 2**i for i in range(ups)],  # 28x28: [16, 32]
        "adam": {
            "g_lr": float(g_lr),
            "d_lr": float(d_lr),
            "betas": [rate(model, "betas", b) for b in betas],
        },
    }
