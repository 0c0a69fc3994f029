"""Small structural helpers for ``Model``: the output layer, the fused final activation, unbuilt
lazy layers, and the image layout at the model's interface (channels-last arrays are converted
once at the data boundary; :func:`interface_format` decides whether the model speaks it).

Example:
    >>> import torch
    >>> to_model_layout(torch.zeros(2, 28, 28, 1), "channels_last").shape
    torch.Size([2, 1, 28, 28])
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "Fusion",
    "final_activation",
    "fuse_output_activation",
    "has_unbuilt_layers",
    "infer_input_layout",
    "interface_format",
    "keras_shape",
    "logits_outputs",
    "output_layer",
    "to_interface_layout",
    "to_model_layout",
]

_CHANNEL_SIZES = (1, 3, 4)  # grayscale, RGB, RGBA


def _is_layer(module: nn.Module) -> bool:
    # A deepfuse layer that owns torch submodules (LSTM, Bidirectional) is one layer.
    return type(module).__module__.startswith("deepfuse.layers")


def _runs_its_module(module: nn.Module) -> bool:
    """A deepfuse ``Model``/``Sequential`` whose forward is deepfuse's: ``self.module(x)``."""
    return isinstance(getattr(module, "module", None), nn.Module) and type(
        module
    ).forward.__module__.startswith("deepfuse.models")


def output_layer(model: nn.Module) -> tuple[nn.Module | None, str, nn.Module] | None:
    """(parent, name, layer) of the layer whose output IS the model's output, or None.

    Certain only along a chain of ``nn.Sequential`` containers (deepfuse ``Sequential`` models
    and ``Model(nn.Sequential(...))`` wrappers included, nested as in ``Sequential([generator,
    discriminator])``); trailing Dropout/Identity are skipped. A custom ``forward`` may return
    any submodule's output whatever the order the submodules were assigned in: None.
    """
    parent: nn.Module | None = None
    name, mod = "", model
    while True:
        if _is_layer(mod):
            return parent, name, mod
        if _runs_its_module(mod):
            parent, name, mod = mod, "module", mod.module  # type: ignore[assignment]
        elif isinstance(mod, nn.Sequential):
            children = [
                (n, c)
                for n, c in mod.named_children()
                if type(c).__name__ not in ("Dropout", "Identity")
            ]
            if not children:
                return None
            parent, (name, mod) = mod, children[-1]
        elif not list(mod.children()):
            return parent, name, mod  # a torch leaf (nn.Softmax, nn.Linear, ...)
        else:
            return None


def final_activation(model: nn.Module) -> Fusion | None:
    """The final softmax/sigmoid of ``model`` as a :class:`Fusion` (the loss not yet set), or None.

    Handles deepfuse layers (``activation="softmax"`` or an ``Activation`` layer) and torch's own
    ``nn.Softmax``/``nn.Sigmoid`` at the end of an ``nn.Sequential``. Nothing is changed.
    """
    found = output_layer(model)
    if found is None:
        return None
    parent, name, layer = found
    activation = getattr(layer, "activation_name", None)
    if activation in ("softmax", "sigmoid") and callable(
        getattr(layer, "detach_output_activation", None)
    ):
        return Fusion(parent, name, layer, activation)
    if isinstance(layer, nn.Softmax | nn.Sigmoid) and parent is not None:
        return Fusion(
            parent, name, layer, "softmax" if isinstance(layer, nn.Softmax) else "sigmoid"
        )
    return None


def outputs_probabilities(model: nn.Module) -> bool:
    """Whether ``model(x)`` returns probabilities that were not fused into its loss: a final
    softmax/sigmoid that :func:`final_activation` finds, or a compiled loss that takes
    probabilities (a Keras loss with ``from_logits=False``). The second covers networks whose
    last layer cannot be located (a functional graph, a custom ``forward``): a Keras loss
    without ``from_logits=True`` means the outputs are probabilities (Keras' contract), so
    classification metrics must threshold them at 0.5, not at logit 0.

    Example:
        >>> import deepfuse as df
        >>> model = df.Model(torch.nn.Linear(3, 1))
        >>> model.compile(optimizer="adam", loss="binary_crossentropy")
        >>> outputs_probabilities(model)
        True
        >>> model.compile(optimizer="adam", loss="bce")  # deepfuse's BCE takes logits
        >>> outputs_probabilities(model)
        False
    """
    if final_activation(model) is not None:
        return True
    return getattr(getattr(model, "compiled_loss", None), "from_logits", None) is False


