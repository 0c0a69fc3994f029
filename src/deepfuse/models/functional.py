"""The functional API's graph as an ``nn.Module``: ``deepfuse.Model(inputs, outputs)``.

:class:`Functional` takes the symbolic inputs and outputs of :mod:`deepfuse.layers.symbolic`,
walks the recorded calls back from the outputs, and keeps them as a flat list of steps over
numbered slots. ``forward`` fills the input slots and runs the steps in order, so a call costs one
Python loop over the layers, like ``nn.Sequential``. Layers are registered by name (shared layers
once), so ``state_dict`` keys read ``layers.<layer name>.weight``.

Inputs are matched by position (a list), by name (a dict keyed by ``Input(name=)``), or alone;
outputs come back in the structure they were given (one tensor, a list, or a dict).

Example:
    >>> import torch
    >>> from deepfuse import layers
    >>> from deepfuse.layers.symbolic import Input
    >>> a, b = Input(shape=(4,), name="a"), Input(shape=(3,), name="b")
    >>> merged = layers.Dense(2, name="head")(layers.Concatenate()([a, b]))
    >>> net = Functional([a, b], merged)
    >>> net.input_names, net.output_names
    (['a', 'b'], ['head'])
    >>> net({"a": torch.zeros(5, 4), "b": torch.zeros(5, 3)}).shape
    torch.Size([5, 2])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import DataError, UserError
from deepfuse.layers.base import training_mode
from deepfuse.layers.symbolic import Node, SymbolicTensor, map_structure

__all__ = ["Functional", "GraphAccess", "graph_of", "is_symbolic_structure", "network_of"]


class _Ref:
    """A slot number inside a step's argument structure (constants stay as they are)."""

    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot


def is_symbolic_structure(value: Any) -> bool:
    """True for a symbolic tensor, or a non-empty list/tuple/dict made only of them."""
    if isinstance(value, SymbolicTensor):
        return True
    if isinstance(value, list | tuple) and value:
        return all(isinstance(v, SymbolicTensor) for v in value)
    if isinstance(value, Mapping) and value:
        return all(isinstance(v, SymbolicTensor) for v in value.values())
    return False


def _flatten(value: Any, what: str) -> tuple[str, list[SymbolicTensor], list[str] | None]:
    """``(kind, tensors, dict keys)`` of the model's inputs or outputs."""
    if not is_symbolic_structure(value):
        raise UserError(
            f"Model({what}=...) takes a keras.Input / layer output, or a list or dict of them; "
            f"got {type(value).__name__}."
        )
    if isinstance(value, SymbolicTensor):
        return "single", [value], None
    if isinstance(value, Mapping):
        return "dict", list(value.values()), [str(k) for k in value]
    return "list", list(value), None


def _unique_key(name: str, taken: set[str]) -> str:
    key = name.replace(".", "_") or "layer"
    base, n = key, 1
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


