"""Spatial resizing layers: UpSampling, ZeroPadding and Cropping, 1-D and 2-D.

2-D layers take NCHW images (Keras' arguments are spatial only, so nothing needs translating);
1-D layers take Keras sequences ``(N, steps, features)``. ``data_format`` accepts Keras'
``"channels_last"`` (the default: images were converted to NCHW when data entered the model)
and ``"channels_first"``; both run the same NCHW code.

Example:
    >>> import torch
    >>> from deepfuse.layers import Cropping2D, UpSampling2D, ZeroPadding2D
    >>> x = torch.zeros(1, 8, 7, 7)
    >>> UpSampling2D()(x).shape
    torch.Size([1, 8, 14, 14])
    >>> ZeroPadding2D(((1, 2), (3, 4)))(x).shape
    torch.Size([1, 8, 10, 14])
    >>> Cropping2D(((1, 0), (2, 2)))(x).shape
    torch.Size([1, 8, 6, 3])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.layers.base import Layer, channels_first_shape, check_choice, int_tuple
from deepfuse.layers.keras_api import check_data_format

__all__ = [
    "Cropping1D",
    "Cropping2D",
    "UpSampling1D",
    "UpSampling2D",
    "ZeroPadding1D",
    "ZeroPadding2D",
]


def pairs(layer: str, arg: str, value: Any, rank: int) -> tuple[tuple[int, int], ...]:
    """Keras' padding/cropping forms -> ``rank`` ``(before, after)`` pairs.

    An int ``n`` (all sides), ``(a, b)`` (1-D: before/after; 2-D: symmetric height/width), or
    ``((top, bottom), (left, right))`` (2-D).
    """

    def ok(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    out: Any = None
    if ok(value):
        out = ((value, value),) * rank
    elif isinstance(value, list | tuple) and rank == 1 and len(value) == 2:
        out = (tuple(value),)
    elif isinstance(value, list | tuple) and len(value) == rank:
        out = tuple(
            (v, v) if ok(v) else tuple(v) if isinstance(v, list | tuple) else () for v in value
        )
    if out is None or not all(len(p) == 2 and ok(p[0]) and ok(p[1]) for p in out):
        forms = (
            "an int or (before, after)"
            if rank == 1
            else "an int, (h, w) or ((top, bottom), (left, right))"
        )
        raise ConfigError(
            f"The '{arg}' argument of {layer} must be {forms} of non-negative ints; got {value!r}."
        )
    return tuple((int(a), int(b)) for a, b in out)


class _Spatial(Layer):
    """Weightless layer on NCHW (rank 2) or ``(N, steps, features)`` (rank 1) tensors."""

    rank = 2

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.expected_ndim = (self.rank + 2,)
        if self.rank == 2:
            check_data_format(type(self).__name__, data_format)
        elif data_format is not None:
            raise ConfigError(f"{type(self).__name__} takes no 'data_format' argument.")
        self.built = True

    @property
    def torch_input_shape(self) -> tuple[int, ...] | None:
        return channels_first_shape(self.input_shape) if self.rank == 2 else self.input_shape

    def _expected_layout(self) -> str:
        return "(batch, channels, height, width)" if self.rank == 2 else "(batch, steps, features)"

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != self.rank + 2:
            raise DataError(self._shape_message(tuple(x.shape)))


class UpSampling2D(_Spatial):
    """Repeat rows and columns ``size`` times (``"nearest"``) or resize bilinearly.

    ``"bilinear"`` uses half-pixel centres like ``tf.image.resize`` (``align_corners=False``).

    Example:
        >>> import torch
        >>> UpSampling2D((2, 3))(torch.zeros(1, 1, 2, 2)).shape
        torch.Size([1, 1, 4, 6])
    """

    def __init__(self, size: Any = (2, 2), interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = int_tuple("UpSampling2D", "size", size, 2)
        self.interpolation = check_choice(
            "UpSampling2D", "interpolation", interpolation, ("nearest", "bilinear")
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        if self.interpolation == "nearest":
            return x.repeat_interleave(self.size[0], 2).repeat_interleave(self.size[1], 3)
        size = (x.shape[2] * self.size[0], x.shape[3] * self.size[1])
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "size": list(self.size),
            "interpolation": self.interpolation,
        }


class UpSampling1D(_Spatial):
    """Repeat each step ``size`` times: ``(N, steps, F) -> (N, steps*size, F)``.

    Example:
        >>> import torch
        >>> UpSampling1D(2)(torch.tensor([[[1.0], [2.0]]])).flatten().tolist()
        [1.0, 1.0, 2.0, 2.0]
    """

    rank = 1

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = int_tuple("UpSampling1D", "size", size, 1)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return x.repeat_interleave(self.size, 1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size}


class ZeroPadding2D(_Spatial):
    """Pad images with zeros: ``padding`` is ``n``, ``(h, w)`` or ``((top, bottom), (left, right))``.

    Example:
        >>> import torch
        >>> ZeroPadding2D((1, 2))(torch.zeros(1, 3, 4, 4)).shape
        torch.Size([1, 3, 6, 8])
    """

    def __init__(self, padding: Any = (1, 1), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = pairs("ZeroPadding2D", "padding", padding, 2)
        (top, bottom), (left, right) = self.padding
        self._pads = (left, right, top, bottom)  # F.pad order: last axis first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return F.pad(x, self._pads)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}


class ZeroPadding1D(_Spatial):
    """Pad sequences with zero steps: ``padding`` is ``n`` or ``(before, after)``.

    Example:
        >>> import torch
        >>> ZeroPadding1D((1, 2))(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 8, 3])
    """

    rank = 1

    def __init__(self, padding: Any = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = pairs("ZeroPadding1D", "padding", padding, 1)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return F.pad(x, (0, 0, *self.padding))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": list(self.padding)}


class Cropping2D(_Spatial):
    """Crop image borders: ``cropping`` is ``n``, ``(h, w)`` or ``((top, bottom), (left, right))``.

    Example:
        >>> import torch
        >>> Cropping2D(1)(torch.zeros(1, 3, 5, 5)).shape
        torch.Size([1, 3, 3, 3])
    """

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cropping = pairs("Cropping2D", "cropping", cropping, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        (t, b), (left, right) = self.cropping
        h, w = x.shape[2], x.shape[3]
        if t + b >= h or left + right >= w:
            raise DataError(
                f"Cropping2D '{self.name}' crops {self.cropping} from images of size {h}x{w}, "
                "leaving nothing. Crop less."
            )
        return x[:, :, t : h - b, left : w - right]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping]}


class Cropping1D(_Spatial):
    """Crop steps from both ends of ``(N, steps, F)``: ``cropping`` is ``n`` or ``(before, after)``.

    Example:
        >>> import torch
        >>> Cropping1D((1, 2))(torch.zeros(2, 10, 3)).shape
        torch.Size([2, 7, 3])
    """

    rank = 1

    def __init__(self, cropping: Any = (1, 1), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cropping = pairs("Cropping1D", "cropping", cropping, 1)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        a, b = self.cropping
        if a + b >= x.shape[1]:
            raise DataError(
                f"Cropping1D '{self.name}' crops {self.cropping} from {x.shape[1]} steps, "
                "leaving nothing. Crop less."
            )
        return x[:, a : x.shape[1] - b]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cropping": list(self.cropping)}
