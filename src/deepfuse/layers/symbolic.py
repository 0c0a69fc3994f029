"""Symbolic tensors of the functional API: ``keras.Input`` and layers called on it.

``Input(shape=(28, 28, 1))`` returns a :class:`SymbolicTensor`; calling a layer on it records a
:class:`Node` (the layer, which symbolic tensors it read, its keyword arguments) and returns new
symbolic tensors. ``deepfuse.Model(inputs, outputs)`` then walks the nodes back from the outputs
and becomes an ordinary ``nn.Module`` (``deepfuse.models.functional.Functional``).

How shapes are known: every symbolic tensor carries two small **example batches** (zeros, in
deepfuse's internal layout: images NCHW). Calling a layer runs it on both, in eval mode without
gradients, which builds its lazy weights and gives the output's shape and dtype with no per-layer
shape formulas. The two examples differ in batch size and in every dimension declared ``None``
(``Input(shape=(None,))``), so a dimension that differs between the two outputs is reported as
``None``. Shapes are reported as Keras shows them: images channels-last ``(None, H, W, C)``.

Example:
    >>> from deepfuse import layers
    >>> x = Input(shape=(28, 28, 1), name="image")
    >>> x.shape
    (None, 28, 28, 1)
    >>> y = layers.Conv2D(8, 3, padding="same")(x)
    >>> y.shape, y.dtype
    ((None, 28, 28, 8), 'float32')
    >>> Input(shape=(None,), dtype="int32").shape
    (None, None)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import ConfigError, UserError

__all__ = [
    "GraphNode",
    "Input",
    "Node",
    "SymbolicTensor",
    "call_layer",
    "has_symbolic",
    "map_structure",
]

#: Batch sizes and stand-in sizes of ``None`` dimensions in the two example batches.
_EXAMPLE_BATCH = (2, 3)
_EXAMPLE_FREE_DIM = (40, 48)
_INPUT_COUNTER = itertools.count(1)
_DTYPES = {
    "float32": torch.float32,
    "float": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int32": torch.int64,  # ids feed Embedding/one_hot, which take int64 in torch
    "int64": torch.int64,
    "int": torch.int64,
    "uint8": torch.int64,
    "bool": torch.bool,
}


class Node:
    """One call recorded in a functional graph.

    Attributes:
        layer: The module called (``None`` for an input).
        args: The first argument's structure, with :class:`SymbolicTensor` leaves.
        kwargs: Constant keyword arguments of the call (``training=`` included).
        outputs: The symbolic tensors the call produced.
        input_spec: For an input node, ``{"name", "shape", "dtype"}`` as declared.
    """

    def __init__(
        self,
        layer: nn.Module | None,
        args: Any = None,
        kwargs: dict[str, Any] | None = None,
        input_spec: dict[str, Any] | None = None,
    ) -> None:
        self.layer = layer
        self.args = args
        self.kwargs = dict(kwargs or {})
        self.outputs: list[SymbolicTensor] = []
        self.input_spec = input_spec
        self.training: bool | None = None  # a mode fixed by layer(x, training=...)

    @property
    def parents(self) -> list[SymbolicTensor]:
        """The symbolic tensors this call read, in order."""
        found: list[SymbolicTensor] = []
        map_structure(lambda t: found.append(t), self.args)
        return found


class SymbolicTensor:
    """A placeholder for the tensors a functional model will compute (Keras' ``KerasTensor``).

    Only layers (and models) can be called on it, plus ``+ - * /`` and indexing, which become
    small layers of the graph. Use ``.shape`` (Keras layout, ``None`` batch), ``.dtype``, ``.name``.
    """

    __slots__ = ("_channels_last", "examples", "index", "name", "node")

    def __init__(
        self,
        examples: tuple[torch.Tensor, torch.Tensor],
        node: Node,
        index: int = 0,
        *,
        channels_last: bool = True,
        name: str | None = None,
    ) -> None:
        self.examples = examples
        self.node = node
        self.index = index
        self._channels_last = channels_last
        self.name = name

    # ---------------------------------------------------------------- what Keras code reads
    @property
    def torch_shape(self) -> tuple[int | None, ...]:
        """The shape in deepfuse's internal layout (images NCHW), ``None`` for free dimensions."""
        a, b = (e.shape for e in self.examples)
        return (None, *(x if x == y else None for x, y in zip(a[1:], b[1:])))

    @property
    def shape(self) -> tuple[int | None, ...]:
        """The shape as Keras reports it: batch ``None``, images ``(None, H, W, C)``."""
        shape = self.torch_shape
        if self._channels_last and len(shape) == 4:
            return (shape[0], shape[2], shape[3], shape[1])
        return shape

    @property
    def ndim(self) -> int:
        return self.examples[0].dim()

    @property
    def dtype(self) -> str:
        return str(self.examples[0].dtype).removeprefix("torch.")

    def __repr__(self) -> str:
        label = f", name={self.name}" if self.name else ""
        return f"<SymbolicTensor shape={self.shape}, dtype={self.dtype}{label}>"

    def __len__(self) -> int:
        raise TypeError(
            "len() of a symbolic tensor: its batch size is unknown until data flows through the "
            "model. Use tensor.shape[1:] for the per-sample shape."
        )

    def __bool__(self) -> bool:
        raise TypeError(
            "A symbolic tensor (keras.Input or a layer's output) has no truth value: Python "
            "conditions cannot depend on data in the functional API. Subclass deepfuse.Model "
            "and write forward() for data-dependent control flow."
        )

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = getattr(func, "__name__", str(func))
        raise UserError(
            f"torch.{name} was called on a symbolic tensor (a keras.Input or a layer's output). "
            "Symbolic tensors only flow through layers: wrap the computation in "
            "layers.Lambda(lambda t: ...) or use a layer (layers.Concatenate, layers.Add, ...)."
        )

    # ------------------------------------------------------- arithmetic becomes graph nodes
    def _op(self, op: str, other: Any = None, *, reverse: bool = False) -> SymbolicTensor:
        from deepfuse.layers.tensor_ops import TensorOp

        return TensorOp(op, reverse=reverse)(self if other is None else [self, other])

    def __add__(self, other: Any) -> SymbolicTensor:
        return self._op("add", other)

    def __radd__(self, other: Any) -> SymbolicTensor:
        return self._op("add", other, reverse=True)

    def __sub__(self, other: Any) -> SymbolicTensor:
        return self._op("subtract", other)

    def __rsub__(self, other: Any) -> SymbolicTensor:
        return self._op("subtract", other, reverse=True)

    def __mul__(self, other: Any) -> SymbolicTensor:
        return self._op("multiply", other)

    def __rmul__(self, other: Any) -> SymbolicTensor:
        return self._op("multiply", other, reverse=True)

    def __truediv__(self, other: Any) -> SymbolicTensor:
        return self._op("divide", other)

    def __rtruediv__(self, other: Any) -> SymbolicTensor:
        return self._op("divide", other, reverse=True)

    def __neg__(self) -> SymbolicTensor:
        return self._op("negative")


class GraphNode:
    """Keras' ``layer.input`` / ``layer.output``: the symbolic tensors of a layer's first call
    in a functional graph (a mixin of :class:`~deepfuse.layers.Layer`)."""

    name: str

    def _first_node(self, what: str) -> Any:
        nodes = self.__dict__.get("_inbound_nodes")
        if not nodes:
            raise UserError(
                f"{type(self).__name__} '{self.name}' has no {what} yet: layer.{what} exists once "
                "the layer was called on a keras.Input (functional API) or sits in a Sequential "
                "that declares its input (keras.Input(shape=...) or input_shape=)."
            )
        return nodes[0]

    @property
    def input(self) -> Any:
        """The symbolic tensor(s) this layer was first called on (Keras ``layer.input``)."""
        return self._first_node("input").args

    @property
    def output(self) -> Any:
        """The symbolic tensor(s) of this layer's first call (Keras ``layer.output``)."""
        outputs = self._first_node("output").outputs
        return outputs[0] if len(outputs) == 1 else list(outputs)


def Input(
    shape: Sequence[int | None] | int | None = None,
    batch_size: int | None = None,
    dtype: Any = None,
    sparse: bool | None = None,
    batch_shape: Sequence[int | None] | None = None,
    name: str | None = None,
    tensor: Any = None,
    optional: bool = False,
) -> SymbolicTensor:
    """A functional-API input (Keras ``keras.Input``): the per-sample shape, without the batch.

    Images are given channels-last ``(H, W, C)`` as in Keras (deepfuse computes NCHW inside);
    ``None`` marks a dimension whose size varies (``Input(shape=(None,), dtype="int32")`` for
    token ids of any length). ``Sequential([keras.Input(shape=...), ...])`` declares the shape.

    Args:
        shape: Per-sample shape; ``None`` entries vary.
        batch_size: Accepted for Keras compatibility (any batch size works).
        dtype: ``"float32"`` (default), ``"int32"``/``"int64"`` (ids, int64 inside), ...
        sparse: Sparse inputs are not supported (``True`` is refused).
        batch_shape: Keras 3 alternative to ``shape``: the shape with the batch dimension first.
        name: The input's name: the key of this input in ``fit(x={name: array})``.
        tensor: Not supported (Keras' wrapping of an existing tensor).
        optional: Not supported.

    Example:
        >>> x = Input(shape=(784,), name="pixels")
        >>> x.shape, x.name
        ((None, 784), 'pixels')
    """
    from deepfuse.layers.base import channels_first_shape

    if sparse or tensor is not None or optional:
        feature = "sparse=True" if sparse else "tensor=" if tensor is not None else "optional=True"
        raise UserError(
            f"keras.Input({feature}) is not supported by deepfuse; declare a dense input with "
            "shape= and pass the data to fit()/predict()."
        )
    if batch_shape is not None:
        if shape is not None:
            raise ConfigError("Input() takes shape= or batch_shape=, not both.")
        shape = tuple(batch_shape)[1:]
    if shape is None:
        raise ConfigError(
            "Input() needs shape=, the per-sample shape without the batch dimension, "
            "e.g. keras.Input(shape=(28, 28, 1))."
        )
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(shape)
    if not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in shape
    ):
        raise ConfigError(
            f"Input(shape=...) must be a tuple of positive ints or None; got {shape!r}."
        )
    torch_dtype = _resolve_dtype(dtype)
    inside = tuple(shape)
    channels_last = True
    if len(shape) == 3 and None not in shape:
        inside = tuple(channels_first_shape(shape))  # type: ignore[arg-type]
        channels_last = inside != shape or shape[0] == shape[2]
    name = name or f"input_{next(_INPUT_COUNTER)}"
    examples = tuple(
        torch.zeros((batch, *(free if d is None else d for d in inside)), dtype=torch_dtype)
        for batch, free in zip(_EXAMPLE_BATCH, _EXAMPLE_FREE_DIM)
    )
    spec = {"name": name, "shape": list(shape), "dtype": str(torch_dtype).removeprefix("torch.")}
    node = Node(None, input_spec=spec)
    out = SymbolicTensor(examples, node, 0, channels_last=channels_last, name=name)  # type: ignore[arg-type]
    node.outputs = [out]
    return out


