"""Activation layers with Keras' arguments: LeakyReLU, ReLU, ELU, PReLU, Softmax.

Defaults are Keras' (``LeakyReLU`` slope 0.3, not torch's 0.01). Axes of 4-D image tensors are
Keras' channels-last axes (``Softmax(axis=-1)`` normalises over channels, torch axis 1);
``data_format="channels_first"`` reads them as torch does.

Example:
    >>> import torch
    >>> from deepfuse.layers import LeakyReLU, ReLU
    >>> LeakyReLU()(torch.tensor([-1.0, 2.0])).tolist()
    [-0.30000001192092896, 2.0]
    >>> ReLU(max_value=1.0)(torch.tensor([-1.0, 0.5, 3.0])).tolist()
    [0.0, 0.5, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.layers import initializers, regularizers
from deepfuse.layers.base import Layer, check_choice
from deepfuse.layers.keras_api import keras_axis

__all__ = ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"]

_FORMATS = ("channels_last", "channels_first")


def _number(layer: str, arg: str, value: Any, *, low: float | None = None) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (low is not None and value < low)
    ):
        bound = "" if low is None else f" >= {low}"
        raise ConfigError(
            f"The '{arg}' argument of {layer} must be a number{bound}; got {value!r}."
        )
    return float(value)


class LeakyReLU(Layer):
    """``x`` for ``x >= 0``, else ``negative_slope * x`` (Keras default slope 0.3).

    Args:
        negative_slope: Slope for negative inputs (Keras 3 name).
        alpha: Keras 2 name of the same argument.

    Example:
        >>> import torch
        >>> LeakyReLU(alpha=0.2)(torch.tensor([-1.0])).tolist()
        [-0.20000000298023224]
    """

    def __init__(
        self, negative_slope: float = 0.3, *, alpha: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        slope = negative_slope if alpha is None else alpha
        self.negative_slope = _number("LeakyReLU", "negative_slope", slope, low=0)
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ReLU(Layer):
    """Keras' ReLU: ``max_value`` cap, ``negative_slope * (x - threshold)`` below ``threshold``.

    Example:
        >>> import torch
        >>> ReLU(negative_slope=0.1, threshold=1.0)(torch.tensor([0.0, 2.0])).tolist()
        [-0.10000000149011612, 2.0]
    """

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_value = (
            None if max_value is None else _number("ReLU", "max_value", max_value, low=0)
        )
        self.negative_slope = _number("ReLU", "negative_slope", negative_slope, low=0)
        self.threshold = _number("ReLU", "threshold", threshold)
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.negative_slope == 0 and self.threshold == 0:
            y = torch.relu(x)
        else:
            y = torch.where(x >= self.threshold, x, self.negative_slope * (x - self.threshold))
        if self.max_value is not None:
            y = y.clamp(max=self.max_value)
        return y

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class ELU(Layer):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Example:
        >>> import torch
        >>> round(ELU()(torch.tensor([-1.0])).item(), 4)
        -0.6321
    """

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = _number("ELU", "alpha", alpha)
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(x, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(Layer):
    """Leaky ReLU with a learned slope per value: ``x`` if ``x >= 0`` else ``alpha * x``.

    Args:
        alpha_initializer: Keras default ``"zeros"`` (starts as ReLU).
        alpha_regularizer: As ``kernel_regularizer`` elsewhere.
        shared_axes: Keras' 1-based per-sample axes that share one slope, e.g. ``[1, 2]`` for
            one slope per channel of ``(H, W, C)`` images (translated to NCHW here).

    ``alpha`` is stored in the input's torch layout with size 1 on shared axes.

    Example:
        >>> import torch
        >>> layer = PReLU(shared_axes=[1, 2])
        >>> layer(torch.zeros(2, 3, 5, 5)).shape, tuple(layer.alpha.shape)
        (torch.Size([2, 3, 5, 5]), (3, 1, 1))
    """

    def __init__(
        self,
        alpha_initializer: Any = "zeros",
        alpha_regularizer: Any = None,
        alpha_constraint: Any = None,
        shared_axes: Sequence[int] | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if alpha_constraint is not None:
            raise ConfigError(
                "PReLU(alpha_constraint=...) is not supported: deepfuse does not project "
                "weights after each step. Leave it out."
            )
        self.alpha_initializer = initializers.check(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        axes = [shared_axes] if isinstance(shared_axes, int) else list(shared_axes or [])
        if not all(isinstance(a, int) and a >= 1 for a in axes):
            raise ConfigError(
                f"The 'shared_axes' argument of PReLU must be 1-based per-sample axes; got "
                f"{shared_axes!r}."
            )
        self.shared_axes = axes
        self.register_parameter("alpha", None)

    def _build(self, shape: tuple[int | None, ...], factory: dict[str, Any]) -> None:
        ndim = len(shape)
        sizes = list(shape[1:])
        for a in self.shared_axes:
            if a >= ndim:
                raise DataError(
                    f"PReLU '{self.name}' shares axis {a} but its input {shape} has only "
                    f"{ndim - 1} per-sample axes."
                )
            sizes[keras_axis(a, ndim) - 1] = 1
        if any(s is None for s in sizes):
            raise DataError(
                f"PReLU '{self.name}' needs known sizes on the axes it does not share; got "
                f"{shape}. Pass shared_axes for the variable axes."
            )
        self.alpha = nn.Parameter(torch.empty(sizes, **factory))
        initializers.apply(self.alpha_initializer, self.alpha)

    def _build_shape_from_state(self, state: dict, prefix: str) -> list[int | None] | None:
        alpha = state.get(prefix + "alpha")
        return None if alpha is None else [None, *(int(s) for s in alpha.shape)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.built:
            self._lazy_build(x)
        return torch.where(x >= 0, x, self.alpha * x)

    def regularization_loss(self) -> torch.Tensor | None:
        return regularizers.total([(self.alpha_regularizer, self.alpha)])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "alpha_initializer": self.alpha_initializer,
            "alpha_regularizer": regularizers.config_value(self.alpha_regularizer),
            "shared_axes": self.shared_axes or None,
        }


class Softmax(Layer):
    """Softmax over ``axis`` (Keras axes: on 4-D images -1 means channels, torch axis 1).

    Example:
        >>> import torch
        >>> Softmax()(torch.zeros(1, 4)).tolist()
        [[0.25, 0.25, 0.25, 0.25]]
        >>> Softmax()(torch.zeros(1, 2, 3, 3))[0, :, 0, 0].tolist()   # over channels
        [0.5, 0.5]
    """

    def __init__(self, axis: int = -1, data_format: str = "channels_last", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"The 'axis' argument of Softmax must be an int; got {axis!r}.")
        self.axis = axis
        self.data_format = check_choice("Softmax", "data_format", data_format, _FORMATS)
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, keras_axis(self.axis, x.dim(), self.data_format == "channels_last"))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "data_format": self.data_format}