class Functional(nn.Module):
    """A graph of layers built from symbolic tensors (Keras' functional model).

    Args:
        inputs: The ``Input`` tensors: one, a list, or a dict keyed by name.
        outputs: Tensors computed from them: one, a list, or a dict keyed by output name.

    Raises:
        UserError: An output needs a tensor that is not computed from the given inputs.
    """

    def __init__(self, inputs: Any, outputs: Any) -> None:
        super().__init__()
        self._in_kind, in_tensors, in_keys = _flatten(inputs, "inputs")
        self._out_kind, out_tensors, out_keys = _flatten(outputs, "outputs")
        for t in in_tensors:
            if t.node.layer is not None:
                raise UserError(
                    "Model(inputs=...) must be keras.Input(...) tensors; got the output of "
                    f"{type(t.node.layer).__name__}."
                )
        self.input_tensors, self.output_tensors = in_tensors, out_tensors
        self.input_names = in_keys or [t.node.input_spec["name"] for t in in_tensors]
        self.input_specs = [dict(t.node.input_spec) for t in in_tensors]
        nodes = _topological_nodes(out_tensors, in_tensors)
        slots: dict[int, int] = {id(t): i for i, t in enumerate(in_tensors)}
        self.layers = nn.ModuleDict()
        keys: dict[int, str] = {}
        self._steps: list[tuple[str, Any, dict[str, Any], bool | None, list[int]]] = []
        self.nodes = nodes
        for node in nodes:
            layer = node.layer
            if id(layer) not in keys:
                keys[id(layer)] = _unique_key(_layer_name(layer), set(self.layers.keys()))
                self.layers[keys[id(layer)]] = layer
            arg = map_structure(lambda t: _Ref(slots[id(t)]), node.args)
            outs = []
            for t in node.outputs:
                slots[id(t)] = len(slots)
                outs.append(slots[id(t)])
            self._steps.append((keys[id(layer)], arg, node.kwargs, node.training, outs))
        self._layer_keys = keys
        self._n_slots = len(slots)
        self._input_slots = [slots[id(t)] for t in in_tensors]
        self._output_slots = [slots[id(t)] for t in out_tensors]
        self.output_names = out_keys or [_output_name(t, keys) for t in out_tensors]
        # Image inputs declared (H, W, C): a direct call with such a tensor is turned to NCHW.
        self._image_inputs = {
            i: tuple(spec["shape"])
            for i, (spec, t) in enumerate(zip(self.input_specs, in_tensors))
            if len(spec["shape"]) == 3
            and t._channels_last
            and t.torch_shape[1:] != tuple(spec["shape"])
        }

    # ------------------------------------------------------------------- calling
    def forward(self, *args: Any) -> Any:
        values: list[Any] = [None] * self._n_slots
        for i, tensor in enumerate(self._match_inputs(args[0] if len(args) == 1 else list(args))):
            if i in self._image_inputs and tuple(tensor.shape[1:]) == self._image_inputs[i]:
                tensor = tensor.permute(0, 3, 1, 2)  # a channels-last batch given directly
            values[self._input_slots[i]] = tensor
        for key, arg, kwargs, training, outs in self._steps:
            layer = self.layers[key]
            x = values[arg.slot] if isinstance(arg, _Ref) else _gather(arg, values)
            if training is None:
                y = layer(x, **kwargs)
            else:
                with training_mode(layer, training):
                    y = layer(x, **kwargs)
            if len(outs) == 1 and isinstance(y, torch.Tensor):
                values[outs[0]] = y
            else:
                for slot, tensor in zip(outs, y):
                    values[slot] = tensor
        results = [values[s] for s in self._output_slots]
        if self._out_kind == "single":
            return results[0]
        if self._out_kind == "dict":
            return dict(zip(self.output_names, results))
        return results

    def _match_inputs(self, x: Any) -> list[torch.Tensor]:
        n = len(self.input_names)
        if isinstance(x, Mapping):
            missing = [k for k in self.input_names if k not in x]
            if missing:
                raise DataError(
                    f"The model's inputs are {self.input_names}; the data has no {missing} "
                    f"(got keys {sorted(map(str, x))}). Name the arrays after the Input names."
                )
            return [x[k] for k in self.input_names]
        if isinstance(x, list | tuple):
            if len(x) != n:
                raise DataError(
                    f"The model takes {n} input(s) {self.input_names}; got a list of {len(x)}."
                )
            return list(x)
        if n != 1:
            raise DataError(
                f"The model takes {n} inputs {self.input_names}; pass a list or a dict of arrays."
            )
        return [x]

    def layer_of(self, node: Node) -> str:
        """The key under which ``node``'s layer is registered."""
        return self._layer_keys[id(node.layer)]


def _gather(arg: Any, values: list[Any]) -> Any:
    if isinstance(arg, _Ref):
        return values[arg.slot]
    if isinstance(arg, list | tuple):
        return type(arg)(_gather(a, values) for a in arg)
    if isinstance(arg, dict):
        return {k: _gather(v, values) for k, v in arg.items()}
    return arg


