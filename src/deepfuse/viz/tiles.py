"""Images tiled into one picture, pixel for pixel: the sample grids of generative runs.

:func:`plot_image_grid` draws captioned panels with matplotlib; a generator's grid of 64 samples
every epoch wants none of that, only the pixels side by side, quickly (a few milliseconds, no
figure) and in a file small enough to keep one per epoch.

Example:
    >>> import numpy as np, tempfile, os
    >>> tiles = tile_images(np.ones((5, 1, 4, 4)), ncols=3, pad=1)
    >>> tiles.shape, tiles.dtype                      # 2 rows x 3 cols of 4px + 1px gaps
    ((11, 16), dtype('uint8'))
    >>> path = save_image_grid(np.zeros((4, 8, 8)), os.path.join(tempfile.mkdtemp(), "g.png"))
    >>> path.suffix
    '.png'
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from deepfuse._utils.errors import DataError, format_message
from deepfuse.viz.images import as_images

__all__ = ["save_image_grid", "tile_images"]


def tile_images(images: Any, *, ncols: int = 8, pad: int = 2) -> np.ndarray:
    """``N`` images on one canvas, row by row, ``pad`` pixels of black between them.

    Args:
        images: ``(N, H, W)``, ``(N, 1|3, H, W)`` or ``(N, H, W, 1|3)`` with values in ``[0, 1]``
            (``uint8``: 0-255); values outside are clipped.
        ncols: Images per row (fewer when ``N`` is smaller).
        pad: Gap in pixels between images and around the border.

    Returns:
        ``uint8`` ``(rows*(H+pad)+pad, cols*(W+pad)+pad)`` for grey images, with ``(..., 3)`` for RGB.
    """
    if not isinstance(ncols, int) or ncols < 1:
        raise DataError(format_message("'ncols' must be a positive int.", got=ncols))
    a = np.clip(np.nan_to_num(as_images(images)), 0.0, 1.0)  # (N, H, W[, 3])
    n, h, w = a.shape[:3]
    cols = min(ncols, n)
    rows = math.ceil(n / cols)
    canvas = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, *a.shape[3:]))
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top : top + h, left : left + w] = a[i]
    return np.round(canvas * 255.0).astype(np.uint8)


def save_image_grid(
    images: Any, path: str | os.PathLike, *, ncols: int = 8, pad: int = 2, scale: int = 2
) -> Path:
    """Write :func:`tile_images` as a PNG (atomically), each pixel enlarged ``scale`` times.

    Returns:
        The path written.
    """
    from PIL import Image

    from deepfuse._utils.io import atomic_write

    tiles = tile_images(images, ncols=ncols, pad=pad)
    if scale > 1:  # nearest-neighbour: a 28px digit stays crisp
        tiles = tiles.repeat(scale, axis=0).repeat(scale, axis=1)
    path = Path(path)
    atomic_write(path, lambda tmp: Image.fromarray(tiles).save(tmp, format="PNG"))
    return path
