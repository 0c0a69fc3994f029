"""Core layers: Dense, Embedding, Dropout, Activation, Input, Identity, Lambda.

Example:
    >>> import torch
    >>> from deepfuse.layers import Dense, Dropout, Flatten
    >>> x = torch.zeros(8, 28, 28)
    >>> Dense(10)(Dropout(0.5)(Flatten()(x))).shape
    torch.Size([8, 10])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.layers import initializers, regularizers
from deepfuse.layers.base import (
    Layer,
    _Activated,
    channels_first_shape,
    check_positive_int,
    check_rate,
)
from deepfuse.layers.weight_layout import KernelBiasWeights

__all__ = [
    "Activation",
    "Dense",
    "Dropout",
    "Embedding",
    "Identity",
    "InputLayer",
    "Lambda",
]


class Dense(KernelBiasWeights, _Activated):
    """Fully connected layer ``y = activation(x @ W.T + b)`` on the last axis (like ``nn.Linear``).

    Args:
        units: Output features.
        activation: Name (``"relu"``, ``"softmax"`` ...), callable or ``None``.
        use_bias: Add a bias vector.
        kernel_initializer / bias_initializer: Keras initialiser names (glorot_uniform / zeros).
        kernel_regularizer / bias_regularizer: ``"l1"``, ``"l2"``, ``{"l1": .., "l2": ..}``, callable.
        input_dim: Keras 2 shorthand for ``input_shape=(input_dim,)``.

    ``weight`` has shape ``(units, in_features)`` and ``bias`` ``(units,)``, as in ``nn.Linear``.

    Example:
        >>> import torch
        >>> Dense(3, activation="relu")(torch.ones(2, 5)).shape
        torch.Size([2, 3])
    """

    expected_ndim = None

    def __init__(
        self,
        units: int,
        activation: Any = None,
        *,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        input_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        if input_dim is not None and kwargs.get("input_shape") is None:
            kwargs["input_shape"] = (check_positive_int("Dense", "input_dim", input_dim),)
        super().__init__(**kwargs)
        self.units = check_positive_int("Dense", "units", units)
        self._set_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.check(kernel_initializer)
        self.bias_initializer = initializers.check(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)

    def _build(self, shape: tuple[int | None, ...], factory: dict[str, Any]) -> None:
        if len(shape) < 2 or shape[-1] is None:
            raise DataError(
                f"Dense '{self.name}' needs inputs of shape (batch, ..., features) "
                f"with a known feature size; got {shape}."
            )
        self.in_features = shape[-1]
        self.weight = nn.Parameter(torch.empty(self.units, shape[-1], **factory))
        initializers.apply(self.kernel_initializer, self.weight)
        if self.use_bias:
            self.bias = nn.Parameter(torch.empty(self.units, **factory))
            initializers.apply(self.bias_initializer, self.bias)

    def _build_shape_from_state(self, state: dict, prefix: str) -> list[int | None] | None:
        w = state.get(prefix + "weight")
        return None if w is None else [None, int(w.shape[1])]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.built:
            self._lazy_build(x)
        try:
            y = F.linear(x, self.weight, self.bias)
        except RuntimeError as exc:
            if x.dim() == 0 or x.shape[-1] != self.weight.shape[1]:
                raise DataError(
                    f"Dense '{self.name}' was built for {self.weight.shape[1]} input "
                    f"features; got input of shape {tuple(x.shape)}."
                ) from exc
            raise
        if self._act is not None:
            y = self._act(y)
        return y

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self._activation_config,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "kernel_regularizer": regularizers.config_value(self.kernel_regularizer),
            "bias_regularizer": regularizers.config_value(self.bias_regularizer),
        }


class Embedding(Layer):
    """Lookup table from integer ids ``(N, T)`` to vectors ``(N, T, output_dim)``.

    Args:
        input_dim: Vocabulary size (largest id + 1).
        output_dim: Vector size.
        mask_zero: Keras flag: id 0 is padding. Here it sets ``padding_idx=0`` (its vector stays
            zero and gets no gradient); the text zoo model also reads lengths from ``x != 0``.
        padding_idx: torch-style padding id (overrides ``mask_zero``).
        embeddings_initializer: Keras default ``"uniform"`` (U(-0.05, 0.05)).

    Example:
        >>> import torch
        >>> Embedding(100, 8, mask_zero=True)(torch.tensor([[5, 2, 0]])).shape
        torch.Size([1, 3, 8])
    """

    input_dtype = torch.long

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        *,
        mask_zero: bool = False,
        padding_idx: int | None = None,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        input_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        if input_length is not None and kwargs.get("input_shape") is None:
            kwargs["input_shape"] = (check_positive_int("Embedding", "input_length", input_length),)
        super().__init__(**kwargs)
        self.input_dim = check_positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = check_positive_int("Embedding", "output_dim", output_dim)
        self.mask_zero = bool(mask_zero)
        if padding_idx is None and self.mask_zero:
            padding_idx = 0
        if padding_idx is not None and not (
            isinstance(padding_idx, int) and 0 <= padding_idx < self.input_dim
        ):
            raise ConfigError(
                f"The 'padding_idx' argument of Embedding must be an int in "
                f"[0, {self.input_dim}); got {padding_idx!r}."
            )
        self.padding_idx = padding_idx
        self.embeddings_initializer = initializers.check(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        # The table does not depend on the input shape, so it is created right away.
        self.weight = nn.Parameter(torch.empty(self.input_dim, self.output_dim))
        initializers.apply(self.embeddings_initializer, self.weight)
        if padding_idx is not None:
            with torch.no_grad():
                self.weight[padding_idx].zero_()
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_floating_point():  # Keras casts float ids (Input's default dtype) to int
            x = x.long()
        try:
            return F.embedding(x, self.weight, self.padding_idx)
        except (IndexError, RuntimeError) as exc:
            if x.numel() and (int(x.max()) >= self.input_dim or int(x.min()) < 0):
                raise DataError(
                    f"Embedding '{self.name}' got id {int(x.max())} (min "
                    f"{int(x.min())}) but input_dim is {self.input_dim}; ids must be "
                    f"in [0, {self.input_dim}). Increase input_dim."
                ) from exc
            raise

    def regularization_loss(self) -> torch.Tensor | None:
        return regularizers.total([(self.embeddings_regularizer, self.weight)])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "mask_zero": self.mask_zero,
            "padding_idx": self.padding_idx,
            "embeddings_initializer": self.embeddings_initializer,
            "embeddings_regularizer": regularizers.config_value(self.embeddings_regularizer),
        }


class Dropout(Layer):
    """Zero a fraction ``rate`` of inputs during training (scaled by ``1/(1-rate)``).

    Example:
        >>> import torch
        >>> Dropout(0.5).eval()(torch.ones(3)).tolist()
        [1.0, 1.0, 1.0]
    """

    def __init__(self, rate: float, **kwargs: Any) -> None:
        kwargs.pop("seed", None)  # Keras argument; deepfuse seeds globally
        super().__init__(**kwargs)
        self.rate = check_rate("Dropout", "rate", rate)
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.rate, self.training)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}


class Activation(_Activated):
    """Apply an activation by name: ``Activation("softmax")``.

    Example:
        >>> import torch
        >>> Activation("relu")(torch.tensor([-1.0, 1.0])).tolist()
        [0.0, 1.0]
    """

    def __init__(self, activation: Any, *, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)
        self._set_activation(activation, axis=self.axis)
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self._act is None else self._act(x)

    def get_config(self) -> dict[str, Any]:
        cfg = {**super().get_config(), "activation": self._activation_config}
        if self.axis != -1:
            cfg["axis"] = self.axis
        return cfg


class InputLayer(Layer):
    """Declares the per-sample input shape (Keras ``Input(shape=...)``); identity in ``forward``.

    Example:
        >>> import torch
        >>> InputLayer(shape=(784,)).input_shape
        (784,)
    """

    def __init__(self, shape: Sequence[int] | None = None, **kwargs: Any) -> None:
        if shape is not None:
            kwargs["input_shape"] = shape
        kwargs.pop("dtype", None)
        super().__init__(**kwargs)
        self.built = True

    @property
    def torch_input_shape(self) -> tuple[int, ...] | None:
        """3-D (image) shapes are converted from Keras ``(H, W, C)`` to ``(C, H, W)``."""
        return channels_first_shape(self.input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def get_config(self) -> dict[str, Any]:
        cfg = super().get_config()
        shape = cfg.pop("input_shape", None)
        return {**cfg, "shape": shape}


class Identity(Layer):
    """Return the input unchanged (Keras ``Identity``; a placeholder in a layer list).

    Example:
        >>> import torch
        >>> Identity()(torch.ones(2)).tolist()
        [1.0, 1.0]
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.built = True

    def forward(self, x: Any) -> Any:
        return x


