"""Image-path columns: decode with Pillow into ``float32`` ``(N, C, H, W)`` in ``[0, 1]``.

Example:
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from deepfuse.data.images import ImageEncoder
    >>> d = tempfile.mkdtemp(); Image.new("RGB", (8, 6)).save(os.path.join(d, "a.png"))
    >>> enc = ImageEncoder("img").fit(["a.png"], base_dir=d)
    >>> enc.transform(["a.png", None], base_dir=d).shape      # missing path -> zeros
    (2, 3, 6, 8)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepfuse._utils.errors import DataError
from deepfuse.data.columns import as_string

__all__ = ["MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS", "ImageEncoder", "check_image_size"]

MAX_SIDE = 256  # automatic size: the first training image's, each side capped at this
# The largest image file read (encoded bytes), checked before a byte of it is read: 64 MiB.
MAX_IMAGE_BYTES = 64 << 20
# The most pixels decoded from one image: Pillow's decompression-bomb limit (about 89.5 M,
# e.g. 9459 x 9459), checked from the header before decoding, whatever PIL.Image says.
MAX_IMAGE_PIXELS = 89_478_485


def check_image_size(label: object, nbytes: int | None = None, img: Any = None) -> None:
    """Refuse an image file over :data:`MAX_IMAGE_BYTES` or an image over :data:`MAX_IMAGE_PIXELS`.

    Call it with the file size before reading, and with the opened (not yet decoded) Pillow
    image before ``load()``.

    Raises:
        DataError: The file or the image is too large (the message names it and the limit).

    Example:
        >>> check_image_size("big.png", nbytes=1 << 30)
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: Image 'big.png' is 1,073,741,824 bytes, over the limit of 67,108,864 bytes per image file. ...
    """
    if nbytes is not None and nbytes > MAX_IMAGE_BYTES:
        raise DataError(
            f"Image '{label}' is {nbytes:,} bytes, over the limit of {MAX_IMAGE_BYTES:,} bytes "
            "per image file. Resize it, or remove it from the folder."
        )
    if img is not None and img.size[0] * img.size[1] > MAX_IMAGE_PIXELS:
        w, h = img.size
        raise DataError(
            f"Image '{label}' is {w} x {h} pixels, over the limit of {MAX_IMAGE_PIXELS:,} pixels "
            "(a decompression bomb, or a scan to resize first)."
        )


def _paths(col: Any) -> list[str | None]:
    if isinstance(col, list | tuple):
        return list(col)
    return as_string(col).to_pylist()


class ImageEncoder:
    """Load image files named in a column, resized to one ``size`` and ``channels``.

    Args:
        name: Column name (for error messages).
        size: ``[H, W]``; ``None`` takes the first training image's size (sides capped at 256).
        channels: 1 (grayscale) or 3 (RGB); ``None`` takes 1 if the first image is grayscale, else 3.
    """

    def __init__(
        self, name: str, size: list[int] | None = None, channels: int | None = None
    ) -> None:
        if channels not in (None, 1, 3):
            raise DataError(f"Image column '{name}': channels must be 1 or 3; got {channels!r}.")
        self.name = name
        self.size = None if size is None else [int(s) for s in size]
        self.channels = channels

    def _open(self, path: str, row: int, base: Path):
        from PIL import Image, UnidentifiedImageError

        p = Path(path).expanduser()
        p = p if p.is_absolute() else base / p
        try:
            check_image_size(p, nbytes=p.stat().st_size)
            img = Image.open(p)
            check_image_size(p, img=img)
            return img
        except FileNotFoundError:
            raise DataError(
                f"Image column '{self.name}', row {row}: file '{p}' does not exist."
            ) from None
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(
                f"Image column '{self.name}', row {row}: cannot decode '{p}' ({e})."
            ) from None

    def fit(self, col: Any, *, base_dir: str | Path | None = None) -> ImageEncoder:
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        paths = _paths(col)
        first = next(((i, p) for i, p in enumerate(paths) if p), None)
        if first is None:
            raise DataError(f"Image column '{self.name}' has no paths; expected image file names.")
        with self._open(first[1], first[0] + 1, base) as img:
            if self.channels is None:
                self.channels = 1 if img.mode in ("1", "L", "I", "I;16", "F") else 3
            if self.size is None:
                w, h = img.size
                self.size = [min(h, MAX_SIDE), min(w, MAX_SIDE)]
        return self

    def transform(self, col: Any, *, base_dir: str | Path | None = None) -> np.ndarray:
        from PIL import Image

        base = Path(base_dir) if base_dir is not None else Path.cwd()
        paths = _paths(col)
        h, w = self.size
        out = np.zeros((len(paths), self.channels, h, w), dtype=np.float32)
        mode = "L" if self.channels == 1 else "RGB"
        for i, path in enumerate(paths):  # decoding is per file; nothing to vectorise
            if not path:
                continue  # missing path -> all-zero image
            with self._open(path, i + 1, base) as img:
                img = img.convert(mode)
                if img.size != (w, h):
                    img = img.resize((w, h), Image.BILINEAR)
                arr = np.asarray(img, dtype=np.float32) / 255.0
            out[i] = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)  # HWC -> CHW
        return out

    def stats(self) -> dict[str, Any]:
        return {"shape": [self.channels, *(self.size or [])]}

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "channels": self.channels}