def _resolve_dtype(dtype: Any) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return torch.int64 if dtype in (torch.int32, torch.int16, torch.uint8) else dtype
    key = str(getattr(dtype, "__name__", dtype)).removeprefix("torch.").lower()
    if key not in _DTYPES:
        raise ConfigError(
            f"Input(dtype={dtype!r}) is not supported; use one of {', '.join(sorted(_DTYPES))}."
        )
    return _DTYPES[key]


# ------------------------------------------------------------------------------ graph building
def has_symbolic(args: tuple[Any, ...]) -> bool:
    """True when an argument (or an item of a list/tuple argument) is a :class:`SymbolicTensor`."""
    for arg in args:
        if isinstance(arg, SymbolicTensor):
            return True
        if isinstance(arg, list | tuple) and any(isinstance(a, SymbolicTensor) for a in arg):
            return True
        if isinstance(arg, dict) and any(isinstance(a, SymbolicTensor) for a in arg.values()):
            return True
    return False


def map_structure(fn: Any, struct: Any) -> Any:
    """Apply ``fn`` to every :class:`SymbolicTensor` leaf of nested lists/tuples/dicts."""
    if isinstance(struct, SymbolicTensor):
        return fn(struct)
    if isinstance(struct, list | tuple):
        return type(struct)(map_structure(fn, s) for s in struct)
    if isinstance(struct, dict):
        return {k: map_structure(fn, v) for k, v in struct.items()}
    return struct


