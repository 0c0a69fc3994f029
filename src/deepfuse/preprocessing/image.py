"""Keras' image helpers: ``load_img``, ``img_to_array``, ``array_to_img``, ``save_img`` (Pillow).

Arrays are channels-last ``(H, W, C)`` as in Keras. ``array_to_img`` also takes the channels-first
``(C, H, W)`` images a deepfuse model computes (torch's layout): see :func:`array_to_img` for how
it tells them apart. The same functions are ``keras.utils.load_img`` etc. (Keras 3 names).

Example:
    >>> import numpy as np
    >>> img = array_to_img(np.linspace(0.0, 1.0, 2 * 3 * 3).reshape(2, 3, 3))  # floats in [0, 1]
    >>> img.mode, img.size
    ('RGB', (3, 2))
    >>> img_to_array(img).shape, float(img_to_array(img).max())
    ((2, 3, 3), 255.0)
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from deepfuse._utils.errors import DataError, UserError, invalid_choice
from deepfuse.data.images import check_image_size

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img"]

_COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
_CHANNELS = {1: "L", 3: "RGB", 4: "RGBA"}
_FORMATS = ("channels_last", "channels_first")


def _resampling(interpolation: str) -> Any:
    from PIL import Image

    filters = {
        "nearest": Image.Resampling.NEAREST,
        "bilinear": Image.Resampling.BILINEAR,
        "bicubic": Image.Resampling.BICUBIC,
        "hamming": Image.Resampling.HAMMING,
        "box": Image.Resampling.BOX,
        "area": Image.Resampling.BOX,  # tf's "area" averages the covered pixels, as BOX does
        "lanczos": Image.Resampling.LANCZOS,
    }
    if interpolation not in filters:
        raise invalid_choice("interpolation", interpolation, list(filters))
    return filters[interpolation]


def _check_format(data_format: str | None) -> str:
    data_format = data_format or "channels_last"
    if data_format not in _FORMATS:
        raise invalid_choice("data_format", data_format, _FORMATS)
    return data_format


def load_img(
    path: str | os.PathLike | io.BytesIO,
    color_mode: str = "rgb",
    target_size: tuple[int, int] | None = None,
    interpolation: str = "nearest",
    keep_aspect_ratio: bool = False,
) -> Any:
    """Load an image file as a Pillow image, like ``keras.utils.load_img``.

    Args:
        path: The file (or a ``BytesIO`` of its bytes).
        color_mode: ``"rgb"``, ``"grayscale"`` or ``"rgba"``.
        target_size: ``(height, width)`` to resize to, or ``None`` to keep the size.
        interpolation: Pillow's filter: ``"nearest"`` (Keras' default here), ``"bilinear"``,
            ``"bicubic"``, ``"hamming"``, ``"box"``/``"area"``, ``"lanczos"``.
        keep_aspect_ratio: Crop the centre to ``target_size``'s aspect ratio before resizing.

    Returns:
        A ``PIL.Image.Image``.

    Raises:
        DataError: The file is missing, not an image, or over deepfuse's image size limits.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
        >>> save_img(path, np.zeros((4, 6, 3)))
        >>> load_img(path, color_mode="grayscale", target_size=(2, 3)).size
        (3, 2)
    """
    from PIL import Image, UnidentifiedImageError

    if color_mode not in _COLOR_MODES:
        raise invalid_choice("color_mode", color_mode, list(_COLOR_MODES))
    resample = None if target_size is None else _resampling(interpolation)  # checked first
    label = path if isinstance(path, str | os.PathLike) else "<bytes>"
    try:
        if isinstance(path, str | os.PathLike):
            check_image_size(label, nbytes=os.path.getsize(path))
            with open(path, "rb") as fh:
                data = io.BytesIO(fh.read())
        else:
            data = path
        img = Image.open(data)
        check_image_size(label, img=img)  # from the header, before decoding
        img.load()
    except FileNotFoundError as err:
        raise DataError(f"Image file '{label}' does not exist. Check the path.") from err
    except UnidentifiedImageError as err:
        raise DataError(
            f"'{label}' is not an image Pillow can read (or the file is damaged)."
        ) from err
    mode = _COLOR_MODES[color_mode]
    if img.mode != mode and not (mode == "L" and img.mode in ("I;16", "I")):
        img = img.convert(mode)
    if target_size is not None:
        height, width = int(target_size[0]), int(target_size[1])
        box = None
        if keep_aspect_ratio:  # the largest centred crop with the target's aspect ratio
            w, h = img.size
            crop_h = min(h, (w * height) // width)
            crop_w = min(w, (h * width) // height)
            top, left = (h - crop_h) // 2, (w - crop_w) // 2
            box = (left, top, left + crop_w, top + crop_h)
        if img.size != (width, height) or box is not None:
            img = img.resize((width, height), resample, box=box)
    return img


def img_to_array(img: Any, data_format: str | None = None, dtype: str | None = None) -> np.ndarray:
    """A Pillow image as a float32 array ``(H, W, C)`` of its pixel values (0..255).

    Args:
        img: A ``PIL.Image.Image``.
        data_format: ``"channels_last"`` (default, Keras) or ``"channels_first"`` ``(C, H, W)``.
        dtype: Output dtype (default float32).

    Example:
        >>> from PIL import Image
        >>> img_to_array(Image.new("L", (5, 4), 7)).shape
        (4, 5, 1)
    """
    data_format = _check_format(data_format)
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:  # grayscale: (H, W) -> (H, W, 1)
        x = x[:, :, None]
    elif x.ndim != 3:
        raise DataError(
            f"img_to_array got an image of shape {x.shape}; expected (H, W) or (H, W, C)."
        )
    return x.transpose(2, 0, 1).copy() if data_format == "channels_first" else x


def _channels_first(x: Any, shape: tuple[int, ...]) -> bool:
    """Whether a 3-D image is ``(C, H, W)``: torch tensors (what deepfuse models compute) are
    channels-first when their first axis is 1, 3 or 4; arrays are channels-last (Keras) when
    their last axis is 1, 3 or 4, else channels-first when their first axis is."""
    first, last = shape[0] in _CHANNELS, shape[-1] in _CHANNELS
    if type(x).__module__.startswith("torch"):
        return first
    return first and not last


def array_to_img(
    x: Any, data_format: str | None = None, scale: bool = True, dtype: str | None = None
) -> Any:
    """An image array (or tensor) as a Pillow image, like ``keras.utils.array_to_img``.

    Layout: ``data_format`` says it when given. Otherwise a torch tensor (a deepfuse model's
    output, channels-first) is read as ``(C, H, W)`` when its first axis is 1, 3 or 4, and an
    array as Keras' ``(H, W, C)`` when its last axis is 1, 3 or 4 (else ``(C, H, W)`` when its
    first is). A 2-D array is one grayscale channel. 1, 3 and 4 channels give L, RGB, RGBA.

    Args:
        x: ``(H, W, C)``, ``(C, H, W)`` or ``(H, W)`` numbers (numpy array or torch tensor).
        data_format: ``"channels_last"`` or ``"channels_first"``; ``None`` decides as above.
        scale: Stretch the values to 0..255 (``x - min``, then ``* 255 / max``), as Keras does;
            ``False`` casts them to uint8 as they are.
        dtype: Ignored (Keras' compute dtype); accepted so Keras calls run.

    Raises:
        UserError: A shape or channel count that is no image.

    Example:
        >>> import torch
        >>> array_to_img(torch.zeros(1, 28, 28)).size, array_to_img(np.zeros((28, 28, 1))).mode
        ((28, 28), 'L')
    """
    from PIL import Image

    arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)  # tensor or array
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise UserError(
            f"array_to_img needs one image of shape (H, W, C), (C, H, W) or (H, W); got {arr.shape}. "
            "For a batch, pass one image: x[i]."
        )
    if data_format is not None:
        first = _check_format(data_format) == "channels_first"
    else:
        first = _channels_first(x, arr.shape)
    if first:
        arr = arr.transpose(1, 2, 0)
    if arr.shape[-1] not in _CHANNELS:
        raise UserError(
            f"array_to_img got an image with {arr.shape[-1]} channels (shape {arr.shape} as H, W, C); "
            "expected 1, 3 or 4. Pass data_format= if the layout was guessed wrong."
        )
    arr = arr.astype(np.float64)
    if scale:
        arr = arr - arr.min()
        peak = arr.max()
        if peak != 0:
            arr = arr / peak
        arr = arr * 255
    pixels = np.clip(arr, 0, 255).astype(np.uint8)
    mode = _CHANNELS[pixels.shape[-1]]
    return Image.fromarray(pixels[:, :, 0] if mode == "L" else pixels, mode=mode)


def save_img(
    path: str | os.PathLike | io.BytesIO,
    x: Any,
    data_format: str | None = None,
    file_format: str | None = None,
    scale: bool = True,
    **kwargs: Any,
) -> None:
    """Save an image array (or tensor) to a file, like ``keras.utils.save_img``.

    Args:
        path: The file to write (its suffix picks the format unless ``file_format`` is given).
        x: What :func:`array_to_img` takes.
        data_format: See :func:`array_to_img`.
        file_format: Pillow's format name (``"png"``, ``"jpeg"``, ...).
        scale: See :func:`array_to_img`.
        **kwargs: Passed to ``PIL.Image.Image.save`` (e.g. ``quality=90``).

    Example:
        >>> buf = io.BytesIO(); save_img(buf, np.ones((2, 2, 3)), file_format="png")
        >>> buf.getvalue()[:4]
        b'\\x89PNG'
    """
    img = array_to_img(x, data_format=data_format, scale=scale)
    suffix = (
        os.path.splitext(os.fspath(path))[1].lower() if isinstance(path, str | os.PathLike) else ""
    )
    if img.mode == "RGBA" and (file_format or suffix.lstrip(".")).lower() in ("jpg", "jpeg"):
        img = img.convert("RGB")  # JPEG has no alpha channel (Keras does the same, with a warning)
    img.save(path, format=file_format, **kwargs)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    fix = "see deepfuse.preprocessing.image.__all__ for what is there"
    if name == "ImageDataGenerator":
        fix = (
            "use keras.utils.image_dataset_from_directory for folders, or arrays with fit(); "
            "augment with torchvision.transforms.v2 in a torch DataLoader"
        )
    raise AttributeError(f"keras.preprocessing.image.{name} is not provided by deepfuse; {fix}")
