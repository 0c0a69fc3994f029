"""Convolutions: Conv1D (Keras channels-last sequences) and Conv2D (NCHW images).

Padding is ``"valid"``, ``"same"`` (TensorFlow semantics, also with strides > 1), an int or a
tuple; Conv1D also takes ``"causal"``.

Example:
    >>> import torch
    >>> from deepfuse.layers import Conv1D, Conv2D
    >>> Conv2D(8, 3, padding="same", activation="relu")(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 8, 28, 28])
    >>> Conv1D(16, 5)(torch.zeros(2, 100, 32)).shape   # (N, steps, channels)
    torch.Size([2, 96, 16])
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.layers import initializers, regularizers
from deepfuse.layers.base import (
    _Activated,
    channels_first_shape,
    check_choice,
    check_positive_int,
    int_tuple,
)
from deepfuse.layers.keras_api import check_data_format
from deepfuse.layers.weight_layout import KernelBiasWeights

__all__ = ["Conv1D", "Conv2D", "Convolution1D", "Convolution2D"]


def parse_padding(
    layer: str, padding: Any, n: int, *, causal: bool = False
) -> str | tuple[int, ...]:
    """``"valid"``/``"same"``(/``"causal"``) or a tuple of ``n`` non-negative ints."""
    if isinstance(padding, str):
        choices = ("valid", "same", "causal") if causal else ("valid", "same")
        mode = check_choice(layer, "padding", padding, choices)
        return (0,) * n if mode == "valid" else mode
    items = (padding,) * n if isinstance(padding, int) else padding
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    if len(items) != n or not all(isinstance(p, int) and p >= 0 for p in items):
        raise ConfigError(
            f"The 'padding' argument of {layer} must be 'valid', 'same', a "
            f"non-negative int or a tuple of {n} ints; got {padding!r}."
        )
    return items


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow "same" padding ``(before, after)``: output size ``ceil(size / stride)``."""
    effective = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def padding_config(padding: str | tuple[int, ...]) -> str | list[int]:
    return padding if isinstance(padding, str) else list(padding)


