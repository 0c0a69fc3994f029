"""Pooling: local max/average pooling and global pooling, 1-D (channels-last) and 2-D (NCHW).

Example:
    >>> import torch
    >>> from deepfuse.layers import GlobalMaxPool1D, MaxPool2D
    >>> MaxPool2D(2)(torch.zeros(1, 8, 28, 28)).shape
    torch.Size([1, 8, 14, 14])
    >>> GlobalMaxPool1D()(torch.zeros(4, 50, 16)).shape   # (N, steps, channels) -> (N, channels)
    torch.Size([4, 16])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from deepfuse._utils.errors import DataError
from deepfuse.layers.base import Layer, channels_first_shape, check_choice, int_tuple
from deepfuse.layers.conv import same_pads

__all__ = [
    "AveragePooling1D",
    "AveragePooling2D",
    "AvgPool1D",
    "AvgPool2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPooling1D",
    "MaxPooling2D",
]


def _data_format(layer: str, rank: int, value: str) -> bool:
    """Return True when ``forward`` must transpose: 1-D channels-last sequences.

    2-D layers run on NCHW for both Keras values (images are converted to NCHW when data
    enters the model), so ``"channels_last"`` is Keras' meaning, not a transposition.
    """
    fmt = check_choice(layer, "data_format", value, ("channels_first", "channels_last"))
    return rank == 1 and fmt == "channels_last"


class _Pool(Layer):
    rank = 2
    is_max = True

    def __init__(
        self,
        pool_size: Any = 2,
        strides: Any = None,
        padding: str = "valid",
        *,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        cls, n = type(self).__name__, self.rank
        self.pool_size = int_tuple(cls, "pool_size", pool_size, n)
        self.strides = self.pool_size if strides is None else int_tuple(cls, "strides", strides, n)
        self.padding = check_choice(cls, "padding", padding, ("valid", "same"))
        default = "channels_last" if n == 1 else "channels_first"
        self._last = _data_format(cls, n, data_format or default)
        # The layout of the tensors this layer sees (2-D: always NCHW).
        self.data_format = (data_format or default) if n == 1 else "channels_first"
        self.expected_ndim = (n + 2,)
        # Static torch padding when "same" is symmetric for every input size, else pad per call.
        self._dynamic = False
        self._padding: tuple[int, ...] = (0,) * n
        if self.padding == "same":
            if all(s == 1 and k % 2 for s, k in zip(self.strides, self.pool_size)):
                self._padding = tuple(k // 2 for k in self.pool_size)
            else:
                self._dynamic = True
        self.built = True

    @property
    def torch_input_shape(self) -> tuple[int, ...] | None:
        return channels_first_shape(self.input_shape) if self.rank == 2 else self.input_shape

    def _pool(self, x: torch.Tensor, padding: tuple[int, ...]) -> torch.Tensor:
        if self.rank == 2:
            if self.is_max:
                return F.max_pool2d(x, self.pool_size, self.strides, padding)
            return F.avg_pool2d(x, self.pool_size, self.strides, padding, False, False)
        if self.is_max:
            return F.max_pool1d(x, self.pool_size, self.strides, padding)
        return F.avg_pool1d(x, self.pool_size, self.strides, padding, False, False)

    def _same(self, x: torch.Tensor) -> torch.Tensor:
        # TensorFlow "same": output ceil(size / stride), padding may be one larger at the end.
        pads: list[int] = []
        for i in reversed(range(self.rank)):
            pads += same_pads(x.shape[2 + i], self.pool_size[i], self.strides[i])
        zero = (0,) * self.rank
        if self.is_max:
            return self._pool(F.pad(x, pads, value=float("-inf")), zero)
        # Average only over real values: divide by the pooled count of non-padding positions.
        count = self._pool(F.pad(x.new_ones((1, 1, *x.shape[2:])), pads), zero)
        return self._pool(F.pad(x, pads), zero) / count

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            xc = x.transpose(1, 2) if self._last else x
            y = self._same(xc) if self._dynamic else self._pool(xc, self._padding)
        except (RuntimeError, IndexError) as exc:
            if x.dim() != self.rank + 2:
                raise DataError(self._shape_message(tuple(x.shape))) from exc
            raise DataError(
                f"{type(self).__name__} '{self.name}' cannot pool input of shape "
                f"{tuple(x.shape)} with pool_size {self.pool_size}: {exc}"
            ) from exc
        return y.transpose(1, 2) if self._last else y

    def _expected_layout(self) -> str:
        if self.rank == 2:
            return "(batch, channels, height, width)"
        return "(batch, steps, channels)" if self._last else "(batch, channels, steps)"

    def get_config(self) -> dict[str, Any]:
        cfg = {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
        }
        if self.rank == 1:
            cfg["data_format"] = self.data_format
        return cfg


class MaxPool2D(_Pool):
    """Max pooling over NCHW images (``strides`` defaults to ``pool_size``).

    Example:
        >>> import torch
        >>> MaxPool2D(2, padding="same")(torch.zeros(1, 1, 5, 5)).shape
        torch.Size([1, 1, 3, 3])
    """

    rank, is_max = 2, True


class AvgPool2D(_Pool):
    """Average pooling over NCHW images (``"same"`` averages only real values, like Keras)."""

    rank, is_max = 2, False


class MaxPool1D(_Pool):
    """Max pooling over sequences ``(N, steps, channels)`` (``data_format`` as in Conv1D)."""

    rank, is_max = 1, True


class AvgPool1D(_Pool):
    """Average pooling over sequences ``(N, steps, channels)``."""

    rank, is_max = 1, False


class _GlobalPool(Layer):
    rank = 2
    is_max = True

    def __init__(
        self, *, keepdims: bool = False, data_format: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        cls, n = type(self).__name__, self.rank
        self._last = _data_format(cls, n, data_format or "channels_last")
        self.data_format = (data_format or "channels_last") if n == 1 else "channels_first"
        self.keepdims = bool(keepdims)
        self.expected_ndim = (n + 2,)
        self._dims = (1,) if self._last else tuple(range(2, 2 + n))
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            if self.is_max:
                return x.amax(self._dims, self.keepdims)
            return x.mean(self._dims, self.keepdims)
        except (RuntimeError, IndexError) as exc:
            raise DataError(self._shape_message(tuple(x.shape))) from exc

    def _expected_layout(self) -> str:
        return _Pool._expected_layout(self)  # type: ignore[arg-type]

    def get_config(self) -> dict[str, Any]:
        cfg = {**super().get_config(), "keepdims": self.keepdims}
        if self.rank == 1:
            cfg["data_format"] = self.data_format
        return cfg


class GlobalMaxPool2D(_GlobalPool):
    """Max over height and width: ``(N, C, H, W) -> (N, C)``."""

    rank, is_max = 2, True


class GlobalAvgPool2D(_GlobalPool):
    """Mean over height and width: ``(N, C, H, W) -> (N, C)``."""

    rank, is_max = 2, False


class GlobalMaxPool1D(_GlobalPool):
    """Max over steps: ``(N, steps, C) -> (N, C)`` (channels-last, as in Keras)."""

    rank, is_max = 1, True


class GlobalAvgPool1D(_GlobalPool):
    """Mean over steps: ``(N, steps, C) -> (N, C)``."""

    rank, is_max = 1, False


MaxPooling1D, MaxPooling2D = MaxPool1D, MaxPool2D
AveragePooling1D, AveragePooling2D = AvgPool1D, AvgPool2D
GlobalMaxPooling1D, GlobalMaxPooling2D = GlobalMaxPool1D, GlobalMaxPool2D
GlobalAveragePooling1D, GlobalAveragePooling2D = GlobalAvgPool1D, GlobalAvgPool2D
