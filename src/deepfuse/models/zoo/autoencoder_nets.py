"""The networks of the ``autoencoder`` and ``vae`` zoo families: encoders to a code, decoders
back, and the per-row reconstruction error the anomaly task scores with.

Two kinds of input, chosen from what the data gives the builder:

* :class:`TableNet` - the Preprocessor's table batch (``numeric`` float ``(N, k)``, standardised,
  and ``categorical`` int64 codes ``(N, c)``, 0 = unknown): numeric columns and categorical
  embeddings -> Dense stack -> code; the decoder gives ``k`` numeric values and one logit vector
  per categorical column.
* :class:`ImageNet` - images ``(N, C, H, W)`` in [0, 1]: stride-2 convolutions -> Dense -> code;
  Dense -> transposed convolutions -> pixel logits (cropped to ``H x W``).

A variational net has two heads (mean, log-variance) where a plain one has one (the code).

Example:
    >>> import torch
    >>> net = ImageNet([1, 28, 28], filters=[8, 16], latent_dim=4, variational=False)
    >>> x = torch.rand(3, 1, 28, 28)
    >>> mu, _ = net.encode(x)
    >>> tuple(mu.shape), tuple(net.decode_logits(mu).shape), tuple(net.row_error(x, net.decode_logits(mu)).shape)
    ((3, 4), (3, 1, 28, 28), (3,))
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ImageNet", "TableNet", "any_net", "kl_divergence"]


def _dense_stack(widths: list[int], *, dropout: float) -> nn.Sequential:
    """``Linear -> ReLU -> [Dropout]`` between consecutive widths."""
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers += [nn.Linear(widths[i], widths[i + 1]), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class _Heads(nn.Module):
    """The code of a hidden vector: one Linear (plain), or mean and log-variance (variational)."""

    def __init__(self, width: int, latent_dim: int, variational: bool) -> None:
        super().__init__()
        self.mu = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim) if variational else None

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.mu(h), (self.logvar(h) if self.logvar is not None else None)


class TableNet(nn.Module):
    """Encoder/decoder of a table row (numeric columns + categorical codes).

    Args:
        num_numeric: Numeric columns ``k``.
        cardinalities: Known categories per categorical column (code 0 = unknown is added).
        embed_dims: Embedding width per categorical column.
        hidden: Encoder widths (the decoder mirrors them).
        latent_dim: Width of the code.
        dropout: Dropout after each hidden layer.
        variational: Mean and log-variance heads.
    """

    def __init__(
        self,
        num_numeric: int,
        cardinalities: list[int],
        embed_dims: list[int],
        hidden: list[int],
        latent_dim: int,
        *,
        dropout: float,
        variational: bool,
    ) -> None:
        super().__init__()
        self.num_numeric, self.cardinalities = num_numeric, list(cardinalities)
        self.embeddings = nn.ModuleList(
            nn.Embedding(c + 1, d) for c, d in zip(cardinalities, embed_dims)
        )
        width = num_numeric + sum(embed_dims)
        self.encoder = _dense_stack([width, *hidden], dropout=dropout)
        self.heads = _Heads(hidden[-1] if hidden else width, latent_dim, variational)
        back = [latent_dim, *reversed(hidden)]
        self.decoder = _dense_stack(back, dropout=dropout)
        # one output block: k numeric values, then (cardinality + 1) logits per column
        self.out = nn.Linear(back[-1], num_numeric + sum(c + 1 for c in cardinalities))
        # Per-column scale of the error: a categorical column's cross-entropy is divided by
        # log(cardinality + 1), what a uniform guess costs, as a standardised numeric column's
        # squared error is about 1 for a guess of its mean; neither kind dominates the row's sum.
        self.register_buffer(
            "cat_scale",
            torch.tensor([math.log(c + 1) for c in cardinalities] or [1.0]),
            persistent=False,
        )

    def features(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The encoder's input ``(N, k + sum(embed_dims))``: numeric values, then embeddings."""
        parts = []
        if self.num_numeric:
            parts.append(batch["numeric"])
        cat = batch.get("categorical") if self.cardinalities else None
        parts += [emb(cat[:, i]) for i, emb in enumerate(self.embeddings)]
        return torch.cat(parts, 1) if len(parts) > 1 else parts[0]

    def encode(
        self, batch: dict[str, torch.Tensor], noise_std: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.features(batch)
        if noise_std:  # denoising: the encoder sees corrupted features, the loss the clean row
            h = h + noise_std * torch.randn_like(h)
        return self.heads(self.encoder(h))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, k + sum(cardinality + 1))``: numeric values then categorical logits."""
        return self.out(self.decoder(z))

    def _blocks(self, out: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        numeric, rest = out[:, : self.num_numeric], out[:, self.num_numeric :]
        return numeric, list(torch.split(rest, [c + 1 for c in self.cardinalities], dim=1))

    def to_output(self, out: torch.Tensor) -> torch.Tensor:
        """The decoded row in the input's space: ``(N, k + c)``, numeric values then the most
        likely code of each categorical column (as float)."""
        numeric, logits = self._blocks(out)
        codes = [lg.argmax(1, keepdim=True).to(numeric.dtype) for lg in logits]
        return torch.cat([numeric, *codes], 1)

    def row_error(self, batch: dict[str, torch.Tensor], out: torch.Tensor) -> torch.Tensor:
        """``(N,)``: squared error summed over numeric columns plus scaled cross-entropy summed
        over categorical columns (see ``cat_scale``)."""
        numeric, logits = self._blocks(out)
        error = out.new_zeros(out.shape[0])
        if self.num_numeric:
            error = error + (numeric - batch["numeric"]).pow(2).sum(1)
        if self.cardinalities:
            cat = batch["categorical"]
            for i, lg in enumerate(logits):  # (N, cardinality + 1) logits of column i
                ce = F.cross_entropy(lg, cat[:, i], reduction="none")
                error = error + ce / self.cat_scale[i]
        return error


def _conv_sizes(size: int, steps: int) -> list[int]:
    """Spatial sizes after each stride-2 convolution (kernel 3, padding 1): ceil halvings."""
    sizes = [size]
    for _ in range(steps):
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


class ImageNet(nn.Module):
    """Convolutional encoder/decoder of images ``(N, C, H, W)`` in [0, 1].

    Args:
        input_shape: ``[C, H, W]``.
        filters: Channels of each stride-2 convolution (the decoder mirrors them).
        latent_dim: Width of the code.
        dropout: Dropout before the code.
        variational: Mean and log-variance heads.
        reconstruction: ``"bce"`` (per-pixel binary cross-entropy) or ``"mse"``.
    """

    def __init__(
        self,
        input_shape: list[int],
        filters: list[int],
        latent_dim: int,
        *,
        dropout: float = 0.0,
        variational: bool = False,
        reconstruction: str = "bce",
    ) -> None:
        super().__init__()
        channels, height, width = input_shape
        self.input_shape, self.reconstruction = list(input_shape), reconstruction
        convs: list[nn.Module] = []
        for c_in, c_out in zip([channels, *filters], filters):
            convs += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]
        self.encoder = nn.Sequential(*convs, nn.Flatten(), nn.Dropout(dropout))
        hs, ws = _conv_sizes(height, len(filters)), _conv_sizes(width, len(filters))
        self.bottom = (filters[-1], hs[-1], ws[-1])  # (C', H', W') of the last feature map
        flat = filters[-1] * hs[-1] * ws[-1]
        self.heads = _Heads(flat, latent_dim, variational)
        self.expand = nn.Sequential(nn.Linear(latent_dim, flat), nn.ReLU())
        deconvs: list[nn.Module] = []
        back = [*reversed(filters), channels]
        for i, (c_in, c_out) in enumerate(itertools.pairwise(back)):
            # kernel 4, stride 2, padding 1: exactly doubles H and W
            deconvs.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
            if i < len(back) - 2:
                deconvs.append(nn.ReLU())
        self.decoder = nn.Sequential(*deconvs)

    def encode(
        self, x: torch.Tensor, noise_std: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if noise_std:  # denoising: corrupt the input, reconstruct the clean image
            x = (x + noise_std * torch.randn_like(x)).clamp(0.0, 1.0)
        return self.heads(self.encoder(x))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits ``(N, C, H, W)`` (the doubled sizes cropped to the input's)."""
        h = self.expand(z).view(-1, *self.bottom)
        _, height, width = self.input_shape
        return self.decoder(h)[:, :, :height, :width]

    def to_output(self, out: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1]."""
        return torch.sigmoid(out)

    def row_error(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``(N,)``: the per-pixel error summed over the image.

        ``bce`` is the cross-entropy less the pixels' own entropy (the Bernoulli KL): 0 for a
        perfect reconstruction. Grey pixels cannot reach a cross-entropy of 0, so without it a
        row's error would grow with its amount of grey ink, not with how badly it is
        reconstructed (a sandal would look more normal than a T-shirt). The entropy does not
        depend on the weights: the gradients are the cross-entropy's.
        """
        if self.reconstruction == "mse":
            err = (torch.sigmoid(out) - x).pow(2)
        else:
            p = x.clamp(1e-6, 1 - 1e-6)
            entropy = -(p * p.log() + (1 - p) * (1 - p).log())
            err = F.binary_cross_entropy_with_logits(out, x, reduction="none") - entropy
        return err.flatten(1).sum(1)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``(N,)``: KL(N(mu, exp(logvar)) || N(0, I)) in closed form, summed over the code.

    Example:
        >>> float(kl_divergence(torch.zeros(1, 3), torch.zeros(1, 3))[0])
        0.0
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)


def any_net(config: dict[str, Any]) -> nn.Module:
    """The net a builder config describes (``input_shape`` given: images, else a table)."""
    if config.get("input_shape"):
        return ImageNet(
            config["input_shape"],
            config["hidden"],
            config["latent_dim"],
            dropout=config["dropout"],
            variational=config["variational"],
            reconstruction=config["reconstruction"],
        )
    return TableNet(
        config["num_numeric"],
        config["cardinalities"],
        config["embed_dims"],
        config["hidden"],
        config["latent_dim"],
        dropout=config["dropout"],
        variational=config["variational"],
    )
