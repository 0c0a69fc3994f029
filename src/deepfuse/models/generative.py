"""What the generative and anomaly tasks ask of a model: two small protocols.

* :class:`Generator` - draws samples from noise: GANs (:mod:`deepfuse.models.zoo.gan`) and VAEs.
  Sample grids, ``deepfuse sample`` and the classifier-feature Fréchet distance use only this.
* :class:`Reconstructor` - encodes, decodes and scores rows: autoencoders and VAEs
  (:mod:`deepfuse.models.zoo.autoencoder`). Reconstruction grids, latent projections and
  ``task: anomaly`` use only this.

Images are ``(N, C, H, W)`` float tensors in ``[0, 1]`` on both sides (the built-in image
routes' convention); table rows are the model's own input batch (``dict[str, Tensor]``).

Example:
    >>> import torch
    >>> class Noise2Image(torch.nn.Module):
    ...     latent_dim, num_classes = 4, 0
    ...     def noise(self, n, *, seed=0):
    ...         g = torch.Generator().manual_seed(seed)
    ...         return torch.randn(n, self.latent_dim, generator=g), None
    ...     def generate(self, noise, labels=None):
    ...         return torch.sigmoid(noise[:, :1, None, None].expand(-1, 1, 8, 8))
    >>> g = Noise2Image()
    >>> isinstance(g, Generator), tuple(g.generate(*g.noise(3)).shape)
    (True, (3, 1, 8, 8))
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

__all__ = ["Generator", "Reconstructor"]


@runtime_checkable
class Generator(Protocol):
    """A model that turns noise (and, when conditional, class labels) into samples.

    Attributes:
        latent_dim: Width of one noise vector.
        num_classes: Number of classes a conditional model takes (0: unconditional).
    """

    latent_dim: int
    num_classes: int

    def noise(self, n: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` noise vectors ``(n, latent_dim)`` drawn from a generator seeded with ``seed``
        (the same seed gives the same noise: the fixed grid of every epoch), and for a
        conditional model labels ``(n,)`` cycling over the classes (else ``None``). Never
        touches the global random state (a training run's stream stays exact)."""
        ...

    def generate(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Samples for ``noise`` in eval mode, no gradients: images ``(N, C, H, W)`` in
        ``[0, 1]``."""
        ...


@runtime_checkable
class Reconstructor(Protocol):
    """A model that encodes inputs to a latent space and reconstructs them.

    Attributes:
        latent_dim: Width of the latent code.
    """

    latent_dim: int

    def encode(self, batch: Any) -> torch.Tensor:
        """Latent codes ``(N, latent_dim)`` of a batch (a VAE: the posterior means)."""
        ...

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstructions of codes, in the input's own space (images ``(N, C, H, W)`` in
        ``[0, 1]``; tables: the model's encoded feature vector)."""
        ...

    def reconstruct(self, batch: Any) -> torch.Tensor:
        """``decode(encode(batch))``, in the space :meth:`decode` returns."""
        ...

    def anomaly_score(self, batch: Any) -> torch.Tensor:
        """``(N,)`` scores, higher = less like the training rows (reconstruction error; a VAE:
        the negative ELBO)."""
        ...
