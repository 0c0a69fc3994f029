"""``plot_model``: a model's graph as a picture, Graphviz DOT text, or plain text (Keras'
``keras.utils.plot_model``, with no pydot or Graphviz needed).

Boxes are the model's inputs and layer calls; arrows follow the data. A functional model is
drawn as its graph (branches side by side, merges joined), any other model as its chain of layers.
The picture is drawn with matplotlib (``.png``, ``.svg``, ``.pdf``); ``.dot``/``.gv`` writes DOT
source for Graphviz users; ``.txt`` writes one line per box with its inputs.

Example:
    >>> import deepfuse as keras
    >>> from deepfuse import layers
    >>> x = keras.Input(shape=(8,), name="features")
    >>> model = keras.Model(x, layers.Dense(1, name="score")(layers.Dense(4, name="hidden")(x)))
    >>> print(model_graph_text(model, show_shapes=True))
    features (InputLayer) (None, 8)
    hidden (Dense) (None, 4) <- features
    score (Dense) (None, 1) <- hidden
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepfuse._utils.errors import ConfigError
from deepfuse._utils.io import atomic_write_bytes, atomic_write_text

__all__ = ["GraphBox", "model_graph", "model_graph_text", "plot_model"]

_PICTURES = ("png", "svg", "pdf", "jpg", "jpeg")


@dataclass
class GraphBox:
    """One box of the drawing: a name, its kind (layer class), output shape and inputs."""

    name: str
    kind: str
    shape: str = ""
    activation: str | None = None
    trainable: bool = True
    parents: list[str] = field(default_factory=list)


def model_graph(model: Any) -> list[GraphBox]:
    """The boxes of ``model``, each after the boxes it reads."""
    from deepfuse.models.functional import Functional
    from deepfuse.models.summary import layer_rows

    graph = getattr(model, "module", None)
    if isinstance(graph, Functional):
        boxes = [GraphBox(t.name, "InputLayer", str(t.shape)) for t in graph.input_tensors]
        for node in graph.nodes:
            names = [graph.layer_of(node)] + [
                f"{graph.layer_of(node)}[{i}]" for i in range(1, len(node.outputs))
            ]
            parents = [
                t.name if t.node.layer is None else _box_name(graph, t) for t in node.parents
            ]
            boxes.append(
                GraphBox(
                    names[0],
                    type(node.layer).__name__,
                    ", ".join(str(t.shape) for t in node.outputs),
                    getattr(node.layer, "activation_name", None),
                    any(p.requires_grad for p in node.layer.parameters())
                    or not any(True for _ in node.layer.parameters()),
                    parents,
                )
            )
        return boxes
    boxes = []
    previous: list[str] = []
    for name, kind, shape, _count in layer_rows(model):
        boxes.append(GraphBox(name, kind, shape, parents=list(previous)))
        previous = [name]
    return boxes


def _box_name(graph: Any, tensor: Any) -> str:
    key = graph.layer_of(tensor.node)
    return key if tensor.index == 0 else f"{key}[{tensor.index}]"


def _label(
    box: GraphBox, show_shapes: bool, show_layer_names: bool, extras: dict[str, bool]
) -> str:
    head = f"{box.name} ({box.kind})" if show_layer_names else box.kind
    parts = [head]
    if show_shapes and box.shape:
        parts.append(box.shape)
    if extras.get("activations") and box.activation:
        parts.append(f"activation: {box.activation}")
    if extras.get("trainable"):
        parts.append("trainable" if box.trainable else "frozen")
    return " ".join(parts) if extras.get("one_line") else "\n".join(parts)


def model_graph_text(model: Any, *, show_shapes: bool = False) -> str:
    """One line per box: ``name (Type) shape <- inputs``."""
    lines = []
    for box in model_graph(model):
        label = _label(box, show_shapes, True, {"one_line": True})
        lines.append(label + (f" <- {', '.join(box.parents)}" if box.parents else ""))
    return "\n".join(lines)


def _dot(boxes: list[GraphBox], labels: dict[str, str], rankdir: str) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["digraph model {", f"  rankdir={rankdir};", "  node [shape=box, fontname=Helvetica];"]
    lines += [f"  {quote(b.name)} [label={quote(labels[b.name])}];" for b in boxes]
    lines += [f"  {quote(p)} -> {quote(b.name)};" for b in boxes for p in b.parents]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _positions(boxes: list[GraphBox]) -> dict[str, tuple[int, int]]:
    """``name -> (depth, column)``: depth is the longest path from an input."""
    depth: dict[str, int] = {}
    for box in boxes:
        depth[box.name] = 1 + max((depth.get(p, 0) for p in box.parents), default=-1)
    columns: dict[int, int] = {}
    out = {}
    for box in boxes:
        d = depth[box.name]
        out[box.name] = (d, columns.get(d, 0))
        columns[d] = columns.get(d, 0) + 1
    return out


def plot_model(
    model: Any,
    to_file: str | os.PathLike = "model.png",
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    **kwargs: Any,
) -> Path:
    """Draw ``model``'s graph into ``to_file`` (Keras' ``plot_model`` arguments).

    Args:
        model: A deepfuse model (functional, Sequential or wrapped module).
        to_file: ``.png``/``.svg``/``.pdf`` (a matplotlib drawing), ``.dot``/``.gv`` (Graphviz
            source) or ``.txt`` (one line per box). Written atomically.
        show_shapes: Add each box's output shape (Keras layout).
        show_dtype: Accepted; dtypes are not drawn.
        show_layer_names: Put the layer name before its class.
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        expand_nested: Accepted; a nested model is one box.
        dpi: Resolution of a picture.
        show_layer_activations: Add each layer's activation.
        show_trainable: Mark frozen layers.
        **kwargs: Other Keras arguments are accepted and have no effect.

    Returns:
        The path written.
    """
    if rankdir not in ("TB", "LR"):
        raise ConfigError(f"plot_model(rankdir={rankdir!r}): use 'TB' or 'LR'.")
    path = Path(to_file)
    suffix = path.suffix.lstrip(".").lower() or "png"
    boxes = model_graph(model)
    extras = {"activations": show_layer_activations, "trainable": show_trainable}
    labels = {b.name: _label(b, show_shapes, show_layer_names, extras) for b in boxes}
    if suffix in ("dot", "gv"):
        atomic_write_text(path, _dot(boxes, labels, rankdir))
    elif suffix == "txt":
        atomic_write_text(path, model_graph_text(model, show_shapes=show_shapes) + "\n")
    elif suffix in _PICTURES:
        atomic_write_bytes(path, _draw(boxes, labels, rankdir, dpi, suffix))
    else:
        raise ConfigError(
            f"plot_model(to_file={str(to_file)!r}): the file type must be one of "
            f"{', '.join(('dot', 'gv', 'txt', *_PICTURES))}."
        )
    return path


def _draw(boxes: list[GraphBox], labels: dict[str, str], rankdir: str, dpi: int, fmt: str) -> bytes:
    from deepfuse.viz.plots import _pyplot

    plt = _pyplot()
    where = _positions(boxes)
    rows = max(d for d, _ in where.values()) + 1
    cols = max(c for _, c in where.values()) + 1
    tall = rankdir == "TB"

    def xy(name: str) -> tuple[float, float]:
        depth, col = where[name]
        return (col * 3.2, -depth * 1.4) if tall else (depth * 3.6, -col * 1.4)

    width, height = (
        (cols * 3.2 + 0.5, rows * 1.4 + 0.5) if tall else (rows * 3.6 + 0.5, cols * 1.4 + 0.5)
    )
    fig, ax = plt.subplots(figsize=(max(width, 3.0), max(height, 1.5)))
    try:
        for box in boxes:
            for parent in box.parents:
                skips = where[box.name][0] - where[parent][0] > 1  # would run behind other boxes
                ax.annotate(
                    "",
                    xy=xy(box.name),
                    xytext=xy(parent),
                    arrowprops={
                        "arrowstyle": "->",
                        "color": "#555",
                        "shrinkA": 16,
                        "shrinkB": 16,
                        "connectionstyle": f"arc3,rad={0.5 if skips else 0.0}",
                    },
                )
        for box in boxes:
            x, y = xy(box.name)
            ax.text(
                x,
                y,
                labels[box.name],
                ha="center",
                va="center",
                fontsize=8,
                bbox={"boxstyle": "round,pad=0.4", "fc": "#eef3fb", "ec": "#3b6ea8"},
            )
        ax.set_xlim(-1.8, width - 1.4)
        ax.set_ylim(-height + 0.8, 0.8)
        ax.axis("off")
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", facecolor="white")
        return buf.getvalue()
    finally:
        plt.close(fig)
