"""Image preprocessing, augmentation and noise layers (Keras names, NCHW images inside).

``Rescaling`` and ``Resizing`` always apply. The random layers (``RandomFlip``,
``RandomRotation``, ``GaussianNoise``, ``SpatialDropout1D/2D``) act only in training mode and
are the identity in eval mode (``model.predict``, ``layer.eval()``, ``training=False``), as in
Keras; they draw from torch's global RNG, so ``torch.manual_seed`` makes them repeatable.

Example:
    >>> import torch
    >>> from deepfuse.layers import RandomFlip, Rescaling
    >>> Rescaling(1 / 255)(torch.full((1, 1, 2, 2), 255.0)).flatten().tolist()
    [1.0, 1.0, 1.0, 1.0]
    >>> RandomFlip().eval()(torch.ones(1, 1, 2, 2)).shape
    torch.Size([1, 1, 2, 2])
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.layers.base import (
    Layer,
    channels_first_shape,
    check_choice,
    check_positive_int,
    check_rate,
)

__all__ = [
    "GaussianNoise",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "Rescaling",
    "Resizing",
    "SpatialDropout1D",
    "SpatialDropout2D",
]


# Keras fill_mode -> grid_sample padding_mode.
_FILL = {"reflect": "reflection", "constant": "zeros", "nearest": "border"}


def _factor_range(layer: str, arg: str, factor: Any) -> tuple[float, float]:
    """Keras' random factor: ``f`` means ``(-f, f)``; ``(lo, hi)`` is used as given."""
    lo, hi = (-factor, factor) if isinstance(factor, int | float) else tuple(factor)
    if not (isinstance(lo, int | float) and isinstance(hi, int | float) and lo <= hi):
        raise ConfigError(
            f"The '{arg}' argument of {layer} must be a number or (low, high); got {factor!r}."
        )
    return float(lo), float(hi)


def _sample_affine(x: torch.Tensor, theta: torch.Tensor, mode: str, fill: str) -> torch.Tensor:
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode=fill, align_corners=False)


class _Weightless(Layer):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("seed", None)  # Keras argument; deepfuse seeds globally (torch.manual_seed)
        super().__init__(**kwargs)
        self.built = True

    @property
    def torch_input_shape(self) -> tuple[int, ...] | None:
        """A declared Keras image shape ``(H, W, C)`` is fed as ``(C, H, W)``."""
        return channels_first_shape(self.input_shape)


class _Image(_Weightless):
    """Layer on NCHW images; a declared Keras ``input_shape`` (H, W, C) is converted."""

    expected_ndim = (4,)

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format is not None:
            check_choice(
                type(self).__name__, "data_format", data_format, ("channels_last", "channels_first")
            )

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise DataError(self._shape_message(tuple(x.shape)))

    def _expected_layout(self) -> str:
        return "(batch, channels, height, width)"


