"""The :class:`Layer` base: Keras-style arguments, lazy weights, JSON config.

A layer validates and stores its constructor arguments, creates its weights in ``build`` from
the first input's shape (so nobody writes ``in_features``), and keeps ``forward`` as short as
the matching ``torch.nn`` module: the only extra work per call is one ``if not self.built``.

Example:
    >>> import torch
    >>> from deepfuse.layers import Dense
    >>> layer = Dense(4, activation="relu")
    >>> layer(torch.zeros(2, 3)).shape
    torch.Size([2, 4])
    >>> layer.build_shape
    [None, 3]
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import torch
from torch import nn

from deepfuse._utils.errors import ConfigError, DataError, invalid_choice
from deepfuse._utils.registry import Registry
from deepfuse.layers import keras_api, regularizers, symbolic

__all__ = ["Layer", "training_mode"]

# Every concrete Layer subclass, by class name (filled by ``Layer.__init_subclass__``); lookups
# ignore case, ``_`` and spaces, so ``"max_pool2d"`` finds ``MaxPool2D``.
LAYER_CLASSES: Registry[type[Layer]] = Registry(
    "layer", normalize=lambda n: re.sub(r"[_\s]", "", n).lower()
)
_NAME_COUNTS: dict[str, int] = {}
#: Layer class names defined by more than one class (module.qualname of each); a saved model
#: naming one of them is loaded only with ``custom_objects`` saying which class is meant.
AMBIGUOUS_NAMES: dict[str, set[str]] = {}


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _snake(name: str) -> str:
    """Keras' ``to_snake_case``: ``Conv2DTranspose`` -> ``conv2d_transpose``, ``LeakyReLU`` ->
    ``leaky_re_lu`` (so auto names match Keras')."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Layer(keras_api.KerasWeights, symbolic.GraphNode, nn.Module):
    """Base class of every deepfuse layer (a plain ``torch.nn.Module``).

    Args:
        name: Layer name (auto-generated like ``"dense_1"`` when omitted).
        input_shape: Per-sample input shape, Keras style (no batch dimension). Stored so a model
            can build eagerly; images are given channels-last ``(H, W, C)`` as in Keras.
        trainable: ``False`` freezes the layer's weights (``requires_grad=False``).

        dtype: Keras' per-layer dtype (``"float32"``, ``"float64"``); weights made by
            ``add_weight`` use it. Kept in the config when given.
        **keras_kwargs: Keras' ``batch_input_shape`` / ``batch_shape`` / ``input_dim`` (turned
            into ``input_shape``) and ``batch_size`` (ignored); constraints and
            ``activity_regularizer`` raise a ConfigError naming the alternative.

    deepfuse's own layers implement ``_build(shape, factory)`` (create weights) and ``forward``;
    weightless layers set ``built = True`` in their constructor. Keras-style subclasses write
    ``build(input_shape)`` with :meth:`add_weight` and ``call(inputs, training=None)`` instead.

    Example (the keras.io custom layer):
        >>> import torch
        >>> class Linear(Layer):
        ...     def __init__(self, units=32, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.units = units
        ...     def build(self, input_shape):
        ...         self.w = self.add_weight(shape=(input_shape[-1], self.units),
        ...                                  initializer="random_normal")
        ...         self.b = self.add_weight(shape=(self.units,), initializer="zeros")
        ...     def call(self, inputs):
        ...         return inputs @ self.w + self.b
        ...     def get_config(self):
        ...         return {**super().get_config(), "units": self.units}
        >>> layer = Linear(4)
        >>> layer(torch.ones(2, 3)).shape
        torch.Size([2, 4])
        >>> [tuple(w.shape) for w in layer.trainable_weights], layer.count_params()
        ([(3, 4), (4,)], 16)
    """

    #: Number of input dimensions (including batch) the layer accepts; ``None`` = any.
    expected_ndim: ClassVar[tuple[int, ...] | None] = None
    #: dtype of the input a dummy forward pass should use (``None`` = float).
    input_dtype: ClassVar[torch.dtype | None] = None
    #: Name of the output activation (layers with an ``activation`` argument override it).
    activation_name: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            before = LAYER_CLASSES.get(cls.__name__) if cls.__name__ in LAYER_CLASSES else None
            if before is not None and _where(before) != _where(cls):
                # Two different classes share a name: loading must not pick one silently.
                AMBIGUOUS_NAMES.setdefault(cls.__name__, {_where(before)}).add(_where(cls))
            LAYER_CLASSES.register(cls.__name__, cls)
        # A Keras-style ``build(self, input_shape)`` (no device/dtype keywords) is wrapped so
        # deepfuse's loaders can keep calling ``build(shape, device=..., dtype=...)``.
        own_build = cls.__dict__.get("build")
        if own_build is not None and "device" not in inspect.signature(own_build).parameters:
            cls.build = keras_api.wrap_user_build(own_build)  # type: ignore[method-assign]
        # Keras-style subclasses define ``call`` and inherit ``Layer.forward``, which runs it. A
        # ``call`` overriding a deepfuse layer (``class Mine(Dense)``) replaces its forward;
        # ``super().call(x)`` then reaches that forward through ``Layer.call``.
        own_call = "call" in cls.__dict__ and "forward" not in cls.__dict__
        if own_call and cls.forward is not Layer.forward:
            cls._deepfuse_forward = cls.forward
            cls.forward = Layer.forward  # type: ignore[method-assign]
        runs = cls.call if cls.forward is Layer.forward else cls.forward
        cls._forward_takes_training = "training" in inspect.signature(runs).parameters

    def __init__(
        self,
        *,
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        trainable: bool = True,
        dtype: Any = None,
        **keras_kwargs: Any,
    ) -> None:
        super().__init__()
        input_shape = keras_api.keras_base_kwargs(type(self).__name__, keras_kwargs, input_shape)
        keras_api.resolve_dtype(dtype)  # validate early
        self.dtype_name = dtype if dtype is None or isinstance(dtype, str) else str(dtype)[6:]
        self._auto_weight_names: dict[int, str] = {}
        self._weight_regularizers: list[tuple[Any, torch.Tensor]] = []
        self._call_losses: list[torch.Tensor] = []
        self._uses_add_loss = False
        if name is None:
            base = _snake(type(self).__name__)
            _NAME_COUNTS[base] = _NAME_COUNTS.get(base, 0) + 1
            name = f"{base}_{_NAME_COUNTS[base]}"
        self.name = str(name)
        if input_shape is not None:
            if isinstance(input_shape, int):
                input_shape = (input_shape,)
            if not all(d is None or (isinstance(d, int) and d > 0) for d in input_shape):
                raise ConfigError(
                    f"The 'input_shape' argument of {type(self).__name__} must be a tuple of "
                    f"positive ints without the batch dimension, e.g. (28, 28, 1); got {input_shape!r}."
                )
            input_shape = tuple(input_shape)
        self.input_shape: tuple[int, ...] | None = input_shape
        self._trainable = bool(trainable)
        self.built = False
        #: Full input shape used to build the weights (batch dim as ``None``), JSON-able.
        self.build_shape: list[int | None] | None = None

    # ------------------------------------------------------------------ calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the layer: on tensors (torch), or on ``keras.Input`` tensors (functional API).

        ``training=True/False`` (Keras' call argument) runs this one call in that mode, so
        ``generator(z, training=False)`` inside a custom ``train_step`` disables dropout and uses
        BatchNorm's running statistics, as in Keras.
        """
        if symbolic.has_symbolic(args):
            return symbolic.call_layer(self, args, kwargs)
        if "training" in kwargs and not self._forward_takes_training:
            training = kwargs.pop("training")
            if training is not None and bool(training) != self.training:
                with training_mode(self, bool(training)):
                    return super().__call__(*args, **kwargs)
        return super().__call__(*args, **kwargs)

    #: Whether ``forward`` itself takes ``training=`` (then it is passed through untouched).
    _forward_takes_training: ClassVar[bool] = False

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run a Keras-style subclass: ``build(input_shape)`` once, then ``call(...)``.

        ``training`` is passed to ``call`` only when ``call`` accepts it (``self.training``
        when not given), and an explicit ``training=`` also switches the inner layers' mode.
        """
        cls = type(self)
        if cls.call is Layer.call and cls._deepfuse_forward is None:
            raise NotImplementedError(
                f"{cls.__name__} defines neither forward() nor call(); a Keras-style "
                "layer implements call(self, inputs)."
            )
        call = self.call
        if not self.built and args and cls.build is Layer.build and cls._build is Layer._build:
            self.built = True  # weights (if any) were made in __init__
        elif not self.built and args:
            t = keras_api.first_tensor(args[0])
            self.build(
                keras_api.input_shape_of(args[0]),
                device=None if t is None else t.device,
                dtype=None if t is None else t.dtype,
            )
        self._call_losses = []
        training = kwargs.get("training")
        if self._forward_takes_training:
            if training is None:
                kwargs["training"] = self.training
            elif bool(training) != self.training:
                with training_mode(self, bool(training)):
                    return call(*args, **kwargs)
        else:
            kwargs.pop("training", None)
        return call(*args, **kwargs)

    #: The deepfuse ``forward`` that a Keras-style ``call`` override replaced (see above).
    _deepfuse_forward: ClassVar[Any] = None

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """Keras' ``call``: a subclass overriding a deepfuse layer's ``call`` reaches the
        layer's own computation with ``super().call(inputs)``.

        Example:
            >>> import torch
            >>> from deepfuse.layers import Dense
            >>> class Doubled(Dense):
            ...     def call(self, inputs):
            ...         return super().call(inputs) * 2
            >>> layer = Doubled(2, kernel_initializer="ones")
            >>> layer(torch.ones(1, 3)).tolist()
            [[6.0, 6.0]]
        """
        forward = type(self)._deepfuse_forward
        if forward is None:
            raise NotImplementedError(f"{type(self).__name__} does not implement call().")
        return forward(self, *args, **kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        # ``self.w = self.add_weight(...)``: the weight keeps its attribute name in state_dict.
        if isinstance(value, nn.Parameter):
            auto = self.__dict__.get("_auto_weight_names", {}).pop(id(value), None)
            if auto is not None and auto != name and self._parameters.get(auto) is value:
                del self._parameters[auto]
        super().__setattr__(name, value)

    # ------------------------------------------------------------------ building
    @property
    def torch_input_shape(self) -> tuple[int, ...] | None:
        """Per-sample input shape in the layout ``forward`` expects (what a dummy batch needs)."""
        return self.input_shape

    def build(
        self,
        input_shape: Sequence[int | None],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        """Create the weights for inputs of ``input_shape`` (batch dimension included).

        Public so a loader can build from a saved ``build_shape`` before ``load_state_dict``.
        Building twice is a no-op.

        Example:
            >>> from deepfuse.layers import Dense
            >>> layer = Dense(2)
            >>> layer.build([None, 5])
            >>> tuple(layer.weight.shape)
            (2, 5)
        """
        if self.built:
            return
        factory = self.__dict__.get("_weight_factory")
        if factory is not None:  # ``super().build(input_shape)`` inside a Keras-style build
            if type(self)._build is Layer._build:
                return  # nothing to create; the Keras-style build marks the layer built
            device, dtype = device or factory["device"], dtype or factory["dtype"]
        shape = tuple(None if d is None else int(d) for d in input_shape)
        self._check_ndim(shape)
        if dtype is None or not dtype.is_floating_point:
            dtype = torch.get_default_dtype()
        self._build(shape, {"device": device, "dtype": dtype})
        self.build_shape = [None, *shape[1:]]
        self.built = True
        if not self._trainable:
            self.requires_grad_(False)

    def _build(self, shape: tuple[int | None, ...], factory: dict[str, Any]) -> None:
        """Create weights; ``factory`` holds ``device`` and ``dtype`` for tensor constructors."""

    def _lazy_build(self, x: torch.Tensor) -> None:
        # Called once, from the first forward: weights land on the input's device and dtype.
        self.build(tuple(x.shape), device=x.device, dtype=x.dtype)

    def _check_ndim(self, shape: tuple[int | None, ...]) -> None:
        if self.expected_ndim is not None and len(shape) not in self.expected_ndim:
            raise DataError(self._shape_message(shape))

    def _shape_message(self, shape: Sequence[int | None]) -> str:
        ranks = " or ".join(f"{n}-D" for n in (self.expected_ndim or ()))
        return (
            f"{type(self).__name__} '{self.name}' expected a {ranks} input "
            f"{self._expected_layout()}; got shape {tuple(shape)}."
        )

    def _expected_layout(self) -> str:
        return ""

    def _build_shape_from_state(
        self, state: dict[str, torch.Tensor], prefix: str
    ) -> list[int | None] | None:
        """Infer a build shape from saved weights (lets an unbuilt layer ``load_state_dict``)."""
        return None

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # Lazy layers have no weights until built; build them from the saved tensors' shapes so
        # ``load_state_dict`` works on a freshly constructed layer too.
        if not self.built:
            shape = self._build_shape_from_state(state_dict, prefix)
            if shape is not None:
                tensor = next(v for k, v in state_dict.items() if k.startswith(prefix))
                self.build(shape, device=tensor.device, dtype=tensor.dtype)
        super()._load_from_state_dict(state_dict, prefix, *args)

    # ------------------------------------------------------------------ training flags
    @property
    def trainable(self) -> bool:
        """Whether the layer's weights are updated by training (Keras ``layer.trainable``)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        self.requires_grad_(self._trainable)
        for p in self.parameters():  # add_weight(trainable=False) weights stay frozen
            if not getattr(p, "_keras_trainable", True):
                p.requires_grad_(False)

    def regularization_loss(self) -> torch.Tensor | None:
        """Sum of this layer's weight penalties (``kernel_regularizer`` ...), or ``None``.

        The default covers layers with ``weight``/``bias`` and ``kernel_regularizer``/
        ``bias_regularizer`` attributes (Dense, Conv), weights made by ``add_weight(regularizer=)``
        and the tensors the last call passed to ``add_loss``; others override it.
        """
        total = regularizers.total(
            [
                (getattr(self, "kernel_regularizer", None), getattr(self, "weight", None)),
                (getattr(self, "bias_regularizer", None), getattr(self, "bias", None)),
                *self._weight_regularizers,
            ]
        )
        for extra in self._call_losses:
            total = extra if total is None else total + extra
        if total is None and self._uses_add_loss:
            return torch.zeros(())
        return total

    def detach_output_activation(self) -> str | None:
        """Remove the output activation from ``forward`` and return its name (``None`` if none)."""
        return None

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """JSON-able constructor arguments; ``type(self)(**layer.get_config())`` rebuilds it."""
        config: dict[str, Any] = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        if not self._trainable:
            config["trainable"] = False
        if self.dtype_name is not None:
            config["dtype"] = self.dtype_name
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """Rebuild a layer from :meth:`get_config` output."""
        return cls(**config)

    def extra_repr(self) -> str:
        cfg = self.get_config()
        cfg.pop("name", None)
        return ", ".join(f"{k}={v!r}" for k, v in cfg.items())


# ---------------------------------------------------------------------- helpers
@contextmanager
def training_mode(module: nn.Module, training: bool) -> Iterator[None]:
    """Run a block with ``module`` (and its children) in train or eval mode, then restore each
    submodule's own mode.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Dropout(0.5))
        >>> with training_mode(net, False):
        ...     net[0].training
        False
        >>> net[0].training
        True
    """
    modes = [(m, m.training) for m in module.modules()]
    module.train(training)
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def channels_first_shape(shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """Per-sample image shape to ``(C, H, W)``.

    Keras gives image shapes channels-last ``(H, W, C)``; a shape that already looks
    channels-first (first axis 1, 3 or 4, last axis not, and not a square ``(H, H, C)``) is
    kept as it is: ``(1, 28, 28)`` stays, ``(4, 4, 512)`` is a 4x4 map of 512 channels.

    Example:
        >>> channels_first_shape((28, 28, 1)), channels_first_shape((1, 28, 28))
        ((1, 28, 28), (1, 28, 28))
        >>> channels_first_shape((4, 4, 512)), channels_first_shape((3, 3, 2))
        ((512, 4, 4), (2, 3, 3))
    """
    if shape is None or len(shape) != 3:
        return shape
    if shape[0] in (1, 3, 4) and shape[-1] not in (1, 3, 4) and shape[0] != shape[1]:
        return tuple(shape)
    return (shape[2], shape[0], shape[1])


def check_positive_int(layer: str, arg: str, value: Any, *, allow_zero: bool = False) -> int:
    """Return ``value`` as int or raise the one-line ConfigError naming layer and argument."""
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "non-negative" if allow_zero else "positive"
        raise ConfigError(f"The '{arg}' argument of {layer} must be a {kind} int; got {value!r}.")
    return int(value)


def check_rate(layer: str, arg: str, value: Any) -> float:
    """Validate a probability in ``[0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ConfigError(
            f"The '{arg}' argument of {layer} must be a float in [0, 1); got {value!r}."
        )
    return float(value)


def check_choice(layer: str, arg: str, value: Any, choices: Sequence[str]) -> str:
    """Validate a string option against its allowed values."""
    if not isinstance(value, str) or value.lower() not in choices:
        raise invalid_choice(f"'{arg}' value for {layer}", value, choices)
    return value.lower()


def int_tuple(layer: str, arg: str, value: Any, n: int) -> tuple[int, ...]:
    """Normalise an int or a length-``n`` sequence of positive ints into a tuple."""
    items = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    if len(items) != n or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in items
    ):
        raise ConfigError(
            f"The '{arg}' argument of {layer} must be a positive int or a tuple of {n} positive "
            f"ints; got {value!r}."
        )
    return items


class _Activated(Layer):
    """Shared ``activation=`` handling: the resolved function is called inline in ``forward``."""

    def _set_activation(self, activation: Any, *, axis: int = -1) -> None:
        from deepfuse.layers import activations

        self.activation_name, self._act = activations.resolve(activation, axis=axis)
        self._activation_config = activations.config_value(activation)

    def detach_output_activation(self) -> str | None:
        """Drop the activation from ``forward`` (the model fuses it into the loss); return its name.

        ``get_config`` still reports the constructor's activation, so a saved model rebuilds the
        layer as the user wrote it and the model detaches it again when it fuses the loss.
        """
        name = self.activation_name
        self.activation_name, self._act = None, None
        return name
