"""Fake generators for the sample-quality tests: they implement only the Generator protocol of
``deepfuse.models.generative`` (no GAN code), and a small MNIST split shaped like the built-in
image route's ``Prepared``."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from deepfuse.data.routes import Prepared
from deepfuse.datasets import load_mnist


def mnist_prep(train: int = 3000, val: int = 600, test: int = 1000) -> Prepared:
    """MNIST rows as the built-in route prepares them: {"x": (N,1,28,28) in [0,1], "y": (N,)}."""
    (xt, yt), (xs, ys) = load_mnist()

    def split(x: np.ndarray, y: np.ndarray) -> dict[str, torch.Tensor]:
        return {"x": torch.tensor(x, dtype=torch.float32)[:, None] / 255, "y": torch.tensor(y)}

    return Prepared(
        kind="image",
        train=split(xt[:train], yt[:train]),
        val=split(xt[train : train + val], yt[train : train + val]),
        test=split(xs[:test], ys[:test]),
        target="y",
        task="generate",
        classes=list(range(10)),
    )


class Bank(nn.Module):
    """ "Generates" images from a bank: noise picks one; labels (conditional) pick its class.

    The bank's pixels are a parameter (as logits) with ``reset_parameters``, so a
    re-initialised copy draws noise pictures: an untrained generator.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, num_classes: int = 0) -> None:
        super().__init__()
        self.latent_dim = 4
        self.num_classes = num_classes
        logits = torch.logit(images.clamp(0.02, 0.98))
        self.pixels = nn.Parameter(logits)  # (B, C, H, W)
        self.register_buffer("labels", labels.clone())

    def reset_parameters(self) -> None:
        nn.init.normal_(self.pixels)

    def noise(self, n: int, *, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        z = torch.rand(n, self.latent_dim, generator=g)
        labels = torch.arange(n) % self.num_classes if self.num_classes else None
        return z, labels

    @torch.no_grad()
    def generate(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        index = (noise[:, 0] * len(self.pixels)).long().clamp(max=len(self.pixels) - 1)
        if labels is not None:  # the i-th image of the class asked for
            picked = []
            for i, label in enumerate(labels.tolist()):
                of_class = (self.labels == label).nonzero().reshape(-1)
                picked.append(of_class[index[i] % len(of_class)])
            index = torch.stack(picked)
        return torch.sigmoid(self.pixels[index])


class Noise(nn.Module):
    """Uniform noise pictures whatever the noise."""

    latent_dim, num_classes = 4, 0

    def noise(self, n: int, *, seed: int = 0):
        return torch.rand(n, self.latent_dim, generator=torch.Generator().manual_seed(seed)), None

    def generate(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        g = torch.Generator().manual_seed(int(noise[0, 0] * 1e6))
        return torch.rand(len(noise), 1, 28, 28, generator=g)


def bank_of(prep: Prepared, *, only: int | None = None, conditional: bool = False) -> Bank:
    """A Bank of the training images (all, or those of class ``only``)."""
    x, y = prep.train["x"], prep.train["y"]
    if only is not None:
        x, y = x[y == only], y[y == only]
    return Bank(x, y, num_classes=10 if conditional else 0)
