"""``Sequential``: a plain stack of layers, as in Keras.

Example:
    >>> import deepfuse as df
    >>> model = df.Sequential([
    ...     df.layers.Dense(128, activation="relu", input_shape=(784,)),
    ...     df.layers.Dropout(0.2),
    ...     df.layers.Dense(10, activation="softmax"),
    ... ])
    >>> model.count_params()
    101770
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import UserError
from deepfuse.layers.symbolic import SymbolicTensor
from deepfuse.models.functional import Functional
from deepfuse.models.model import Model
from deepfuse.models.serialization import input_dtype

__all__ = ["Sequential"]


class Sequential(Model):
    """A model made of layers applied one after the other.

    Args:
        layers: deepfuse layers or any ``nn.Module`` (each gets the previous output).
        name: A display name.

    When the first layer declares ``input_shape`` (Keras style, without the batch dimension),
    the model is built at once so ``summary()`` works before ``fit``. Otherwise it is built from
    the first batch.
    """

    def __init__(
        self, layers: Iterable[nn.Module] | None = None, *, name: str | None = None
    ) -> None:
        super().__init__(nn.Sequential(), name=name or "sequential")
        for layer in layers or []:
            self.add(layer, build=False)
        self._maybe_build_from_input_shape()

    @property
    def layers(self) -> list[nn.Module]:
        """The layers, in order (a declared ``keras.Input`` is not one, as in Keras)."""
        from deepfuse.layers import InputLayer

        return [layer for layer in self.module if not isinstance(layer, InputLayer)]

    def _symbolic_graph(self) -> Functional | None:
        """The model as a functional graph on a ``keras.Input`` of its declared input shape
        (what ``model.inputs``, ``model.outputs`` and each ``layer.output`` read), or ``None``
        when no input shape was declared. Built once per list of layers."""
        key = tuple(id(layer) for layer in self.module)
        cached = self.__dict__.get("_trace")
        if cached is not None and cached[0] == key:
            return cached[1]
        declared = _declared_input(self.module[0]) if len(self.module) else None
        if declared is None:
            return None
        from deepfuse.layers.symbolic import Input

        inputs = x = Input(shape=declared[0], dtype=declared[1], name=declared[2])
        for layer in self.layers:
            x = layer(x)
        graph = Functional(inputs, x)
        object.__setattr__(self, "_trace", (key, graph))  # not a submodule: no second state_dict
        return graph

    def add(self, layer: nn.Module, *, build: bool = True) -> None:
        """Append a layer (Keras ``model.add``); builds it at once when the input shape is known."""
        if isinstance(layer, SymbolicTensor) and layer.node.layer is None:
            layer = _input_layer(layer)  # Sequential([keras.Input(shape=...), ...])
        if not isinstance(layer, nn.Module):
            raise UserError(f"Sequential layers must be torch.nn.Module objects; got {layer!r}.")
        self.module.append(layer)
        if build:
            self._maybe_build_from_input_shape()

    def forward(self, x: Any) -> Any:
        return self.module(x)

    def _maybe_build_from_input_shape(self) -> None:
        if not len(self.module):
            return
        first = self.module[0]
        if isinstance(first, Model):  # a nested model: Sequential([generator, discriminator])
            if not first.input_spec or len(first.input_spec) != 1:
                return
            (spec,) = first.input_spec.values()
            shape, dtype = tuple(spec["shape"]), input_dtype(spec["dtype"])
            self.input_layout = first.input_layout
            self.setup({"x": torch.zeros((2, *shape), dtype=dtype)}, for_training=False)
            return
        declared = getattr(first, "input_shape", None)
        if not declared:
            return
        # Layers translate Keras' channels-last image shapes to the layout forward() expects.
        shape = tuple(getattr(first, "torch_input_shape", None) or declared)
        if len(shape) == 3 and tuple(shape) != tuple(declared):
            self.input_layout = "channels_last"  # arrays are converted once at the data boundary
        dtype = getattr(first, "input_dtype", None) or torch.float32
        # A dimension declared None (sequences of any length) gets a stand-in size.
        example = torch.zeros((2, *(40 if d is None else d for d in shape)), dtype=dtype)
        self.setup({"x": example}, for_training=False)
        # Keras: with a declared input, every layer.output exists at once. A layer that cannot
        # run symbolically only makes model.inputs raise (with the reason) when asked.
        with contextlib.suppress(UserError):
            self._symbolic_graph()

    def get_architecture(self) -> dict[str, Any]:
        from deepfuse.models.serialization import module_spec

        return {"kind": "sequential", "layers": [module_spec(layer) for layer in self.module]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Sequential:
        """Rebuild from :meth:`get_config` (Keras' ``Sequential.from_config``).

        Example:
            >>> import deepfuse as df
            >>> model = df.Sequential([df.layers.Dense(2, input_shape=(3,))], name="tiny")
            >>> clone = df.Sequential.from_config(model.get_config())
            >>> clone.name, clone.count_params()
            ('tiny', 8)
        """
        from deepfuse.models.serialization import module_from_spec

        return cls([module_from_spec(spec) for spec in config["layers"]], name=config.get("name"))


def _declared_input(first: nn.Module) -> tuple[tuple[Any, ...], str, str | None] | None:
    """``(Keras shape, dtype, name)`` of the input a Sequential's first layer declares."""
    from deepfuse.layers import InputLayer

    if isinstance(first, Model):
        graph = first.__dict__.get("_trace", (None, None))[1]
        module = first.module if isinstance(first.module, Functional) else graph
        if module is None and isinstance(first, Sequential):
            module = first._symbolic_graph()
        if module is None or len(module.input_specs) != 1:
            return None
        spec = module.input_specs[0]
        return tuple(spec["shape"]), spec["dtype"], None
    declared = getattr(first, "input_shape", None)
    if not declared:
        return None
    dtype = getattr(first, "input_dtype", None) or torch.float32
    name = first.name if isinstance(first, InputLayer) else None
    return tuple(declared), str(dtype).removeprefix("torch."), name


def _input_layer(tensor: SymbolicTensor) -> nn.Module:
    """The ``InputLayer`` a ``keras.Input`` tensor stands for at the head of a Sequential."""
    from deepfuse.layers import InputLayer

    spec = tensor.node.input_spec
    layer = InputLayer(shape=tuple(spec["shape"]), name=spec["name"])
    if spec["dtype"] != "float32":
        layer.input_dtype = getattr(torch, spec["dtype"])  # ids: the eager build uses int64
    return layer
