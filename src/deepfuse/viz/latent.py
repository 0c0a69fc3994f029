"""Looking at a model that reconstructs (an autoencoder, a VAE): inputs above their
reconstructions, latent codes, and walks through the latent space between two inputs.

Everything here uses only the :class:`~deepfuse.models.generative.Reconstructor` protocol
(``encode``, ``decode``, ``reconstruct``), runs the model in eval mode without gradients (modes
restored afterwards) and leaves the global random streams as they were, so drawing these in the
middle of a training run changes nothing of the run. Grids are pixel grids
(:func:`~deepfuse.viz.tiles.tile_images`), written with
:func:`~deepfuse.viz.tiles.save_image_grid` when a ``path`` is given.

A ``batch`` is what the model's ``encode`` takes: a tensor of images ``(N, C, H, W)`` or a
``dict[str, Tensor]`` batch (a table's encoded features), whose rows are sliced together.

Example:
    >>> import torch
    >>> from deepfuse.viz import interpolation_grid, plot_reconstructions
    >>> class RowMeans(torch.nn.Module):   # a toy autoencoder: each pixel row's mean
    ...     latent_dim = 4
    ...     def encode(self, x): return x.mean(dim=3).flatten(1)           # (N, 4)
    ...     def decode(self, z): return z[:, None, :, None].expand(-1, 1, 4, 4)
    ...     def reconstruct(self, x): return self.decode(self.encode(x))
    >>> x = torch.rand(6, 1, 4, 4)
    >>> plot_reconstructions(x, RowMeans().reconstruct(x), ncols=3).shape  # 4 rows x 3 of 4px
    (26, 20)
    >>> tuple(interpolation_grid(RowMeans(), x[:2], x[2:4], steps=5).shape)  # 2 pairs x 5 steps
    (10, 1, 4, 4)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from deepfuse._utils.errors import DataError, format_message
from deepfuse.training.checkpoint import isolated_rng
from deepfuse.viz._modules import inspecting, to_numpy
from deepfuse.viz.tiles import save_image_grid, tile_images

__all__ = [
    "interpolation_grid",
    "latent_codes",
    "plot_reconstructions",
    "quietly",
    "reconstruction_pairs",
]


def _n_rows(batch: Any) -> int:
    if isinstance(batch, Mapping):
        return int(next(iter(batch.values())).shape[0])
    return int(batch.shape[0])


def _slice(batch: Any, start: int, stop: int) -> Any:
    if isinstance(batch, Mapping):
        return {k: v[start:stop] for k, v in batch.items()}
    return batch[start:stop]


@contextlib.contextmanager
def quietly(model: Any) -> Iterator[None]:
    """Eval mode, no gradients, the global random state restored afterwards (a model that
    draws noise in ``encode`` must not shift a training run's stream)."""
    with isolated_rng():
        if isinstance(model, torch.nn.Module):
            with inspecting(model):
                yield
        else:
            with torch.no_grad():
                yield


def latent_codes(model: Any, batch: Any, *, batch_size: int = 256) -> torch.Tensor:
    """``model.encode`` of every row of ``batch``, ``batch_size`` rows at a time.

    Returns:
        ``(N, latent_dim)`` float CPU tensor (a VAE: the posterior means).
    """
    n = _n_rows(batch)
    if n == 0:
        raise DataError("latent_codes got no rows.")
    codes = []
    with quietly(model):
        for start in range(0, n, batch_size):
            z = model.encode(_slice(batch, start, start + batch_size))
            codes.append(z.detach().float().reshape(len(z), -1).cpu())  # (B, latent_dim)
    return torch.cat(codes)


def reconstruction_pairs(originals: Any, reconstructions: Any, *, ncols: int = 8) -> np.ndarray:
    """The images in the order that tiles ``ncols`` originals above their ``ncols``
    reconstructions, row pair after row pair: ``(2N, ...)`` (a short last pair padded with
    black images, so each reconstruction sits under its original)."""
    a, b = to_numpy(originals, name="originals"), to_numpy(reconstructions, name="reconstructions")
    if a.shape != b.shape:
        raise DataError(
            format_message(
                "Originals and reconstructions must have the same shape.",
                expected=tuple(a.shape),
                got=tuple(b.shape),
                fix="Pass images as the model reconstructs them, e.g. model.reconstruct(x).",
            )
        )
    if a.dtype == np.uint8:  # both on the [0, 1] scale of the model's images
        a = a / 255.0
    if b.dtype == np.uint8:
        b = b / 255.0
    n = len(a)
    pad = (-n) % ncols
    if pad:
        blank = np.zeros((pad, *a.shape[1:]))
        a, b = np.concatenate([a, blank]), np.concatenate([b, blank])
    rows = []
    for start in range(0, len(a), ncols):  # (ncols originals, then their ncols reconstructions)
        rows += [a[start : start + ncols], b[start : start + ncols]]
    return np.concatenate(rows)


def plot_reconstructions(
    originals: Any,
    reconstructions: Any,
    *,
    ncols: int = 8,
    path: str | os.PathLike | None = None,
) -> np.ndarray:
    """A pixel grid of images above their reconstructions.

    Args:
        originals: ``N`` images, ``(N, H, W)``, ``(N, 1|3, H, W)`` or ``(N, H, W, 1|3)`` in
            ``[0, 1]`` (``uint8``: 0-255).
        reconstructions: The model's reconstructions of them, the same shape (e.g.
            ``model.reconstruct(batch)``).
        ncols: Images per row: each row of originals is followed by the row of their
            reconstructions.
        path: Where to write the grid as a PNG (optional; pixels enlarged 2x).

    Returns:
        The grid as ``uint8`` pixels (what :func:`~deepfuse.viz.tiles.tile_images` returns).

    Example:
        >>> import numpy as np
        >>> plot_reconstructions(np.ones((8, 5, 5)), np.zeros((8, 5, 5)), ncols=4).shape
        (30, 30)
    """
    images = reconstruction_pairs(originals, reconstructions, ncols=ncols)
    if path is not None:
        save_image_grid(images, path, ncols=ncols)
    return tile_images(images, ncols=ncols)


def interpolation_grid(model: Any, start: Any, end: Any, *, steps: int = 8) -> torch.Tensor:
    """Decoded points on the straight line between the latent codes of ``start`` and ``end``.

    Row ``i`` of ``start`` is paired with row ``i`` of ``end``; ``steps`` points from one code
    to the other (both ends included) are decoded. Tile the result with ``ncols=steps`` to get
    one pair per row (:func:`~deepfuse.viz.tiles.save_image_grid`).

    Args:
        model: A :class:`~deepfuse.models.generative.Reconstructor` with image outputs.
        start: A batch of ``P`` rows, as ``model.encode`` takes it.
        end: A batch of ``P`` rows.
        steps: Points per pair, at least 2.

    Returns:
        ``(P * steps, C, H, W)`` images, pair after pair (CPU, float).

    Example:
        >>> import torch
        >>> class Linear1D(torch.nn.Module):
        ...     def encode(self, x): return x.flatten(1)
        ...     def decode(self, z): return z.reshape(-1, 1, 1, 1)
        >>> interpolation_grid(Linear1D(), torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1),
        ...                    steps=3).flatten().tolist()
        [0.0, 0.5, 1.0]
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise DataError(format_message("'steps' must be an int of at least 2.", got=steps))
    if _n_rows(start) != _n_rows(end):
        raise DataError(
            f"interpolation_grid pairs rows of start and end: got {_n_rows(start)} and "
            f"{_n_rows(end)} rows."
        )
    za, zb = latent_codes(model, start), latent_codes(model, end)  # (P, D) each
    t = torch.linspace(0.0, 1.0, steps)[None, :, None]  # (1, steps, 1)
    z = za[:, None, :] * (1.0 - t) + zb[:, None, :] * t  # (P, steps, D)
    with quietly(model):
        images = model.decode(z.reshape(-1, za.shape[1]))  # (P * steps, C, H, W)
    return images.detach().float().cpu()