class Lambda(Layer):
    """Wrap a function of the input as a layer: ``Lambda(lambda x: x * 2)``.

    The function is Python code, so the layer cannot be saved in deepfuse's safe format
    (which never runs code from a file): ``get_config`` raises a ConfigError. Write a
    :class:`~deepfuse.layers.Layer` subclass with ``call`` for a layer that saves.

    Example:
        >>> import torch
        >>> Lambda(lambda x: x * 2)(torch.ones(2)).tolist()
        [2.0, 2.0]
    """

    def __init__(
        self,
        function: Any,
        output_shape: Any = None,
        mask: Any = None,
        arguments: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise ConfigError(f"Lambda needs a callable; got {type(function).__name__}.")
        if mask is not None:
            raise ConfigError("Lambda(mask=...) is not supported: deepfuse layers have no masks.")
        self.function = function
        self.arguments = dict(arguments or {})
        self.built = True

    def forward(self, x: Any) -> Any:
        return self.function(x, **self.arguments)

    def get_config(self) -> dict[str, Any]:
        fn = getattr(self.function, "__name__", type(self.function).__name__)
        raise ConfigError(
            f"Lambda layer '{self.name}' (function {fn}) cannot be saved: deepfuse's safe format "
            "never stores or runs code. Write a Layer subclass with call() and get_config() and "
            "register it (deepfuse.layers.register) instead."
        )

    def extra_repr(self) -> str:
        return getattr(self.function, "__name__", "")
