"""Figures for the report: matplotlib figures to PNG bytes, and the few plots ``deepfuse.viz``
does not draw (reliability curve, residuals, per-fold curves of ``deepfuse cv``).

Example:
    >>> fig = plot_reliability({"bin_edges": [0, 0.5, 1], "mean_predicted": [0.3, 0.8],
    ...                         "fraction_positive": [0.25, 0.9], "count": [4, 6], "ece": 0.07})
    >>> png_bytes(fig)[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["plot_fold_curves", "plot_reliability", "plot_residuals", "plot_steps", "png_bytes"]


def _pyplot() -> Any:
    from deepfuse.viz.plots import _pyplot as pyplot

    return pyplot()


def png_bytes(fig: Any, *, dpi: int = 80, tight: bool = False) -> bytes:
    """The figure as PNG bytes; the figure is closed (its memory freed) afterwards.

    ``tight`` crops to the drawn content, which costs a second full draw: the figures here lay
    themselves out (``tight_layout``), so by default the canvas is saved as it is.
    """
    plt = _pyplot()
    try:
        buf = io.BytesIO()
        bbox = "tight" if tight else None
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches=bbox, facecolor="white")
        return buf.getvalue()
    finally:
        plt.close(fig)


def plot_reliability(calibration: Mapping[str, Any]) -> Any:
    """Reliability diagram (``evaluation.json["calibration"]``): confidence vs observed rate."""
    plt = _pyplot()
    pred = calibration.get("mean_predicted") or []
    frac = calibration.get("fraction_positive") or []
    count = calibration.get("count") or [0] * len(pred)
    edges = calibration.get("bin_edges") or []
    pts = [(p, f, c) for p, f, c in zip(pred, frac, count) if p is not None and f is not None]
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(4.6, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="perfect")
    if pts:
        ax.plot([p for p, _, _ in pts], [f for _, f, _ in pts], marker="o", label="model")
    ax.set_ylabel("observed rate")
    ece = calibration.get("ece")
    what = calibration.get("of") or "confidence"
    title = "reliability" + (f" (ECE {ece:.4f})" if isinstance(ece, int | float) else "")
    ax.set_title(title)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    if len(edges) == len(count) + 1:
        widths = [b - a for a, b in itertools.pairwise(edges)]
        hist.bar(edges[:-1], count, width=widths, align="edge", color="#7aa6e8", edgecolor="white")
    hist.set_xlabel(str(what))
    hist.set_ylabel("rows")
    fig.tight_layout()
    return fig


def plot_residuals(residuals: Mapping[str, Any]) -> Any:
    """Residuals of a regression (``evaluation.json["residuals"]``): vs prediction, histogram."""
    plt = _pyplot()
    sample = residuals.get("sample") or {}
    y_pred = list(sample.get("y_pred") or [])
    r = list(sample.get("residual") or [])
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.4))
    left.scatter(y_pred, r, s=8, alpha=0.6)
    left.axhline(0.0, color="grey", linewidth=0.8, linestyle="--")
    left.set_xlabel("predicted")
    left.set_ylabel("residual (true − predicted)")
    left.set_title(f"residuals vs prediction ({len(r)} sampled rows)")
    left.grid(alpha=0.3)
    right.hist(r, bins=30, color="#7aa6e8", edgecolor="white")
    right.set_xlabel("residual")
    right.set_title("residual distribution")
    fig.tight_layout()
    return fig


def plot_fold_curves(histories: Sequence[Mapping[str, Sequence[float]]]) -> Any:
    """``deepfuse cv``: one panel per metric, one line per fold (train solid, validation dashed)."""
    plt = _pyplot()
    from matplotlib import ticker

    names: list[str] = []
    for h in histories:
        for k in h:
            base = k[4:] if k.startswith("val_") else k
            if base not in names and base not in ("lr", "time"):
                names.append(base)
    if not names:
        raise ValueError("the folds recorded no per-epoch values")
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(axes[0], names):
        for i, h in enumerate(histories):
            colour = colours[i % len(colours)]
            for key, style in ((name, "-"), (f"val_{name}", "--")):
                values = [v for v in h.get(key, []) if v is not None and not math.isnan(v)]
                if values:
                    label = f"fold {i + 1}" if style == "-" else None
                    ax.plot(
                        range(1, len(values) + 1), values, style, color=colour,
                        marker="o", markersize=3, label=label,
                    )  # fmt: skip
        ax.set_title(f"{name} (solid: train, dashed: validation)", fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if len(histories) <= 10:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_steps(steps: Sequence[float], loss: Sequence[float], lr: Sequence[float]) -> Any:
    """Per optimizer step: the epoch's running mean training loss, and the learning rate."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.0))
    left.plot(steps, loss, linewidth=1.0)
    left.set_title("training loss per step (running mean of the epoch)", fontsize=9)
    left.set_xlabel("step")
    left.grid(alpha=0.3)
    right.plot(steps, lr, linewidth=1.0, color="#d9822b")
    right.set_title("learning rate", fontsize=9)
    right.set_xlabel("step")
    right.grid(alpha=0.3)
    fig.tight_layout()
    return fig
