"""The Keras ``Layer`` subclass API on top of :class:`~deepfuse.layers.Layer`.

Users write custom layers as in keras.io ("Making new layers and models via subclassing"):
``build(input_shape)`` creates weights with ``add_weight``, ``call(inputs)`` computes. This
module holds the machinery: wrapping a user ``build`` so deepfuse's loaders can still call
``build(shape, device=..., dtype=...)``, creating weights in Keras' layout, the
``get_weights`` / ``set_weights`` family, Keras' base-layer arguments, and the translation of
Keras' channels-last ``data_format`` / axis arguments for NCHW image tensors.

Example:
    >>> import torch
    >>> from deepfuse import layers
    >>> class Scale(layers.Layer):
    ...     def build(self, input_shape):
    ...         self.s = self.add_weight(shape=(input_shape[-1],), initializer="ones")
    ...     def call(self, inputs):
    ...         return inputs * self.s
    >>> layer = Scale()
    >>> layer(torch.ones(2, 3)).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    >>> [w.shape for w in layer.get_weights()]
    [(3,)]
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import ConfigError, DataError, invalid_choice
from deepfuse._utils.variables import KerasVariable
from deepfuse.layers import initializers, regularizers
from deepfuse.layers.weight_layout import own_tensors, set_weights

__all__ = [
    "KerasWeights",
    "add_weight",
    "check_data_format",
    "first_tensor",
    "input_shape_of",
    "keras_axis",
    "keras_base_kwargs",
    "missing_config_args",
    "resolve_dtype",
    "wrap_user_build",
]


class KerasWeights:
    """Keras' weight API, mixed into :class:`~deepfuse.layers.Layer` (an ``nn.Module``)."""

    name: str
    built: bool
    _call_losses: list[torch.Tensor]
    _uses_add_loss: bool
    parameters: Callable[..., Any]
    buffers: Callable[..., Any]

    # ------------------------------------------------------------------ Keras weight API
    def add_weight(
        self,
        shape: Sequence[int] | None = None,
        initializer: Any = "glorot_uniform",
        dtype: Any = None,
        trainable: bool = True,
        regularizer: Any = None,
        constraint: Any = None,
        name: str | None = None,
    ) -> nn.Parameter:
        """Create a weight of Keras ``shape`` (e.g. ``(in, units)``), register it, return it.

        Call it from ``build`` (weights land on the first input's device) or from ``__init__``
        when the shape is known. ``initializer`` takes Keras names; ``trainable=False`` makes a
        frozen ``nn.Parameter``; ``regularizer`` counts in :meth:`regularization_loss`.

        Example:
            >>> from deepfuse.layers import Layer
            >>> layer = Layer()
            >>> w = layer.add_weight(shape=(2, 3), initializer="ones", name="kernel")
            >>> tuple(w.shape), layer.kernel.requires_grad
            ((2, 3), True)
        """
        return add_weight(self, shape, initializer, dtype, trainable, regularizer, constraint, name)

    def add_loss(self, loss: torch.Tensor) -> None:
        """Add a scalar to the training loss (Keras ``add_loss``, called from ``call``).

        The tensors added during the latest call are summed into :meth:`regularization_loss`.

        Example:
            >>> import torch
            >>> from deepfuse.layers import Layer
            >>> layer = Layer()
            >>> layer.add_loss(torch.tensor(0.5))
            >>> float(layer.regularization_loss())
            0.5
        """
        self._uses_add_loss = True
        self._call_losses.append(torch.as_tensor(loss).sum())

    @property
    def losses(self) -> list[torch.Tensor]:
        """The tensors ``add_loss`` received during the latest call (Keras ``layer.losses``)."""
        return list(self._call_losses)

    @property
    def weights(self) -> list[torch.Tensor]:
        """All weights: parameters, then float buffers such as BatchNorm's running statistics.

        Shapes are torch's (``Dense``'s weight is ``(units, in)``); weights of a Keras-style
        layer made by ``add_weight`` have the shape given there.
        """
        buffers = [b for b in self.buffers() if b.is_floating_point()]
        return [*self.parameters(), *buffers]

    @property
    def trainable_weights(self) -> list[nn.Parameter]:
        """Weights that training updates (``requires_grad``)."""
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[torch.Tensor]:
        """Frozen parameters and float buffers."""
        frozen = [p for p in self.parameters() if not p.requires_grad]
        return [*frozen, *(b for b in self.buffers() if b.is_floating_point())]

    @property
    def trainable_variables(self) -> list[nn.Parameter]:
        """Keras alias of :attr:`trainable_weights`."""
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list[torch.Tensor]:
        """Keras alias of :attr:`non_trainable_weights`."""
        return self.non_trainable_weights

    @property
    def variables(self) -> list[torch.Tensor]:
        """Keras alias of :attr:`weights`."""
        return self.weights

    def keras_weights(self) -> list[torch.Tensor]:
        """The weights in Keras' order and layout (one override per layer class).

        The default is the tensors as they are: the layer's own parameters, then its float
        buffers (BatchNorm's moving statistics), then each sublayer's ``keras_weights``. Layers
        whose torch layout differs from Keras' (``Dense``, convolutions, recurrent layers)
        override it together with :meth:`set_keras_weights`.

        Example:
            >>> from deepfuse.layers import Dense
            >>> layer = Dense(2)
            >>> layer.build([None, 3])
            >>> [tuple(w.shape) for w in layer.keras_weights()]
            [(3, 2), (2,)]
        """
        return [t.detach() for t in own_tensors(self)]

    def set_keras_weights(self, values: Sequence[torch.Tensor]) -> None:
        """Write tensors in :meth:`keras_weights`' order and shapes into the layer (already
        checked by :meth:`set_weights`; the default copies them into the tensors as they are)."""
        with torch.no_grad():
            for w, v in zip(own_tensors(self), values, strict=True):
                w.copy_(v)

    def get_weights(self) -> list[Any]:
        """The weights as numpy arrays (copies) in Keras' order and layout.

        ``Dense``'s kernel is ``(in, units)``, so ``x @ kernel + bias`` in numpy gives the
        layer's output; see :meth:`keras_weights` for each layer's layout.

        Example:
            >>> from deepfuse.layers import Dense
            >>> layer = Dense(2)
            >>> layer.build([None, 3])
            >>> [w.shape for w in layer.get_weights()]
            [(3, 2), (2,)]
        """
        return [w.cpu().numpy().copy() for w in self.keras_weights()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Load numpy arrays in the order and shapes :meth:`get_weights` returns (Keras' layout).

        Example:
            >>> import numpy as np
            >>> from deepfuse.layers import Dense
            >>> layer = Dense(1)
            >>> layer.build([None, 2])
            >>> layer.set_weights([np.ones((2, 1)), np.zeros(1)])
            >>> layer.weight.sum().item()
            2.0
        """
        set_weights(self, weights)

    def count_params(self) -> int:
        """Number of values in all weights, as Keras counts them: parameters and BatchNorm's
        moving statistics (the layer must be built)."""
        if not self.built:
            raise DataError(
                f"count_params() of {type(self).__name__} '{self.name}': the layer is not "
                "built yet; call it on a batch (or build(input_shape)) first."
            )
        return sum(w.numel() for w in self.weights)


def resolve_dtype(dtype: Any) -> torch.dtype | None:
    """``"float32"`` / ``torch.float64`` / ``None`` -> torch dtype (mixed policies -> None).

    Example:
        >>> resolve_dtype("float64"), resolve_dtype("mixed_float16")
        (torch.float64, None)
    """
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and isinstance(getattr(torch, dtype, None), torch.dtype):
        return getattr(torch, dtype)
    if isinstance(dtype, str) and dtype.startswith("mixed_"):
        return None  # Keras mixed-precision policy ("mixed_float16"): weights stay float32
    raise ConfigError(
        f"dtype must be a torch dtype or a name like 'float32' or 'float64'; got {dtype!r}."
    )


def input_shape_of(value: Any) -> Any:
    """Keras ``input_shape`` for a call's first argument: a tuple, or a list of tuples."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, list | tuple):
        return [input_shape_of(v) for v in value]
    if isinstance(value, dict):
        return {k: input_shape_of(v) for k, v in value.items()}
    return None


def first_tensor(value: Any) -> torch.Tensor | None:
    """The first tensor inside a (nested) call argument, for its device and dtype."""
    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, dict) else value
    if isinstance(items, list | tuple) or isinstance(value, dict):
        for v in items:
            t = first_tensor(v)
            if t is not None:
                return t
    return None


def wrap_user_build(user_build: Callable[..., None]) -> Callable[..., None]:
    """Turn a Keras ``build(self, input_shape)`` into deepfuse's public ``build``.

    The wrapper accepts deepfuse's ``device=`` / ``dtype=`` keywords (weights made by
    ``add_weight`` inside land there), runs the user's build once, then marks the layer built.
    A ``super().build(input_shape)`` chain inside user code runs the parent's body directly.
    """

    @functools.wraps(user_build)
    def build(
        self: Any,
        input_shape: Any,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if self.built:
            return
        if getattr(self, "_in_user_build", False):
            user_build(self, input_shape)
            return
        if dtype is None or not dtype.is_floating_point:
            dtype = torch.get_default_dtype()
        self._weight_factory = {"device": device, "dtype": dtype}
        self._in_user_build = True
        try:
            user_build(self, input_shape)
        finally:
            self._in_user_build = False
            self._weight_factory = None
        if isinstance(input_shape, Sequence) and all(
            d is None or isinstance(d, int) for d in input_shape
        ):
            self.build_shape = [None, *(None if d is None else int(d) for d in input_shape[1:])]
        self.built = True
        if not self._trainable:
            self.requires_grad_(False)

    return build


# Keras base-layer arguments that deepfuse cannot honour: ignoring them would change results.
_REFUSED = {
    "activity_regularizer": "add the penalty with self.add_loss(...) in a Layer subclass's call()",
    "kernel_constraint": "clamp the weights in a callback after each step",
    "bias_constraint": "clamp the weights in a callback after each step",
    "embeddings_constraint": "clamp the weights in a callback after each step",
    "recurrent_constraint": "clamp the weights in a callback after each step",
    "beta_constraint": "clamp the weights in a callback after each step",
    "gamma_constraint": "clamp the weights in a callback after each step",
    "depthwise_constraint": "clamp the weights in a callback after each step",
}
# Keras arguments with no effect on results here.
_IGNORED = ("batch_size", "autocast", "seed", "input_length_hint")


def keras_base_kwargs(layer: str, kwargs: dict[str, Any], input_shape: Any) -> Any:
    """Resolve Keras' extra base-layer arguments; return the per-sample ``input_shape``.

    ``batch_input_shape`` / ``batch_shape`` drop their batch entry, ``input_dim`` means
    ``(input_dim,)``; constraints and activity regularizers are refused with the alternative.
    """
    for key in ("batch_input_shape", "batch_shape"):
        shape = kwargs.pop(key, None)
        if shape is not None and input_shape is None:
            input_shape = tuple(shape)[1:]
    dim = kwargs.pop("input_dim", None)
    if dim is not None and input_shape is None:
        input_shape = (dim,)
    for key in _IGNORED:
        kwargs.pop(key, None)
    for key, value in kwargs.items():
        if value is None:
            continue
        if key in _REFUSED:
            raise ConfigError(
                f"{layer}({key}=...) is not supported by deepfuse (it would be ignored and "
                f"change the results); remove it and {_REFUSED[key]}."
            )
        raise ConfigError(f"{layer} got an unknown argument {key!r}; check the spelling.")
    return input_shape


def _keras_init(spec: Any, shape: tuple[int, ...], factory: dict[str, Any]) -> torch.Tensor:
    # deepfuse's initialisers compute fans from torch's (out, in, *kernel) layout; Keras weights
    # are (*kernel, in, out). Initialise the torch layout, then move the axes to Keras order.
    if len(shape) < 2:
        return initializers.apply(spec, torch.empty(shape, **factory))
    torch_shape = (shape[-1], shape[-2], *shape[:-2])
    t = initializers.apply(spec, torch.empty(torch_shape, **factory))
    order = (*range(2, len(shape)), 1, 0)
    return t.permute(order).contiguous()


class Variable(KerasVariable, nn.Parameter):
    """A weight made by ``add_weight``: an ``nn.Parameter`` with Keras' variable methods
    (``assign``, ``assign_add``, ``assign_sub``, ``numpy()``, ``value``).

    Example:
        >>> import torch
        >>> v = Variable(torch.zeros(2), requires_grad=False)
        >>> v.assign_add(torch.ones(2)).numpy().tolist()
        [1.0, 1.0]
    """


def add_weight(
    layer: Any,
    shape: Sequence[int] | None,
    initializer: Any,
    dtype: Any,
    trainable: bool,
    regularizer: Any,
    constraint: Any,
    name: str | None,
) -> nn.Parameter:
    """Create, register and return one weight (see ``Layer.add_weight``)."""
    cls = type(layer).__name__
    shape = () if shape is None else (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ConfigError(
            f"add_weight of {cls} '{layer.name}' needs a shape of non-negative ints; got "
            f"{shape!r}. Use the known sizes from build(input_shape)."
        )
    if constraint is not None:
        raise ConfigError(
            f"add_weight(constraint=...) of {cls} is not supported: deepfuse does not project "
            "weights after each step. Clamp the weight in call() instead."
        )
    factory = dict(getattr(layer, "_weight_factory", None) or {})
    factory.setdefault("dtype", torch.get_default_dtype())
    wanted = resolve_dtype(dtype) or resolve_dtype(getattr(layer, "dtype_name", None))
    if wanted is not None:
        factory["dtype"] = wanted
    if callable(initializer) and not isinstance(initializer, str):
        data = _call_initializer(initializer, shape, factory)
    else:
        initializers.check(initializer)
        data = _keras_init(initializer, shape, factory)
    param = Variable(data, requires_grad=bool(trainable) and layer._trainable)
    param._keras_trainable = bool(trainable)  # type: ignore[attr-defined]
    key = _free_name(layer, name or "weight")
    layer.register_parameter(key, param)
    layer._auto_weight_names[id(param)] = key
    reg = regularizers.get(regularizer)
    if reg is not None:
        layer._weight_regularizers.append((reg, param))
    return param


@torch.no_grad()
def _call_initializer(
    fn: Callable[..., Any], shape: tuple[int, ...], factory: dict[str, Any]
) -> torch.Tensor:
    """Keras' ``fn(shape, dtype=None) -> values`` or deepfuse's in-place ``fn(tensor)``."""
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    if params and params[0] == "shape":
        out = fn(shape, dtype=factory["dtype"]) if "dtype" in params else fn(shape)
        data = torch.as_tensor(out).to(**factory)
        if tuple(data.shape) != shape:
            raise ConfigError(
                f"The initializer {getattr(fn, '__name__', fn)!r} returned shape "
                f"{tuple(data.shape)} for a weight of shape {shape}."
            )
        return data
    data = torch.empty(shape, **factory)
    out = fn(data)
    return out.to(**factory) if isinstance(out, torch.Tensor) and out is not data else data


def _free_name(layer: Any, base: str) -> str:
    base = base.replace(".", "_") or "weight"
    taken = set(layer._parameters) | set(layer._buffers) | set(layer._modules)
    if base not in taken and not hasattr(type(layer), base):
        return base
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


def missing_config_args(layer: Any, config: dict[str, Any]) -> list[str]:
    """Constructor arguments of ``layer`` that its ``get_config`` does not return.

    Only arguments without a default count, plus every named argument when the class does
    not override ``get_config`` at all (Keras raises for those custom arguments too).
    """
    from deepfuse.layers.base import Layer

    cls = type(layer)
    if cls.__init__ is Layer.__init__:
        return []
    own_config = any("get_config" in c.__dict__ for c in cls.__mro__ if c is not Layer)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    missing = []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in config:
            continue
        if p.default is p.empty or not own_config:
            missing.append(p.name)
    return missing


def check_data_format(layer: str, value: str | None) -> str:
    """Keras' ``data_format`` of a 2-D image layer: both values run the same NCHW code.

    ``"channels_last"`` (Keras' default) is honoured because images are converted to NCHW once
    when data enters the model; ``"channels_first"`` means the data already is NCHW.
    """
    if value is None:
        return "channels_last"
    choices = ("channels_last", "channels_first")
    if not isinstance(value, str) or value.lower() not in choices:
        raise invalid_choice(f"'data_format' value for {layer}", value, choices)
    return value.lower()


def keras_axis(axis: int, ndim: int, channels_last: bool = True) -> int:
    """torch axis of Keras ``axis`` for an ``ndim``-D tensor (Keras axes of 4-D images are NHWC).

    On 4-D NCHW image tensors Keras' channels-last axes translate as -1/3 -> 1 (channels),
    1 -> 2 (height), 2 -> 3 (width), 0 -> 0; other ranks, or ``channels_last=False``, keep the
    axis as torch reads it (made non-negative).

    Example:
        >>> keras_axis(-1, 4), keras_axis(1, 4), keras_axis(-1, 3), keras_axis(1, 4, False)
        (1, 2, 2, 1)
    """
    if not -ndim <= axis < ndim:
        raise DataError(f"axis {axis} is out of range for a {ndim}-D input.")
    axis %= ndim
    if channels_last and ndim == 4:
        return (0, 2, 3, 1)[axis]
    return axis
