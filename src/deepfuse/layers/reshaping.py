"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector (Keras' channels-last view).

Inside deepfuse images are NCHW; Keras code writes image shapes channels-last ``(H, W, C)``.
With ``data_format="channels_last"`` (the Keras default) these layers read and write 4-D image
tensors the way Keras sees them: ``Flatten`` flattens in H, W, C order and
``Reshape((H, W, C))`` builds the NCHW tensor of the NHWC array Keras would make, so
``Flatten -> Dense -> Reshape((H, W, C))`` round-trips images exactly.
``data_format="channels_first"`` uses torch's order. A saved config without the key (models
saved before this option existed) loads as ``"channels_first"``, so old models give the same
outputs.

Example:
    >>> import torch
    >>> from deepfuse.layers import Flatten, Reshape
    >>> Reshape((7, 7, 256))(torch.zeros(2, 7 * 7 * 256)).shape   # Keras (H, W, C) -> NCHW
    torch.Size([2, 256, 7, 7])
    >>> Reshape((256, 7, 7), data_format="channels_first")(torch.zeros(2, 12544)).shape
    torch.Size([2, 256, 7, 7])
    >>> Flatten()(torch.zeros(2, 3, 4, 5)).shape
    torch.Size([2, 60])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.layers.base import Layer, channels_first_shape, check_choice, check_positive_int

__all__ = ["Flatten", "Permute", "RepeatVector", "Reshape"]

_FORMATS = ("channels_last", "channels_first")


def _to_keras(x: torch.Tensor, last: bool) -> torch.Tensor:
    """NCHW image tensor -> the NHWC view Keras computes on (other ranks unchanged)."""
    return x.permute(0, 2, 3, 1) if last and x.dim() == 4 else x


def _from_keras(y: torch.Tensor, last: bool) -> torch.Tensor:
    """Keras NHWC image tensor -> deepfuse's NCHW (a view; other ranks unchanged)."""
    return y.permute(0, 3, 1, 2) if last and y.dim() == 4 else y


class _Formatted(Layer):
    """A layer with Keras' ``data_format``; legacy configs without it load channels-first."""

    def _set_format(self, data_format: str) -> None:
        self.data_format = check_choice(type(self).__name__, "data_format", data_format, _FORMATS)
        self._last = self.data_format == "channels_last"

    @property
    def torch_input_shape(self) -> tuple[int, ...] | None:
        """A declared Keras image shape ``(H, W, C)`` is fed as ``(C, H, W)`` (channels-last)."""
        return channels_first_shape(self.input_shape) if self._last else self.input_shape

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**{"data_format": "channels_first", **config})

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class Flatten(_Formatted):
    """Flatten everything but the batch axis.

    Args:
        data_format: ``"channels_last"`` (Keras default): a 4-D NCHW image tensor is flattened
            in Keras' H, W, C order (``nhwc.reshape(N, -1)``); ``"channels_first"``: C, H, W
            order like ``nn.Flatten``. Other ranks flatten as they are.

    Example:
        >>> import torch
        >>> x = torch.arange(8.0).reshape(1, 2, 2, 2)          # NCHW
        >>> Flatten()(x).tolist()                             # H, W, C order
        [[0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 7.0]]
        >>> Flatten(data_format="channels_first")(x).tolist()
        [[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]
    """

    def __init__(self, data_format: str = "channels_last", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._set_format(data_format)
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._last and x.dim() == 4:
            return x.permute(0, 2, 3, 1).flatten(1)
        return x.flatten(1)


class Reshape(_Formatted):
    """Reshape each sample to ``target_shape`` (batch axis kept; one entry may be -1).

    Args:
        target_shape: Per-sample shape. With ``data_format="channels_last"`` (Keras default) a
            3-D target is Keras' ``(H, W, C)`` and the output is the NCHW tensor ``(N, C, H, W)``
            of that NHWC array; a 4-D input is read as Keras' NHWC view first.
            ``"channels_first"``: the target is torch's shape, used as it is.

    Example:
        >>> import torch
        >>> Reshape((4, 3))(torch.zeros(2, 12)).shape
        torch.Size([2, 4, 3])
        >>> Reshape((2, 2, 3))(torch.zeros(1, 12)).shape    # (H, W, C) = (2, 2, 3) -> NCHW
        torch.Size([1, 3, 2, 2])
    """

    def __init__(
        self, target_shape: Sequence[int], data_format: str = "channels_last", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        target = tuple(target_shape) if not isinstance(target_shape, int) else (target_shape,)
        if (
            not all(isinstance(d, int) and (d > 0 or d == -1) for d in target)
            or sum(d == -1 for d in target) > 1
        ):
            raise ConfigError(
                f"The 'target_shape' argument of Reshape must be a tuple of positive "
                f"ints with at most one -1; got {target_shape!r}."
            )
        self.target_shape = target
        self._set_format(data_format)
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            y = _to_keras(x, self._last).reshape(x.shape[0], *self.target_shape)
        except RuntimeError as exc:
            raise DataError(
                f"Reshape '{self.name}' cannot reshape samples of shape "
                f"{tuple(x.shape[1:])} ({math.prod(x.shape[1:])} values) to "
                f"{self.target_shape}."
            ) from exc
        return _from_keras(y, self._last)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(_Formatted):
    """Permute the per-sample axes; ``dims`` are Keras' 1-based axes, e.g. ``(2, 1)``.

    On a 4-D image tensor the axes are Keras' ``(H, W, C)`` = 1, 2, 3 (``data_format=
    "channels_last"``, the default): the layer permutes the NHWC view and returns it as NCHW,
    so the next layer sees what it would see in Keras. ``"channels_first"`` permutes the NCHW
    tensor's own axes.

    Example:
        >>> import torch
        >>> Permute((2, 1))(torch.zeros(4, 10, 64)).shape
        torch.Size([4, 64, 10])
    """

    def __init__(
        self, dims: Sequence[int], data_format: str = "channels_last", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ConfigError(
                f"The 'dims' argument of Permute must be a permutation of 1..{len(dims)} "
                f"(Keras numbers per-sample axes from 1); got {dims!r}."
            )
        self.dims = dims
        self._set_format(data_format)
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != len(self.dims) + 1:
            raise DataError(
                f"Permute '{self.name}' with dims {self.dims} expects samples with "
                f"{len(self.dims)} axes; got input of shape {tuple(x.shape)}."
            )
        y = _to_keras(x, self._last).permute(0, *self.dims)
        return _from_keras(y, self._last)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """Repeat a ``(N, features)`` input ``n`` times: ``(N, n, features)``.

    Example:
        >>> import torch
        >>> RepeatVector(3)(torch.zeros(2, 5)).shape
        torch.Size([2, 3, 5])
    """

    expected_ndim = (2,)

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = check_positive_int("RepeatVector", "n", n)
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            raise DataError(self._shape_message(tuple(x.shape)))
        return x.unsqueeze(1).expand(-1, self.n, -1)

    def _expected_layout(self) -> str:
        return "(batch, features)"

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}
