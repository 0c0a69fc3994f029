"""The plotting functions of :mod:`deepfuse.viz` (matplotlib, imported on first use)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deepfuse._utils.errors import DataError
from deepfuse._utils.io import atomic_write_bytes
from deepfuse._utils.optional import require
from deepfuse.run import EVALUATION_FILE, PLOTS_DIR, read_history, read_run
from deepfuse.run.files import confusion_counts

__all__ = [
    "plot_confusion_matrix",
    "plot_curves",
    "plot_pr",
    "plot_roc",
    "plot_run",
    "read_history",
]


def _pyplot() -> Any:
    matplotlib = require("matplotlib", extra="viz", purpose="plots")
    matplotlib.use("Agg", force=False)  # files only: no display needed, no window opened
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike | None) -> Any:
    if path is not None:
        suffix = Path(path).suffix.lstrip(".").lower() or "png"
        buf = io.BytesIO()
        fig.savefig(buf, format=suffix, dpi=110, bbox_inches="tight")
        atomic_write_bytes(Path(path), buf.getvalue())
    return fig


def plot_curves(
    history: Mapping[str, Sequence[float]], path: str | os.PathLike | None = None
) -> Any:
    """Train and validation curves, one panel per metric (``loss`` and ``val_loss`` together).

    Args:
        history: ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}`` per epoch
            (``model.fit(...).history`` or :func:`read_history`).
        path: Where to save the figure (optional).
    """
    plt = _pyplot()
    from matplotlib import ticker

    names = [k for k in history if not k.startswith("val_")]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in names]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            values = list(history.get(key, []))
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        epochs = max(len(history.get(k, [])) for k in (name, f"val_{name}"))
        if epochs <= 12:  # few epochs (one, even): a tick on each, no fractional epochs
            ax.set_xticks(range(1, epochs + 1))
        else:
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))  # epochs are whole
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_confusion_matrix(
    counts: Sequence[Sequence[float]],
    labels: Sequence[Any] | None = None,
    path: str | os.PathLike | None = None,
    *,
    normalize: bool = True,
) -> Any:
    """Confusion-matrix heat map (rows: true class, columns: predicted), counts in the cells.

    Args:
        counts: ``(C, C)`` counts (``evaluation.json["confusion_matrix"]["counts"]``).
        labels: Class names (default ``0..C-1``).
        path: Where to save the figure (optional).
        normalize: Colour by row share (recall per class) instead of raw counts.
    """
    plt = _pyplot()
    import numpy as np

    m = np.asarray(counts, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise DataError(f"A confusion matrix must be square (C, C); got shape {m.shape}.")
    labels = [str(c) for c in (labels if labels is not None else range(len(m)))]
    shown = m / np.maximum(m.sum(axis=1, keepdims=True), 1) if normalize else m
    size = 1.0 + 0.5 * len(m)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(shown, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(len(m)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(m)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix" + (" (row share)" if normalize else ""))
    if len(m) <= 20:  # counts stay readable up to 20 classes
        threshold = shown.max() / 2 if shown.size else 0
        for i in range(len(m)):
            for j in range(len(m)):
                colour = "white" if shown[i, j] > threshold else "black"
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", color=colour, fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def _per_class_curves(curves: Mapping[str, Any], x: str, y: str, title: str, path: Any) -> Any:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    for name, points in curves.items():
        ax.plot(points[x], points[y], label=str(name), linewidth=1.2)
    if x == "fpr":
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    if 1 < len(curves) <= 12:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_roc(curves: Mapping[str, Any], path: str | os.PathLike | None = None) -> Any:
    """ROC curves, one per class (``evaluation.json["curves"]["roc"]``: ``{class: {fpr, tpr}}``)."""
    return _per_class_curves(curves, "fpr", "tpr", "ROC", path)


def plot_pr(curves: Mapping[str, Any], path: str | os.PathLike | None = None) -> Any:
    """Precision-recall curves, one per class (``evaluation.json["curves"]["pr"]``)."""
    return _per_class_curves(curves, "recall", "precision", "precision-recall", path)


def plot_run(run_dir: str | os.PathLike, fmt: str = "png") -> list[Path]:
    """Draw every plot that applies to a run into ``RUN/plots/``; returns the files written.

    Example:
        >>> plot_run("runs/mnist_cnn-20261125-062209")  # doctest: +SKIP
        [PosixPath('.../plots/curves.png'), PosixPath('.../plots/confusion_matrix.png'), ...]
    """
    run = read_run(run_dir)
    out = run.path / PLOTS_DIR
    written: list[Path] = []
    plt = _pyplot()

    def keep(fig: Any, name: str) -> None:
        path = out / f"{name}.{fmt}"
        _save(fig, path)
        plt.close(fig)
        written.append(path)

    out.mkdir(exist_ok=True)
    history = run.history()
    if history:  # an empty (damaged) history.csv: no curves, not a zero-panel figure
        keep(plot_curves(history), "curves")
    evaluation = run.evaluation()
    if evaluation:
        matrix = evaluation.get("confusion_matrix")
        if matrix:
            counts = confusion_counts(matrix.get("counts") if isinstance(matrix, dict) else None)
            if counts is None:
                raise DataError(
                    f"The confusion matrix in '{run.path / EVALUATION_FILE}' is not a square "
                    "table of counts; the file is damaged. Re-create it with 'deepfuse evaluate'."
                )
            keep(plot_confusion_matrix(counts, matrix.get("labels")), "confusion_matrix")
        curves = evaluation.get("curves") or {}
        if curves.get("roc"):
            keep(plot_roc(curves["roc"]), "roc")
        if curves.get("pr"):
            keep(plot_pr(curves["pr"]), "pr")
    return written
