"""Where the model puts each example: penultimate-layer features projected to 2-D, by class.

Example:
    >>> import torch
    >>> from deepfuse.viz import penultimate_features, project_2d
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> feats = penultimate_features(net, torch.randn(20, 4))   # the input of the last Linear
    >>> feats.shape, project_2d(feats).shape
    (torch.Size([20, 8]), (20, 2))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfuse._utils.errors import DataError, MissingDependencyError, format_message, invalid_choice
from deepfuse._utils.optional import require
from deepfuse.viz._modules import as_input, inspecting, is_linear, select_modules, to_numpy
from deepfuse.viz.plots import _pyplot, _save

__all__ = ["penultimate_features", "plot_projection", "project_2d"]

_METHODS = ("pca", "tsne")


def penultimate_features(
    model: nn.Module, x: Any, *, layer: str | None = None, batch_size: int = 512
) -> torch.Tensor:
    """The features the classifier head sees: the input of the last ``Linear`` layer.

    A forward pre-hook on the last ``nn.Linear`` / deepfuse ``Dense`` (last in
    ``named_modules`` order), or on the module named ``layer``, catches its input. The model runs
    in eval mode under ``no_grad``, ``batch_size`` rows at a time; modes are restored afterwards.

    Args:
        model: Any ``torch.nn.Module``.
        x: The inputs, ``(N, ...)`` as the model's ``forward`` takes them (tensor or array).
        layer: The module (``model.named_modules()`` name) whose input to take.
        batch_size: Rows per forward pass.

    Returns:
        ``(N, D)`` float CPU tensor (inputs with more dimensions are flattened per row).

    Raises:
        DataError: No Linear layer, an empty ``x``, or a bad ``batch_size``.
        UserError: ``layer`` is not a module of the model.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise DataError(format_message("'batch_size' must be a positive int.", got=batch_size))
    chosen = select_modules(
        model, None if layer is None else [layer], is_linear, what="Linear", argument="layer"
    )
    name, module = chosen[-1]  # the last Linear, or the one named
    xs = as_input(model, x)
    if xs.dim() == 0 or len(xs) == 0:
        raise DataError(format_message("penultimate_features got no rows.", got=tuple(xs.shape)))
    caught: list[torch.Tensor] = []

    def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
        caught.append(args[0].detach().reshape(len(args[0]), -1).float().cpu())  # (B, D)

    chunks = []
    handle = module.register_forward_pre_hook(hook)
    try:
        with inspecting(model):
            for start in range(0, len(xs), batch_size):
                caught.clear()
                model(xs[start : start + batch_size])
                if not caught:
                    raise DataError(
                        f"Module {name!r} was not called by the model's forward; pass layer= "
                        "with a module the forward pass uses."
                    )
                chunks.append(caught[-1])  # called twice in one forward: keep the last call
    finally:
        handle.remove()
    return torch.cat(chunks)