@dataclass
class Fusion:
    """A final softmax/sigmoid that the model's own compiled steps compute inside the loss.

    The network keeps its activation: ``model(x)`` returns probabilities everywhere (also when a
    compiled model is reused inside another one). Only inside :func:`logits_outputs` (the
    built-in ``train_step``/``test_step`` of the model that owns the fusion) is the last layer run
    without it, with ``logits_loss`` (the from-logits form of the compiled loss) as the loss, so
    training pays for no extra softmax and gets the stable log-sum-exp loss.
    """

    parent: nn.Module | None
    name: str
    layer: nn.Module
    activation: str
    logits_loss: object = None
    # The layer attributes that detaching changes: their values with and without the activation
    # (learnt on the first switch, then two dict updates per step).
    _on: dict[str, object] | None = None
    _off: dict[str, object] | None = None

    def switch_off(self) -> None:
        """Run the last layer without its activation."""
        layer = self.layer
        if isinstance(layer, nn.Softmax | nn.Sigmoid):
            self.parent._modules[self.name] = _IDENTITY  # type: ignore[union-attr]
        elif self._off is None:
            before = dict(vars(layer))
            layer.detach_output_activation()  # type: ignore[operator]
            after = vars(layer)
            keys = [k for k, v in before.items() if after.get(k, _MISSING) is not v]
            self._on = {k: before[k] for k in keys}
            self._off = {k: after[k] for k in keys}
        else:
            vars(layer).update(self._off)

    def switch_on(self) -> None:
        """Put the activation back."""
        if isinstance(self.layer, nn.Softmax | nn.Sigmoid):
            self.parent._modules[self.name] = self.layer  # type: ignore[union-attr]
        else:
            vars(self.layer).update(self._on or {})


def fuse_output_activation(model: nn.Module, loss_fn: object) -> Fusion | None:
    """The :class:`Fusion` of ``model``'s final softmax/sigmoid with ``loss_fn``, or None.

    Regression and custom losses (no ``from_logits``) fuse nothing.
    """
    if not hasattr(loss_fn, "from_logits"):
        return None
    fusion = final_activation(model)
    if fusion is not None:
        fusion.logits_loss = loss_fn if loss_fn.from_logits else loss_fn.as_logits()  # type: ignore[attr-defined]
    return fusion


@contextmanager
def logits_outputs(model: nn.Module) -> Iterator[None]:
    """Run a block with ``model``'s fused final activation switched off and its loss from logits.

    A few attribute swaps on entry and exit (no per-call cost inside); a no-op for a model
    without a fusion. Everything is restored, also when the block raises.

    Example:
        >>> import torch, deepfuse as df
        >>> model = df.Sequential([df.layers.Dense(3, activation="softmax")])
        >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        >>> x = torch.randn(4, 5)
        >>> with logits_outputs(model):
        ...     logits = model(x)
        >>> bool(torch.allclose(logits.softmax(1), model(x)))  # model(x): probabilities again
        True
    """
    fusion: Fusion | None = getattr(model, "_fusion", None)
    if fusion is None:
        yield
        return
    loss = model.compiled_loss
    fusion.switch_off()
    object.__setattr__(model, "compiled_loss", fusion.logits_loss)
    try:
        yield
    finally:
        object.__setattr__(model, "compiled_loss", loss)
        fusion.switch_on()


_MISSING = object()
_IDENTITY = nn.Identity()


def has_unbuilt_layers(model: nn.Module) -> bool:
    """True when a lazy layer still waits for its first input."""
    for m in model.modules():
        if getattr(m, "built", True) is False:
            return True
        if isinstance(m, nn.modules.lazy.LazyModuleMixin) and m.has_uninitialized_params():
            return True
    return False