def call_layer(layer: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Record ``layer(*args, **kwargs)`` as a graph node and return its symbolic outputs.

    The layer runs on the two example batches (eval mode, no gradients), which builds it; its
    output structure (one tensor, or a list/tuple such as an LSTM's ``return_state``) is kept.
    """
    from deepfuse.layers.base import training_mode

    if len(args) != 1:
        raise UserError(
            f"{type(layer).__name__} was called on {len(args)} positional arguments in the "
            "functional API; pass one tensor, or a list of tensors for merge layers "
            "(layers.Concatenate()([a, b]))."
        )
    struct = args[0]
    for key, value in kwargs.items():
        if has_symbolic((value,)):
            raise UserError(
                f"{type(layer).__name__}(..., {key}=<symbolic tensor>) is not supported by "
                "deepfuse's functional API; pass symbolic tensors as the first argument only."
            )
    kwargs = dict(kwargs)
    training = kwargs.pop("training", None)  # Keras: layer(x, training=True) fixes the mode
    node = Node(layer, struct, kwargs)
    node.training = None if training is None else bool(training)
    channels_last = all(t._channels_last for t in node.parents)
    results = []
    for i in (0, 1):
        example = map_structure(lambda t, i=i: t.examples[i], struct)
        try:
            with torch.no_grad(), training_mode(layer, False):
                results.append(layer(example, **kwargs))
        except (RuntimeError, ValueError, IndexError) as exc:  # torch's words, made ours
            shapes = map_structure(lambda t: t.shape, struct)
            reason = " ".join(str(exc).split())[:300]
            name = getattr(layer, "name", type(layer).__name__)
            raise UserError(
                f"{type(layer).__name__} '{name}' cannot be called on inputs of shape {shapes} "
                f"(shapes in Keras layout): {reason}"
            ) from None
    first, second = results
    layer.__dict__.setdefault("_inbound_nodes", []).append(node)  # Keras' layer.input/.output
    if isinstance(first, torch.Tensor):
        node.outputs = [SymbolicTensor((first, second), node, 0, channels_last=channels_last)]
        return node.outputs[0]
    if isinstance(first, list | tuple) and all(isinstance(t, torch.Tensor) for t in first):
        node.outputs = [
            SymbolicTensor((a, b), node, i, channels_last=channels_last)
            for i, (a, b) in enumerate(zip(first, second))
        ]
        return type(first)(node.outputs) if isinstance(first, list) else tuple(node.outputs)
    raise UserError(
        f"{type(layer).__name__} returned {type(first).__name__} in the functional API; a layer "
        "used there must return a tensor or a list/tuple of tensors."
    )