def _layer_name(layer: nn.Module) -> str:
    name = getattr(layer, "name", None)
    return name if isinstance(name, str) and name else type(layer).__name__.lower()


def _output_name(tensor: SymbolicTensor, keys: dict[int, str]) -> str:
    key = keys[id(tensor.node.layer)]
    return key if tensor.index == 0 else f"{key}_{tensor.index}"


def _topological_nodes(outputs: list[SymbolicTensor], inputs: list[SymbolicTensor]) -> list[Node]:
    """The layer nodes the outputs depend on, each after the nodes it reads (inputs excluded)."""
    given = {id(t.node) for t in inputs}
    order: list[Node] = []
    done: set[int] = set()
    active: set[int] = set()
    stack: list[tuple[Node, bool]] = [(t.node, False) for t in reversed(outputs)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if node.layer is None:
            if id(node) not in given:
                name = node.input_spec["name"] if node.input_spec else "?"
                raise UserError(
                    f"The outputs depend on the input '{name}', which is not in Model(inputs=...): "
                    "the graph is disconnected. Add that Input to the model's inputs."
                )
            done.add(id(node))
            continue
        if expanded:
            active.discard(id(node))
            done.add(id(node))
            order.append(node)
            continue
        active.add(id(node))
        stack.append((node, True))
        for parent in reversed(node.parents):
            if id(parent.node) not in done:
                stack.append((parent.node, False))
    return order


def network_of(module: Any, inputs: Any, outputs: Any) -> nn.Module | None:
    """What ``Model(...)`` wraps: ``module``, or the graph of ``Model(inputs, outputs)``
    (also given positionally: ``Model(inputs, outputs)``)."""
    if inputs is None and is_symbolic_structure(module):
        inputs, module = module, None
    if inputs is not None or outputs is not None:
        if inputs is None or outputs is None:
            raise UserError(
                "The functional API needs both: Model(inputs=keras.Input(...), outputs=...)."
            )
        return Functional(inputs, outputs)
    if module is not None and not isinstance(module, nn.Module):
        raise UserError(
            f"Model(module) expects a torch.nn.Module, or inputs= and outputs= (the "
            f"functional API); got {type(module).__name__}."
        )
    return module


def graph_of(model: Any) -> Functional | None:
    """The functional graph of ``model``: its own, the symbolic trace of a Sequential with a
    declared input, or ``None``."""
    if isinstance(getattr(model, "module", None), Functional):
        return model.module
    trace = getattr(model, "_symbolic_graph", None)
    return trace() if callable(trace) else None


class GraphAccess:
    """Keras' graph properties on :class:`~deepfuse.models.Model` (``inputs``, ``output``,
    ``layers``, ``get_layer`` ...); they need a functional model except ``layers``/``get_layer``."""

    module: Any

    def _graph(self, what: str) -> Functional:
        graph = graph_of(self)
        if graph is None:
            raise UserError(
                f"model.{what} needs a known input: a functional model (Model(inputs, outputs)) "
                "or a Sequential that starts with keras.Input(shape=...) or input_shape=. This "
                "model has none; use model.input_spec for the shapes it was built with."
            )
        return graph

    @property
    def inputs(self) -> list[SymbolicTensor]:
        """The ``Input`` tensors, in order."""
        return list(self._graph("inputs").input_tensors)

    @property
    def outputs(self) -> list[SymbolicTensor]:
        """The output tensors, in order."""
        return list(self._graph("outputs").output_tensors)

    @property
    def input(self) -> Any:
        """The one input tensor (a list when there are several), as in Keras."""
        tensors = self.inputs
        return tensors[0] if len(tensors) == 1 else tensors

    @property
    def output(self) -> Any:
        """The one output tensor (a list when there are several), as in Keras."""
        tensors = self.outputs
        return tensors[0] if len(tensors) == 1 else tensors

    @property
    def input_names(self) -> list[str]:
        return list(self._graph("input_names").input_names)

    @property
    def output_names(self) -> list[str]:
        return list(self._graph("output_names").output_names)

    @property
    def layers(self) -> list[nn.Module]:
        """The model's layers: graph order for functional models, else the direct children."""
        if isinstance(self.module, Functional):
            return list(self.module.layers.values())
        root = self.module if self.module is not None else self
        return [m for m in root.children() if m is not self]

    def get_layer(self, name: str | None = None, index: int | None = None) -> nn.Module:
        """A layer by name or by position in :attr:`layers` (Keras ``model.get_layer``)."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise UserError(f"get_layer(index={index}): the model has {len(layers)} layers.")
            return layers[index]
        for layer in layers:
            if getattr(layer, "name", None) == name:
                return layer
        names = [getattr(layer, "name", type(layer).__name__) for layer in layers]
        raise UserError(f"No layer named {name!r}; the layers are {names}.")


# ----------------------------------------------------------------------------- saving
def graph_architecture(graph: Functional, module_spec: Any) -> dict[str, Any]:
    """The JSON description of ``graph``: its layers (``module_spec(layer)``), inputs, calls
    (by layer key, argument slots and constant keyword arguments) and outputs."""
    slots: dict[int, int] = {id(t): i for i, t in enumerate(graph.input_tensors)}

    def ref(t: SymbolicTensor) -> dict[str, int]:
        return {"slot": slots[id(t)]}

    nodes = []
    for node in graph.nodes:
        entry = {
            "layer": graph.layer_of(node),
            "args": map_structure(ref, node.args),
            "kwargs": node.kwargs,
            "training": node.training,
        }
        for t in node.outputs:
            slots[id(t)] = len(slots)
        nodes.append(entry)
    return {
        "kind": "functional",
        "layers": {key: module_spec(layer) for key, layer in graph.layers.items()},
        "inputs": graph.input_specs,
        "input_names": graph.input_names,
        "nodes": nodes,
        "outputs": {
            "kind": graph._out_kind,
            "names": graph.output_names,
            "slots": [slots[id(t)] for t in graph.output_tensors],
        },
    }


def rebuild_graph(arch: dict[str, Any], module_from_spec: Any) -> Functional:
    """The :class:`Functional` described by :func:`graph_architecture`: the layers are rebuilt
    from their specs, then called again on fresh ``Input`` tensors (which builds them)."""
    from deepfuse.layers.symbolic import Input

    layers = {key: module_from_spec(spec) for key, spec in arch["layers"].items()}
    inputs = [
        Input(shape=tuple(spec["shape"]), dtype=spec["dtype"], name=spec["name"])
        for spec in arch["inputs"]
    ]
    values: list[Any] = list(inputs)

    def resolve(struct: Any) -> Any:
        if isinstance(struct, dict) and set(struct) == {"slot"}:
            return values[int(struct["slot"])]
        if isinstance(struct, list):
            return [resolve(s) for s in struct]
        if isinstance(struct, dict):
            return {k: resolve(v) for k, v in struct.items()}
        return struct

    for entry in arch["nodes"]:
        layer = layers[entry["layer"]]
        kwargs = dict(entry.get("kwargs") or {})
        if entry.get("training") is not None:
            kwargs["training"] = bool(entry["training"])
        out = layer(resolve(entry["args"]), **kwargs)
        values.extend(out if isinstance(out, list | tuple) else [out])
    outputs = [values[int(s)] for s in arch["outputs"]["slots"]]
    kind, names = arch["outputs"]["kind"], arch["outputs"]["names"]
    given_inputs: Any = (
        dict(zip(arch["input_names"], inputs))
        if arch.get("input_names") != [spec["name"] for spec in arch["inputs"]]
        else inputs
    )
    if kind == "single":
        return Functional(given_inputs if len(inputs) > 1 else inputs[0], outputs[0])
    if kind == "dict":
        return Functional(given_inputs, dict(zip(names, outputs)))
    return Functional(given_inputs if len(inputs) > 1 else inputs, outputs)
