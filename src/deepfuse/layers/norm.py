"""Normalisation: BatchNorm (one layer for (N, F), sequences and NCHW images) and LayerNorm.

Keras defaults: ``momentum=0.99`` (the fraction of the running statistic *kept*; torch's
``momentum`` is ``1 - momentum``) and ``epsilon=1e-3``.

Which axis BatchNorm normalises follows deepfuse's layouts, so Keras code works unchanged:

* ``(N, F)``: the features.
* ``(N, C, H, W)`` images (deepfuse is channels-first inside models): the channels, whatever
  ``axis`` says (Keras' ``axis=-1`` meant the channels of its channels-last images).
* ``(N, T, F)`` sequences (Conv1D/RNN output): the last axis by default; ``axis=1`` normalises
  axis 1 of ``(N, C, L)`` tensors as ``nn.BatchNorm1d`` does.

Example:
    >>> import torch
    >>> from deepfuse.layers import BatchNorm, LayerNorm
    >>> BatchNorm()(torch.randn(8, 3, 5, 5)).shape
    torch.Size([8, 3, 5, 5])
    >>> LayerNorm()(torch.randn(2, 7, 16)).shape
    torch.Size([2, 7, 16])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.layers import initializers
from deepfuse.layers.base import Layer, check_rate
from deepfuse.layers.reshaping import _Formatted

__all__ = ["BatchNorm", "BatchNormalization", "LayerNorm", "LayerNormalization"]


def _check_epsilon(layer: str, epsilon: Any) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or epsilon <= 0:
        raise ConfigError(
            f"The 'epsilon' argument of {layer} must be a positive float; got {epsilon!r}."
        )
    return float(epsilon)


class BatchNorm(Layer):
    """Batch normalisation with running statistics (``F.batch_norm``; state like ``nn.BatchNorm``).

    Args:
        axis: ``-1`` (default) or ``1``; only matters for 3-D inputs (see the module docstring).
        momentum: Keras momentum, fraction of the running statistics kept per step (0.99).
        epsilon: Added to the variance (1e-3).
        center / scale: Learn ``bias`` (beta) / ``weight`` (gamma).

    Example:
        >>> import torch
        >>> BatchNorm(momentum=0.9)(torch.randn(4, 10)).shape
        torch.Size([4, 10])
    """

    expected_ndim = (2, 3, 4, 5)

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        *,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if axis not in (-1, 1, 2, 3):
            raise ConfigError(
                f"The 'axis' argument of BatchNorm must be -1 (features/channels) "
                f"or 1 (axis 1 of (N, C, L) inputs); got {axis!r}."
            )
        self.axis = int(axis)
        self.momentum = check_rate("BatchNorm", "momentum", momentum)
        self.epsilon = _check_epsilon("BatchNorm", epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.check(beta_initializer)
        self.gamma_initializer = initializers.check(gamma_initializer)
        self._torch_momentum = 1.0 - self.momentum
        self._seq_last = self.axis != 1  # 3-D input: normalise the last axis (N, T, F)
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self.register_buffer("running_mean", None)
        self.register_buffer("running_var", None)

    def _channels(self, shape: tuple[int | None, ...]) -> int | None:
        return shape[-1] if len(shape) == 3 and self._seq_last else shape[1]

    def _build(self, shape: tuple[int | None, ...], factory: dict[str, Any]) -> None:
        c = self._channels(shape)
        if c is None:
            raise DataError(f"BatchNorm '{self.name}' needs a known channel size; got {shape}.")
        self.num_features = c
        if self.scale:
            self.weight = nn.Parameter(
                initializers.apply(self.gamma_initializer, torch.empty(c, **factory))
            )
        if self.center:
            self.bias = nn.Parameter(
                initializers.apply(self.beta_initializer, torch.empty(c, **factory))
            )
        self.running_mean = torch.zeros(c, **factory)
        self.running_var = torch.ones(c, **factory)

    def _build_shape_from_state(self, state: dict, prefix: str) -> list[int | None] | None:
        mean = state.get(prefix + "running_mean")
        return None if mean is None else [None, int(mean.shape[0])]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.built:
            self._lazy_build(x)
        seq = self._seq_last and x.dim() == 3
        xc = x.transpose(1, 2) if seq else x  # (N, T, F) -> (N, F, T) view
        try:
            y = F.batch_norm(
                xc,
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                self.training,
                self._torch_momentum,
                self.epsilon,
            )
        except (RuntimeError, ValueError) as exc:
            c = x.shape[-1] if seq else (x.shape[1] if x.dim() > 1 else None)
            if c != self.num_features:
                raise DataError(
                    f"BatchNorm '{self.name}' was built for {self.num_features} "
                    f"channels; got input of shape {tuple(x.shape)}."
                ) from exc
            raise
        return y.transpose(1, 2) if seq else y

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": self.beta_initializer,
            "gamma_initializer": self.gamma_initializer,
        }


class LayerNorm(_Formatted):
    """Layer normalisation over the last axis (``F.layer_norm``; weights like ``nn.LayerNorm``).

    On 4-D image tensors (NCHW inside deepfuse) Keras' last axis is the channels, so
    ``data_format="channels_last"`` (the default) normalises over the channels of each pixel, as
    Keras does; ``"channels_first"`` normalises the last (width) axis like ``nn.LayerNorm``.
    Configs saved without ``data_format`` load as ``"channels_first"`` (their old behaviour).

    Example:
        >>> import torch
        >>> LayerNorm(epsilon=1e-5)(torch.randn(3, 8)).shape
        torch.Size([3, 8])
    """

    def __init__(
        self,
        axis: int = -1,
        epsilon: float = 1e-3,
        *,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        data_format: str = "channels_last",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if axis != -1:
            raise ConfigError(
                f"The 'axis' argument of LayerNorm must be -1 (the last axis); got {axis!r}."
            )
        self._set_format(data_format)
        self.axis = -1
        self.epsilon = _check_epsilon("LayerNorm", epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.check(beta_initializer)
        self.gamma_initializer = initializers.check(gamma_initializer)
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)

    def _build(self, shape: tuple[int | None, ...], factory: dict[str, Any]) -> None:
        if len(shape) < 2 or shape[-1] is None:
            raise DataError(
                f"LayerNorm '{self.name}' needs inputs (batch, ..., features); got {shape}."
            )
        f = shape[1] if self._last and len(shape) == 4 else shape[-1]  # Keras: the channels
        self._normalized_shape = (f,)
        if self.scale:
            self.weight = nn.Parameter(
                initializers.apply(self.gamma_initializer, torch.empty(f, **factory))
            )
        if self.center:
            self.bias = nn.Parameter(
                initializers.apply(self.beta_initializer, torch.empty(f, **factory))
            )

    def _build_shape_from_state(self, state: dict, prefix: str) -> list[int | None] | None:
        w = state.get(prefix + "weight", state.get(prefix + "bias"))
        return None if w is None else [None, int(w.shape[0])]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.built:
            self._lazy_build(x)
        try:
            if self._last and x.dim() == 4:  # over the channels of each pixel (a NHWC view)
                y = F.layer_norm(
                    x.permute(0, 2, 3, 1),
                    self._normalized_shape,
                    self.weight,
                    self.bias,
                    self.epsilon,
                )
                return y.permute(0, 3, 1, 2)
            return F.layer_norm(x, self._normalized_shape, self.weight, self.bias, self.epsilon)
        except RuntimeError as exc:
            raise DataError(
                f"LayerNorm '{self.name}' was built for {self._normalized_shape[0]} "
                f"features; got input of shape {tuple(x.shape)}."
            ) from exc

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": self.beta_initializer,
            "gamma_initializer": self.gamma_initializer,
        }


BatchNormalization = BatchNorm
LayerNormalization = LayerNorm