class Rescaling(_Weightless):
    """``x * scale + offset`` (e.g. ``Rescaling(1/255)`` or ``Rescaling(1/127.5, offset=-1)``).

    Example:
        >>> import torch
        >>> Rescaling(1 / 127.5, offset=-1)(torch.tensor([0.0, 255.0])).tolist()
        [-1.0, 1.0]
    """

    def __init__(self, scale: float, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for arg, v in (("scale", scale), ("offset", offset)):
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ConfigError(f"The '{arg}' argument of Rescaling must be a number; got {v!r}.")
        self.scale, self.offset = float(scale), float(offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x if x.is_floating_point() else x.float()
        return x * self.scale + self.offset

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Resizing(_Image):
    """Resize NCHW images to ``(height, width)``.

    ``"bilinear"`` (default) and ``"nearest"`` use half-pixel centres like ``tf.image.resize``
    (torch's ``align_corners=False`` and ``"nearest-exact"``); ``"area"`` averages.

    Example:
        >>> import torch
        >>> Resizing(4, 6)(torch.zeros(2, 3, 8, 8)).shape
        torch.Size([2, 3, 4, 6])
    """

    _MODES: ClassVar[dict[str, str]] = {
        "bilinear": "bilinear",
        "nearest": "nearest-exact",
        "area": "area",
    }

    def __init__(
        self,
        height: int,
        width: int,
        interpolation: str = "bilinear",
        crop_to_aspect_ratio: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.height = check_positive_int("Resizing", "height", height)
        self.width = check_positive_int("Resizing", "width", width)
        self.interpolation = check_choice(
            "Resizing", "interpolation", interpolation, tuple(self._MODES)
        )
        if crop_to_aspect_ratio:
            raise ConfigError(
                "Resizing(crop_to_aspect_ratio=True) is not supported; crop first with "
                "Cropping2D, then resize."
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        x = x if x.is_floating_point() else x.float()
        mode = self._MODES[self.interpolation]
        corners = False if mode == "bilinear" else None
        return F.interpolate(x, size=(self.height, self.width), mode=mode, align_corners=corners)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
        }


class RandomFlip(_Image):
    """Flip each image left-right and/or up-down with probability 1/2 (training only).

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> RandomFlip("horizontal")(torch.zeros(4, 3, 8, 8)).shape
        torch.Size([4, 3, 8, 8])
    """

    _MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode: str = "horizontal_and_vertical", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode = check_choice("RandomFlip", "mode", mode, self._MODES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        if not self.training:
            return x
        n = x.shape[0]
        if self.mode != "vertical":  # horizontal: reverse the width axis
            flip = torch.rand(n, device=x.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        if self.mode != "horizontal":
            flip = torch.rand(n, device=x.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(2), x)
        return x

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode}


class RandomRotation(_Image):
    """Rotate each image by a random angle (training only), counter-clockwise for positive angles.

    Args:
        factor: Fraction of a full turn: ``f`` draws from ``[-f, f] * 2pi``, ``(lo, hi)`` from
            ``[lo, hi] * 2pi``.
        fill_mode: ``"reflect"`` (Keras default), ``"constant"`` (zeros) or ``"nearest"``.
        interpolation: ``"bilinear"`` or ``"nearest"``.

    Example:
        >>> import torch
        >>> RandomRotation(0.1)(torch.zeros(2, 3, 8, 8)).shape
        torch.Size([2, 3, 8, 8])
    """

    def __init__(
        self,
        factor: float | tuple[float, float],
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        fill_value: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.factor = _factor_range("RandomRotation", "factor", factor)
        self.fill_mode = check_choice("RandomRotation", "fill_mode", fill_mode, tuple(_FILL))
        self.interpolation = check_choice(
            "RandomRotation", "interpolation", interpolation, ("bilinear", "nearest")
        )
        if fill_value != 0.0:
            raise ConfigError("RandomRotation supports fill_value=0.0 only (fill_mode='constant').")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        if not self.training:
            return x
        n, _, h, w = x.shape
        lo, hi = self.factor
        angle = (torch.rand(n, device=x.device) * (hi - lo) + lo) * 2 * math.pi
        cos, sin = torch.cos(angle), torch.sin(angle)
        # Output -> input sampling grid in normalised coordinates; the aspect ratio keeps the
        # rotation rigid on non-square images (y points down, so +angle turns counter-clockwise).
        theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
        theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
        return _sample_affine(x, theta, self.interpolation, _FILL[self.fill_mode])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "factor": list(self.factor),
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
        }


class RandomZoom(_Image):
    """Zoom each image by a random factor (training only); Keras' signs: positive zooms out.

    Args:
        height_factor: ``f`` draws the height change from ``[-f, f]``, ``(lo, hi)`` from
            ``[lo, hi]``; ``-0.5`` shows the central half enlarged, ``0.5`` shrinks by 1.5.
        width_factor: The same for the width; ``None`` keeps the aspect ratio.
        fill_mode, interpolation: As in :class:`RandomRotation`.

    Example:
        >>> import torch
        >>> RandomZoom(0.2)(torch.zeros(2, 3, 8, 8)).shape
        torch.Size([2, 3, 8, 8])
    """

    def __init__(
        self,
        height_factor: float | tuple[float, float],
        width_factor: float | tuple[float, float] | None = None,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        fill_value: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.height_factor = _factor_range("RandomZoom", "height_factor", height_factor)
        self.width_factor = (
            None
            if width_factor is None
            else _factor_range("RandomZoom", "width_factor", width_factor)
        )
        self.fill_mode = check_choice("RandomZoom", "fill_mode", fill_mode, tuple(_FILL))
        self.interpolation = check_choice(
            "RandomZoom", "interpolation", interpolation, ("bilinear", "nearest")
        )
        if fill_value != 0.0:
            raise ConfigError("RandomZoom supports fill_value=0.0 only (fill_mode='constant').")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        if not self.training:
            return x
        n = x.shape[0]
        lo, hi = self.height_factor
        zh = 1 + torch.rand(n, device=x.device, dtype=x.dtype) * (hi - lo) + lo
        if self.width_factor is None:
            zw = zh
        else:
            lo, hi = self.width_factor
            zw = 1 + torch.rand(n, device=x.device, dtype=x.dtype) * (hi - lo) + lo
        theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0], theta[:, 1, 1] = zw, zh  # sample a larger area (> 1) = zoom out
        return _sample_affine(x, theta, self.interpolation, _FILL[self.fill_mode])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "height_factor": list(self.height_factor),
            "width_factor": None if self.width_factor is None else list(self.width_factor),
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
        }


class GaussianNoise(_Weightless):
    """Add ``N(0, stddev^2)`` noise in training mode (identity in eval mode).

    Example:
        >>> import torch
        >>> GaussianNoise(0.1).eval()(torch.ones(2)).tolist()
        [1.0, 1.0]
    """

    def __init__(self, stddev: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, int | float) or stddev < 0:
            raise ConfigError(
                f"The 'stddev' argument of GaussianNoise must be >= 0; got {stddev!r}."
            )
        self.stddev = float(stddev)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.stddev == 0:
            return x
        return x + torch.randn_like(x) * self.stddev

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev}


class SpatialDropout2D(_Image):
    """Drop whole channels of NCHW images in training (``F.dropout2d``), scaled by 1/(1-rate).

    Example:
        >>> import torch
        >>> SpatialDropout2D(0.5).eval()(torch.ones(1, 2, 3, 3)).sum().item()
        18.0
    """

    def __init__(self, rate: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = check_rate("SpatialDropout2D", "rate", rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return F.dropout2d(x, self.rate, self.training)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}


class SpatialDropout1D(_Weightless):
    """Drop whole feature channels of ``(N, steps, features)`` sequences in training.

    Example:
        >>> import torch
        >>> SpatialDropout1D(0.5).eval()(torch.ones(1, 4, 3)).sum().item()
        12.0
    """

    expected_ndim = (3,)

    def __init__(self, rate: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = check_rate("SpatialDropout1D", "rate", rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise DataError(self._shape_message(tuple(x.shape)))
        # (N, steps, C) -> (N, C, steps): one keep/drop draw per sample and channel.
        return F.dropout1d(x.transpose(1, 2), self.rate, self.training).transpose(1, 2)

    def _expected_layout(self) -> str:
        return "(batch, steps, features)"

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}
