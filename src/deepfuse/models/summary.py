"""``model.summary()``: layers, output shapes and parameter counts, Keras style.

Example:
    >>> import deepfuse as df
    >>> m = df.Sequential([df.layers.Dense(4, input_shape=(3,)), df.layers.Dense(1)])
    >>> print(m.summary(print_fn=None).splitlines()[-3])
    Total params: 21
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepfuse.layers.weight_layout import weight_buffers
from deepfuse.models import freezing, layout
from deepfuse.models.serialization import input_dtype

__all__ = ["graph_rows", "keras_weights_of", "layer_rows", "summarize"]


def keras_weights_of(module: nn.Module) -> list[torch.Tensor]:
    """The weights Keras counts in a summary: every parameter (torch's own, e.g. LSTM's two bias
    vectors) and every persistent float buffer (BatchNorm's moving mean and variance, which
    Keras counts as non-trainable params), each tensor once.

    Example:
        >>> from deepfuse.layers import BatchNormalization
        >>> bn = BatchNormalization()
        >>> bn.build([None, 4])
        >>> sum(w.numel() for w in keras_weights_of(bn))   # gamma, beta, mean, variance
        16
    """
    out: list[torch.Tensor] = []
    seen: set[int] = set()
    for m in module.modules():
        for t in [*m.parameters(recurse=False), *weight_buffers(m)]:
            if id(t) not in seen:
                seen.add(id(t))
                out.append(t)
    return out


def _count(module: nn.Module) -> int:
    return sum(w.numel() for w in keras_weights_of(module))


def _shape_of(output: Any) -> str:
    if isinstance(output, torch.Tensor):
        return str((None, *output.shape[1:]))
    if isinstance(output, tuple | list) and output and isinstance(output[0], torch.Tensor):
        return _shape_of(output[0])
    return "?"


def layer_rows(model: Any) -> list[tuple[str, str, str, int]]:
    """``(name, type, output shape, parameters)`` per layer; shapes need a built model.

    Output shapes come from one forward pass of a zero batch (batch 1, on the model's device) in
    eval mode; an unbuilt layer shows ``"unbuilt"``, a shape that could not be read ``"?"``.
    """
    leaves = _named_layers(model)
    shapes: dict[int, str] = {}
    if model.input_spec and not layout.has_unbuilt_layers(model):

        def record(module: nn.Module, _inputs: Any, output: Any) -> None:
            shapes[id(module)] = _shape_of(output)

        handles = [mod.register_forward_hook(record) for _, mod in leaves]
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        example = {
            k: torch.zeros((1, *s["shape"]), dtype=input_dtype(s["dtype"]), device=device)
            for k, s in model.input_spec.items()
        }
        modes = [(m, m.training) for m in model.modules()]  # restored one by one afterwards
        model.train(False)
        try:
            with torch.no_grad():
                inputs, _ = model.split_batch(example)
                model(inputs)
        finally:
            for h in handles:
                h.remove()
            for m, mode in modes:
                m.training = mode
    shapes.update(_traced_shapes(model))
    rows = []
    for name, mod in leaves:
        label = getattr(mod, "name", None)
        label = label if isinstance(label, str) else name
        shape = shapes.get(id(mod), "unbuilt" if layout.has_unbuilt_layers(mod) else "?")
        rows.append((label, type(mod).__name__, shape, _count(mod)))
    return rows


def _traced_shapes(model: Any) -> dict[int, str]:
    """Output shapes in Keras' layout of the layers of a Sequential with a declared input (its
    symbolic trace), by layer id; empty for other models."""
    trace = model.__dict__.get("_trace")
    if trace is None:
        return {}
    graph = trace[1]
    out = {id(m): str(t.shape) for m, t in zip(model.module, graph.input_tensors) if _is_input(m)}
    for node in graph.nodes:
        shapes = [str(t.shape) for t in node.outputs]
        out[id(node.layer)] = shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"
    return out


def _is_input(module: nn.Module) -> bool:
    from deepfuse.layers import InputLayer

    return isinstance(module, InputLayer)


def graph_rows(model: Any) -> list[tuple[str, str, str, str]]:
    """``(name (type), output shape, parameters, connected to)`` per call of a functional model,
    inputs first; shapes in Keras layout, a layer's parameters counted at its first call."""
    graph = model.module
    rows = [(f"{t.name} (InputLayer)", str(t.shape), "0", "-") for t in graph.input_tensors]
    seen: set[int] = set()
    for node in graph.nodes:
        layer = node.layer
        count = 0 if id(layer) in seen else _count(layer)
        seen.add(id(layer))
        shapes = [str(t.shape) for t in node.outputs]
        parents = [t.name if t.node.layer is None else graph.layer_of(t.node) for t in node.parents]
        rows.append(
            (
                f"{graph.layer_of(node)} ({type(layer).__name__})",
                shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]",
                f"{count:,}",
                ", ".join(parents) or "-",
            )
        )
    return rows


def summarize(model: Any) -> str:
    """Render the summary table of ``model`` (output shapes need a built model)."""
    from deepfuse.models.functional import Functional

    if isinstance(getattr(model, "module", None), Functional):
        rows = [("Layer (type)", "Output Shape", "Param #", "Connected to"), *graph_rows(model)]
    else:
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for label, kind, shape, count in layer_rows(model):
            rows.append((f"{label} ({kind})", shape, f"{count:,}"))
    total = _count(model)  # with the moving statistics, which are non-trainable
    trainable = sum(p.numel() for p in freezing.trainable_parameters(model) if p.requires_grad)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    rule = "─" * (sum(widths) + 2 * len(widths))
    lines = [f'Model: "{model.name}"', rule]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if i == 0:
            lines.append(rule)
    lines += [
        rule,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
    ]
    if model.output_activation:
        lines.append(f"(predict() applies a final {model.output_activation} to the logits)")
    return "\n".join(lines)


def _is_model(module: nn.Module) -> bool:
    from deepfuse.models.model import Model  # a nested model is one row, as in Keras

    return isinstance(module, Model)


def _named_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers to list: deepfuse layers as units, torch containers expanded."""
    out: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, mod: nn.Module) -> None:
        children = list(mod.named_children())
        if not children or layout._is_layer(mod) or _is_model(mod):
            out.append((prefix or type(mod).__name__.lower(), mod))
            return
        for name, child in children:
            walk(f"{prefix}.{name}" if prefix else name, child)

    root = model.module if getattr(model, "module", None) is not None else model
    walk("", root)
    return out