def _is_conv2d(layer: nn.Module) -> bool:
    return isinstance(layer, nn.Conv2d | nn.ConvTranspose2d) or type(layer).__name__ in (
        "Conv2D",
        "Conv2DTranspose",
    )


def infer_input_layout(model: nn.Module, x: torch.Tensor) -> str | None:
    """Decide once how image arrays must be turned into NCHW for a model with a 2-D convolution.

    Decided from the whole model (never from which submodule was assigned first): the
    ``input_shape`` declared by any of its layers, else the data. Returns "channels_last" for
    (N, H, W, C) arrays with C in 1/3/4, "add_channel" for (N, H, W) arrays, or None (use as is).

    Example:
        >>> import deepfuse as df
        >>> net = df.Sequential([df.layers.Dense(4), df.layers.Conv2D(2, 3)])
        >>> infer_input_layout(net, torch.zeros(2, 28, 28, 1))
        'channels_last'
    """
    if not x.is_floating_point() or not any(_is_conv2d(m) for m in model.modules()):
        return None
    if x.dim() == 3:
        return "add_channel"
    if x.dim() != 4:
        return None
    declared = [
        tuple(shape)
        for m in model.modules()
        if len(shape := vars(m).get("input_shape") or ()) == 3  # a layer's declared shape
        and all(isinstance(d, int) for d in shape)
    ]
    if declared:  # Keras declares (H, W, C): the data must match it
        return (
            "channels_last"
            if any(
                tuple(x.shape[1:]) == d and d[-1] in _CHANNEL_SIZES and d[0] not in _CHANNEL_SIZES
                for d in declared
            )
            else None
        )
    if x.shape[-1] in _CHANNEL_SIZES and x.shape[1] not in _CHANNEL_SIZES:
        return "channels_last"
    return None


def interface_format(model: nn.Module) -> str | None:
    """``"channels_last"`` when ``model`` speaks Keras' channels-last images at its interface.

    THE one place that decides it: images given channels-last (a declared ``(H, W, C)`` input,
    NHWC or (N, H, W) arrays given to ``fit``), or images made by a channels-last ``Reshape``
    (a Keras generator's ``Reshape((7, 7, 256))``). Image targets are then converted like the
    inputs, and ``predict`` returns 4-D outputs channels-last again.

    Example:
        >>> import deepfuse as df
        >>> model = df.Sequential([df.layers.Conv2D(2, 3, input_shape=(8, 8, 1))])
        >>> interface_format(model)
        'channels_last'
    """
    if getattr(model, "input_layout", None) in ("channels_last", "add_channel"):
        return "channels_last"
    for m in model.modules():
        target = getattr(m, "target_shape", None)
        if getattr(m, "data_format", None) == "channels_last" and len(target or ()) == 3:
            return "channels_last"
    return None


def keras_shape(shape: tuple[int | None, ...], data_format: str | None) -> tuple[int | None, ...]:
    """A shape with batch axis in Keras' layout: ``(None, C, H, W)`` -> ``(None, H, W, C)``.

    Example:
        >>> keras_shape((None, 1, 28, 28), "channels_last")
        (None, 28, 28, 1)
    """
    if data_format == "channels_last" and len(shape) == 4:
        return (shape[0], shape[2], shape[3], shape[1])
    return tuple(shape)


def to_interface_layout(y: torch.Tensor, data_format: str | None) -> torch.Tensor:
    """A 4-D NCHW output back to NHWC for a channels-last model (other outputs as they are)."""
    if data_format == "channels_last" and y.dim() == 4:
        return y.permute(0, 2, 3, 1)
    return y


def to_model_layout(x: torch.Tensor, input_layout: str | None) -> torch.Tensor:
    """Apply the layout decided by :func:`infer_input_layout` (a copy made once, not per batch)."""
    # Arrays that already look channels-first (N, C, H, W) are left alone.
    if input_layout == "channels_last" and x.dim() == 4 and x.shape[1] not in _CHANNEL_SIZES:
        return x.permute(0, 3, 1, 2).contiguous()
    if input_layout == "add_channel" and x.dim() == 3:
        return x.unsqueeze(1)
    return x
