"""Transposed convolutions with TensorFlow's output sizes: Conv2DTranspose, Conv1DTranspose.

Output length per spatial axis (Keras' ``deconv_output_length``, ``K`` the dilated kernel):

* ``padding="same"``: ``in * stride``; ``"valid"``: ``in * stride + max(K - stride, 0)``;
* with ``output_padding``: ``(in - 1) * stride + K - 2 * pad + output_padding`` (``pad`` is
  ``K // 2`` for same, 0 for valid).

The layer is the adjoint of ``Conv2D`` with the same padding: torch's full transposed
convolution is cropped like TensorFlow's gradient of that convolution (``same`` crops
``max(K - stride, 0) // 2`` at the start, the rest at the end, which differs from
``nn.ConvTranspose2d(padding=...)`` for even ``K - stride``). Weights have
``nn.ConvTranspose2d``'s layout ``(in_channels, filters, kh, kw)``.

Example:
    >>> import torch
    >>> from deepfuse.layers import Conv2DTranspose
    >>> Conv2DTranspose(128, 5, padding="same")(torch.zeros(2, 256, 7, 7)).shape
    torch.Size([2, 128, 7, 7])
    >>> Conv2DTranspose(64, 5, strides=2, padding="same")(torch.zeros(2, 128, 7, 7)).shape
    torch.Size([2, 64, 14, 14])
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.layers import initializers
from deepfuse.layers.base import check_choice
from deepfuse.layers.conv import _Conv
from deepfuse.layers.keras_api import check_data_format

__all__ = ["Conv1DTranspose", "Conv2DTranspose", "Convolution2DTranspose", "output_length"]


def output_length(
    size: int, kernel: int, stride: int, padding: str, output_padding: int | None, dilation: int
) -> int:
    """Keras/TensorFlow output length of a transposed convolution along one axis.

    Example:
        >>> output_length(7, 5, 2, "same", None, 1), output_length(7, 3, 2, "valid", None, 1)
        (14, 15)
    """
    k = (kernel - 1) * dilation + 1
    if output_padding is None:
        return size * stride + (0 if padding == "same" else max(k - stride, 0))
    pad = k // 2 if padding == "same" else 0
    return (size - 1) * stride + k - 2 * pad + output_padding


class _ConvTranspose(_Conv):
    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        *,
        output_padding: Any = None,
        data_format: str = "channels_first",
        **kwargs: Any,
    ) -> None:
        cls = type(self).__name__
        padding = check_choice(cls, "padding", padding, ("valid", "same"))
        if kwargs.get("groups", 1) != 1:
            raise ConfigError(f"{cls} does not take 'groups'; use Conv2D for grouped convolutions.")
        super().__init__(filters, kernel_size, strides, padding, data_format=data_format, **kwargs)
        self.padding = padding
        if output_padding is None:
            self.output_padding = None
        else:
            items = (
                (output_padding,) * self.rank if isinstance(output_padding, int) else output_padding
            )
            items = tuple(items)
            if len(items) != self.rank or not all(
                isinstance(p, int) and 0 <= p < s for p, s in zip(items, self.strides)
            ):
                raise ConfigError(
                    f"The 'output_padding' argument of {cls} must be an int or {self.rank} ints, "
                    f"each >= 0 and smaller than the stride {self.strides}; got {output_padding!r}."
                )
            self.output_padding = items

    def _build(self, shape: tuple[int | None, ...], factory: dict[str, Any]) -> None:
        in_channels = shape[self._channel_axis]
        if in_channels is None:
            raise DataError(
                f"{type(self).__name__} '{self.name}' needs a known channel count on axis "
                f"{self._channel_axis}; got {shape}."
            )
        self.in_channels = in_channels
        # nn.ConvTranspose layout (in, filters, *kernel). Keras' kernel is (*kernel, filters, in)
        # with fan_in = filters * receptive field: the same fans the initialisers read here.
        self.weight = nn.Parameter(
            torch.empty(in_channels, self.filters, *self.kernel_size, **factory)
        )
        initializers.apply(self.kernel_initializer, self.weight)
        if self.use_bias:
            self.bias = nn.Parameter(torch.empty(self.filters, **factory))
            initializers.apply(self.bias_initializer, self.bias)

    def _build_shape_from_state(self, state: dict, prefix: str) -> list[int | None] | None:
        w = state.get(prefix + "weight")
        if w is None:
            return None
        shape: list[int | None] = [None] * (self.rank + 2)
        shape[self._channel_axis] = int(w.shape[0])
        return shape

    def _transpose(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` channels-first -> the transposed convolution, cropped to Keras' size."""
        if x.dim() != self.rank + 2:
            raise DataError(self._shape_message(tuple(x.shape)))
        if x.shape[1] != self.in_channels:
            raise DataError(
                f"{type(self).__name__} '{self.name}' was built for {self.in_channels} channels "
                f"{self._expected_layout()}; got input of shape {tuple(x.shape)}."
            )
        conv = F.conv_transpose2d if self.rank == 2 else F.conv_transpose1d
        y = conv(x, self.weight, self.bias, self.strides, 0, 0, 1, self.dilation_rate)
        pads: list[int] = []
        for i in reversed(range(self.rank)):  # F.pad order: last axis first
            full = y.shape[2 + i]
            k = (self.kernel_size[i] - 1) * self.dilation_rate[i] + 1
            op = None if self.output_padding is None else self.output_padding[i]
            length = output_length(
                x.shape[2 + i], self.kernel_size[i], self.strides[i], self.padding, op,
                self.dilation_rate[i],
            )  # fmt: skip
            before = 0
            if self.padding == "same":  # TF's "same" padding of the forward conv on `length`
                s = self.strides[i]
                before = max((math.ceil(length / s) - 1) * s + k - length, 0) // 2
            pads += [-before, length - (full - before)]  # negative pads crop
        if any(pads):
            y = F.pad(y, pads)
        return y

    def get_config(self) -> dict[str, Any]:
        cfg = super().get_config()
        del cfg["groups"]
        cfg["output_padding"] = None if self.output_padding is None else list(self.output_padding)
        return cfg


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution on NCHW images (Keras arguments and output sizes).

    Args:
        filters: Output channels.
        kernel_size, strides, dilation_rate: int or pair.
        padding: ``"valid"`` or ``"same"`` (TensorFlow sizes, see the module doc).
        output_padding: None, or int/pair smaller than the strides.
        data_format: Keras' ``"channels_last"`` (default) or ``"channels_first"``: NCHW inside.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as in Keras.

    Example:
        >>> import torch
        >>> Conv2DTranspose(1, 3, strides=2)(torch.zeros(1, 4, 5, 5)).shape   # (5-1)*2+3
        torch.Size([1, 1, 11, 11])
    """

    rank = 2
    expected_ndim = (4,)

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        *,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_data_format(type(self).__name__, data_format)
        super().__init__(
            filters, kernel_size, strides, padding, data_format="channels_first", **kwargs
        )

    @property
    def torch_input_shape(self) -> tuple[int, ...] | None:
        from deepfuse.layers.base import channels_first_shape

        return channels_first_shape(self.input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.built:
            self._lazy_build(x)
        y = self._transpose(x)
        return y if self._act is None else self._act(y)

    def get_config(self) -> dict[str, Any]:
        cfg = super().get_config()
        del cfg["data_format"]
        return cfg


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-D convolution over sequences ``(N, steps, channels)`` (Keras default).

    ``data_format="channels_first"`` takes ``(N, channels, steps)`` like ``nn.ConvTranspose1d``.

    Example:
        >>> import torch
        >>> Conv1DTranspose(8, 3, strides=2, padding="same")(torch.zeros(2, 10, 4)).shape
        torch.Size([2, 20, 8])
    """

    rank = 1
    expected_ndim = (3,)

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        *,
        data_format: str = "channels_last",
        **kwargs: Any,
    ) -> None:
        super().__init__(filters, kernel_size, strides, padding, data_format=data_format, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.built:
            self._lazy_build(x)
        xc = x.transpose(1, 2) if self._last else x
        y = self._transpose(xc)
        if self._last:
            y = y.transpose(1, 2)
        return y if self._act is None else self._act(y)


Convolution2DTranspose = Conv2DTranspose