class _Conv(KernelBiasWeights, _Activated):
    rank = 2

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: Any = "valid",
        *,
        data_format: str = "channels_first",
        dilation_rate: Any = 1,
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        cls, n = type(self).__name__, self.rank
        self.filters = check_positive_int(cls, "filters", filters)
        self.kernel_size = int_tuple(cls, "kernel_size", kernel_size, n)
        self.strides = int_tuple(cls, "strides", strides, n)
        self.dilation_rate = int_tuple(cls, "dilation_rate", dilation_rate, n)
        self.groups = check_positive_int(cls, "groups", groups)
        if self.filters % self.groups:
            raise ConfigError(
                f"The 'filters' argument of {cls} ({self.filters}) must be divisible "
                f"by 'groups' ({self.groups})."
            )
        self.padding = parse_padding(cls, padding, n, causal=n == 1)
        self.data_format = check_choice(
            cls, "data_format", data_format, ("channels_first", "channels_last")
        )
        self._last = self.data_format == "channels_last"
        self._set_activation(activation, axis=-1 if self._last else 1)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.check(kernel_initializer)
        self.bias_initializer = initializers.check(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        # What torch's conv takes as ``padding``; ``_pad_mode`` marks the rare cases that need an
        # explicit F.pad first ("same" with strides > 1, "causal").
        self._padding: str | tuple[int, ...] = self.padding
        self._pad_mode: str | None = None
        if self.padding == "causal":
            self._pad_mode, self._padding = "causal", (0,)
        elif self.padding == "same" and (
            any(s > 1 for s in self.strides)
            or any((k - 1) * d % 2 for k, d in zip(self.kernel_size, self.dilation_rate))
        ):  # torch's own "same" needs stride 1 and copies the input for even kernels
            self._pad_mode, self._padding = "same", (0,) * n
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)

    @property
    def _channel_axis(self) -> int:
        return -1 if self._last else 1

    def _expected_layout(self) -> str:
        if self.rank == 2:
            return "(batch, channels, height, width)"
        return "(batch, steps, channels)" if self._last else "(batch, channels, steps)"

    def _build(self, shape: tuple[int | None, ...], factory: dict[str, Any]) -> None:
        in_channels = shape[self._channel_axis]
        if in_channels is None or in_channels % self.groups:
            raise DataError(
                f"{type(self).__name__} '{self.name}' got {in_channels} input channels "
                f"(axis {self._channel_axis} of {shape}); it must be known and divisible "
                f"by groups={self.groups}."
            )
        self.in_channels = in_channels
        self.weight = nn.Parameter(
            torch.empty(self.filters, in_channels // self.groups, *self.kernel_size, **factory)
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
        shape[self._channel_axis] = int(w.shape[1]) * self.groups
        return shape

    def _explicit_pad(self, x: torch.Tensor) -> torch.Tensor:
        # x is channels-first here; F.pad takes (last-dim before, after, previous dim ...).
        if self._pad_mode == "causal":
            return F.pad(x, ((self.kernel_size[0] - 1) * self.dilation_rate[0], 0))
        pads: list[int] = []
        for i in reversed(range(self.rank)):
            pads += same_pads(
                x.shape[2 + i], self.kernel_size[i], self.strides[i], self.dilation_rate[i]
            )
        return F.pad(x, pads)

    def _input_error(self, x: torch.Tensor, exc: RuntimeError) -> Exception:
        if x.dim() != self.rank + 2:
            return DataError(self._shape_message(tuple(x.shape)))
        if x.shape[self._channel_axis] != self.in_channels:
            return DataError(
                f"{type(self).__name__} '{self.name}' was built for "
                f"{self.in_channels} channels {self._expected_layout()}; got input of "
                f"shape {tuple(x.shape)}."
            )
        return exc

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": padding_config(self.padding),
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            "activation": self._activation_config,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "kernel_regularizer": regularizers.config_value(self.kernel_regularizer),
            "bias_regularizer": regularizers.config_value(self.bias_regularizer),
        }


class Conv2D(_Conv):
    """2-D convolution on NCHW images (Keras arguments; weights like ``nn.Conv2d``).

    Args:
        filters: Output channels.
        kernel_size: int or ``(kh, kw)``.
        strides: int or ``(sh, sw)``.
        padding: ``"valid"``, ``"same"``, int or ``(ph, pw)``.
        data_format: Keras' ``"channels_last"`` (default) or ``"channels_first"``: inputs are
            NCHW either way (channels-last images are converted when data enters the model).
        dilation_rate, groups, activation, use_bias, kernel_initializer, bias_initializer,
        kernel_regularizer, bias_regularizer: as in Keras.
        input_shape: Keras channels-last ``(H, W, C)``; ``torch_input_shape`` gives ``(C, H, W)``.

    Example:
        >>> import torch
        >>> Conv2D(4, (3, 3), strides=2, padding="same")(torch.zeros(1, 3, 9, 9)).shape
        torch.Size([1, 4, 5, 5])
    """

    rank = 2
    expected_ndim = (4,)

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: Any = "valid",
        *,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        # Keras' "channels_last" (default) and "channels_first" both mean NCHW tensors here:
        # images are converted once when data enters the model.
        check_data_format("Conv2D", data_format)
        super().__init__(
            filters, kernel_size, strides, padding, data_format="channels_first", **kwargs
        )

    @property
    def torch_input_shape(self) -> tuple[int, ...] | None:
        return channels_first_shape(self.input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.built:
            self._lazy_build(x)
        if self._pad_mode is not None:
            x = self._explicit_pad(x)
        try:
            y = F.conv2d(
                x,
                self.weight,
                self.bias,
                self.strides,
                self._padding,
                self.dilation_rate,
                self.groups,
            )
        except RuntimeError as exc:
            raise self._input_error(x, exc) from exc
        if self._act is not None:
            y = self._act(y)
        return y

    def get_config(self) -> dict[str, Any]:
        cfg = super().get_config()
        del cfg["data_format"]
        return cfg


class Conv1D(_Conv):
    """1-D convolution over sequences ``(N, steps, channels)`` (Keras default channels-last).

    ``data_format="channels_first"`` takes ``(N, channels, steps)`` like ``nn.Conv1d``.
    ``padding="causal"`` left-pads so step ``t`` only sees steps ``<= t``.

    Example:
        >>> import torch
        >>> Conv1D(8, 3, padding="causal")(torch.zeros(2, 10, 4)).shape
        torch.Size([2, 10, 8])
    """

    rank = 1
    expected_ndim = (3,)

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: Any = "valid",
        *,
        data_format: str = "channels_last",
        **kwargs: Any,
    ) -> None:
        super().__init__(filters, kernel_size, strides, padding, data_format=data_format, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.built:
            self._lazy_build(x)
        xc = x.transpose(1, 2) if self._last else x  # (N, C, L) view for torch
        if self._pad_mode is not None:
            xc = self._explicit_pad(xc)
        try:
            y = F.conv1d(
                xc,
                self.weight,
                self.bias,
                self.strides,
                self._padding,
                self.dilation_rate,
                self.groups,
            )
        except RuntimeError as exc:
            raise self._input_error(x, exc) from exc
        if self._last:
            y = y.transpose(1, 2)  # back to (N, L, C)
        if self._act is not None:
            y = self._act(y)
        return y


Convolution1D = Conv1D
Convolution2D = Conv2D