def project_2d(features: Any, *, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Project ``(N, D)`` features to ``(N, 2)`` points for a scatter plot.

    Args:
        features: ``(N, D)`` tensor or array (more dimensions are flattened per row).
        method: ``"pca"`` (the two leading principal components, via an SVD; exact and
            deterministic, signs fixed so each component's largest loading is positive) or
            ``"tsne"`` (scikit-learn's ``TSNE`` with ``random_state=seed``; needs scikit-learn).
        seed: The t-SNE random state (PCA uses no randomness).

    Returns:
        ``(N, 2)`` float64 numpy array (a zero second column when ``D`` or ``N`` allow only one
        component).

    Raises:
        ConfigError: Unknown ``method``.
        DataError: Fewer than 2 rows, or non-finite values.
        MissingDependencyError: ``method="tsne"`` without scikit-learn.

    Example:
        >>> import numpy as np
        >>> pts = project_2d(np.array([[0.0, 0, 1], [2, 0, 1], [4, 0, 1]]))
        >>> np.round(pts, 6).tolist()
        [[-2.0, 0.0], [0.0, 0.0], [2.0, 0.0]]
    """
    if method not in _METHODS:
        raise invalid_choice("projection method", method, _METHODS)
    f = to_numpy(features, name="features").astype(np.float64)
    if f.ndim < 2 or f.shape[0] < 2:
        raise DataError(
            format_message(
                "project_2d needs features of several rows.",
                expected="shape (N, D) with N >= 2",
                got=tuple(f.shape),
            )
        )
    f = f.reshape(len(f), -1)  # (N, D)
    if not np.isfinite(f).all():
        raise DataError("project_2d got NaN or infinite features; check the model's outputs.")
    if method == "tsne":
        return _tsne(f, seed)
    centred = torch.from_numpy(f - f.mean(axis=0))  # (N, D)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)  # vh: (min(N, D), D)
    components = vh[:2]  # (k, D), k <= 2
    # An SVD's signs are arbitrary: make each component's largest |loading| positive.
    biggest = components.abs().argmax(dim=1)
    signs = torch.sign(components[torch.arange(len(components)), biggest])
    points = (centred @ (components * signs[:, None]).T).numpy()  # (N, k)
    if points.shape[1] < 2:
        points = np.hstack([points, np.zeros((len(points), 2 - points.shape[1]))])
    return points


def _tsne(f: np.ndarray, seed: int) -> np.ndarray:
    try:
        manifold = require("sklearn.manifold", extra="viz", purpose="t-SNE")
    except MissingDependencyError as exc:
        raise MissingDependencyError(
            "project_2d(method='tsne') needs scikit-learn, which is not installed. Install it "
            "with: pip install scikit-learn (or use method='pca')."
        ) from exc
    perplexity = min(30.0, max(1.0, (len(f) - 1) / 3))  # sklearn requires perplexity < N
    tsne = manifold.TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return np.asarray(tsne.fit_transform(f.astype(np.float32)), dtype=np.float64)


def plot_projection(
    points: Any,
    labels: Any,
    *,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Scatter plot of 2-D points, one colour per class, with a legend.

    Args:
        points: ``(N, 2)`` (what :func:`project_2d` returns).
        labels: ``(N,)`` class of each point (ints or strings); ``None`` draws one colour.
        class_names: Names for integer labels ``0..C-1`` (optional).
        title: The axes title (optional).
        path: Where to save the figure (optional).

    Returns:
        The figure; ``fig.axes[0].collections`` holds one scatter per class, in sorted order.

    Example:
        >>> fig = plot_projection([[0, 0], [1, 1], [2, 0]], [0, 1, 0], class_names=["a", "b"])
        >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        ['a', 'b']
    """
    plt = _pyplot()
    p = to_numpy(points, name="points").astype(np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise DataError(
            format_message(
                "plot_projection draws 2-D points.",
                expected="shape (N, 2)",
                got=tuple(p.shape),
                fix="Project features first with project_2d(features).",
            )
        )
    y = np.zeros(len(p), dtype=np.int64) if labels is None else to_numpy(labels, name="labels")
    y = y.reshape(-1)
    if len(y) != len(p):
        raise DataError(f"plot_projection got {len(p)} points but {len(y)} labels.")
    classes = np.unique(y)  # sorted
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    fig, ax = plt.subplots(figsize=(6.0, 4.8))
    for i, c in enumerate(classes):
        mine = y == c
        is_index = (
            isinstance(c, np.integer) and class_names is not None and 0 <= c < len(class_names)
        )
        label = str(class_names[int(c)]) if is_index else str(c)
        colour = (
            cmap(i % cmap.N) if len(classes) <= 20 else plt.get_cmap("viridis")(i / len(classes))
        )
        ax.scatter(p[mine, 0], p[mine, 1], s=9, alpha=0.75, color=colour, label=label, linewidths=0)
    if labels is not None and len(classes) <= 30:
        ax.legend(fontsize=7, markerscale=1.6, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title(title or f"{len(p)} points, {len(classes)} classes", fontsize=10)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.grid(alpha=0.25)
    fig.tight_layout()
    return _save(fig, path)
