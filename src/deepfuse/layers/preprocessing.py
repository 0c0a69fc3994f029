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
    "Rescaling",
    "Resizing",
    "SpatialDropout1D",
    "SpatialDropout2D",
]


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

    _FILL: ClassVar[dict[str, str]] = {
        "reflect": "reflection",
        "constant": "zeros",
        "nearest": "border",
    }

    def __init__(
        self,
        factor: float | tuple[float, float],
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        fill_value: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        lo, hi = (-factor, factor) if isinstance(factor, int | float) else tuple(factor)
        if not (isinstance(lo, int | float) and isinstance(hi, int | float) and lo <= hi):
            raise ConfigError(
                f"The 'factor' argument of RandomRotation must be a number or (low, high); got "
                f"{factor!r}."
            )
        self.factor = (float(lo), float(hi))
        self.fill_mode = check_choice("RandomRotation", "fill_mode", fill_mode, tuple(self._FILL))
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
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(
            x, grid, mode=self.interpolation, padding_mode=self._FILL[self.fill_mode],
            align_corners=False,
        )  # fmt: skip

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "factor": list(self.factor),
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
