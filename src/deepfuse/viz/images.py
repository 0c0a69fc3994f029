"""A grid of images: samples of a generative model, filters, misclassified examples.

Example:
    >>> import numpy as np
    >>> from deepfuse.viz import plot_image_grid
    >>> fig = plot_image_grid(np.random.rand(6, 8, 8), titles=list("abcdef"), ncols=3)
    >>> [ax.get_title() for ax in fig.axes][:3]
    ['a', 'b', 'c']
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepfuse._utils.errors import DataError, format_message
from deepfuse.viz._modules import to_numpy
from deepfuse.viz.plots import _pyplot, _save

__all__ = ["as_images", "plot_image_grid"]


def as_images(images: Any, *, name: str = "images") -> np.ndarray:
    """``images`` as float ``(N, H, W)`` (grey) or ``(N, H, W, 3)`` (RGB), values unchanged.

    Takes ``(N, H, W)``, ``(N, 1|3, H, W)`` (torch layout) or ``(N, H, W, 1|3)`` (Keras layout);
    ``uint8`` images are divided by 255.
    """
    a = to_numpy(images, name=name)
    if a.dtype == np.uint8:
        a = a / 255.0
    a = a.astype(np.float64, copy=False)
    if a.ndim == 4 and a.shape[1] in (1, 3):
        a = a.transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C); wins when both could fit
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 3 or (a.ndim == 4 and a.shape[-1] == 3)) or a.shape[0] == 0:
        raise DataError(
            format_message(
                f"Cannot show '{name}' as a grid of images.",
                expected="a non-empty array of shape (N, H, W), (N, 1, H, W), (N, 3, H, W) "
                "or (N, H, W, 1|3)",
                got=tuple(a.shape),
            )
        )
    return a


def _unit_range(image: np.ndarray, normalize: bool) -> tuple[np.ndarray, float, float]:
    """(image to draw, vmin, vmax): kept as is when already in [0, 1], else min-max scaled."""
    lo, hi = float(np.nanmin(image)), float(np.nanmax(image))
    if not normalize and lo >= 0.0 and hi <= 1.0:
        return image, 0.0, 1.0
    if image.ndim == 2:  # grey: keep the values, stretch the colour map instead
        return image, lo, (hi if hi > lo else lo + 1.0)
    span = hi - lo if hi > lo else 1.0  # RGB: imshow needs [0, 1], so rescale the pixels
    return (image - lo) / span, 0.0, 1.0


def plot_image_grid(
    images: Any,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    normalize: bool = False,
) -> Any:
    """Images in a grid, one small panel each, with an optional caption per image.

    Grey images are drawn with their own values (``ax.images[0].get_array()`` is the image) and
    a grey colour map stretched to the image's min-max when its values leave ``[0, 1]``; RGB
    images outside ``[0, 1]`` are min-max scaled per image.

    Args:
        images: ``(N, H, W)``, ``(N, 1, H, W)``, ``(N, 3, H, W)`` or ``(N, H, W, 1|3)``; numpy
            or torch; any value range (``uint8`` is read as 0-255).
        titles: One caption per image (optional).
        ncols: Images per row.
        path: Where to save the figure (optional; ``.png``, ``.svg``, ``.pdf``).
        title: A title over the whole grid (optional).
        normalize: Min-max scale every image, even those already in ``[0, 1]``.

    Returns:
        The ``matplotlib.figure.Figure``; its first ``N`` axes are the images, in order.

    Raises:
        DataError: ``images`` is not a batch of images, or ``titles`` has the wrong length.
    """
    plt = _pyplot()
    a = as_images(images)
    n = a.shape[0]
    if titles is not None and len(titles) != n:
        raise DataError(
            f"plot_image_grid got {n} images but {len(titles)} titles; pass one title per image."
        )
    if not isinstance(ncols, int) or ncols < 1:
        raise DataError(format_message("'ncols' must be a positive int.", got=ncols))
    cols = min(ncols, n)
    rows = math.ceil(n / cols)
    cell = 1.3  # inches per image
    # Room above each image for its caption (square images leave none on their own).
    lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles is not None else 0
    row_height = cell + 0.18 * lines + 0.1
    fig, axes = plt.subplots(
        rows, cols, figsize=(cell * cols, row_height * rows + (0.4 if title else 0)), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        image, vmin, vmax = _unit_range(a[i], normalize)
        if image.ndim == 2:
            ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax)
        else:
            ax.imshow(image)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
