"""Weight and gradient distributions across epochs, from the file ``HistogramLog`` writes.

Record them while training with the callback (config: ``trainer.callbacks:
[{histogram_log: {path: RUN/histograms.json}}]``), then draw one panel per parameter with one
line per epoch, from early (dark) to late (bright).

Example:
    >>> from deepfuse.viz import plot_histograms
    >>> entry = lambda e, c: {"epoch": e, "step": e, "edges": [0.0, 1.0, 2.0], "counts": c,
    ...                       "mean": 1.0, "std": 0.5}
    >>> doc = {"version": 1, "bins": 2, "epochs": [1, 2],
    ...        "weights": {"w": [entry(1, [3.0, 1.0]), entry(2, [1.0, 3.0])]}, "gradients": {}}
    >>> fig = plot_histograms(doc)
    >>> fig.axes[0].get_title(), [line.get_ydata().tolist() for line in fig.axes[0].lines]
    ('w', [[3.0, 1.0], [1.0, 3.0]])
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping
from typing import Any

from deepfuse._utils.errors import DataError, invalid_choice
from deepfuse.run import read_histograms
from deepfuse.viz.plots import _pyplot, _save

__all__ = ["plot_histograms", "read_histograms"]

_KINDS = ("weights", "gradients")


def plot_histograms(
    histograms: Mapping[str, Any] | str | os.PathLike,
    *,
    kind: str = "weights",
    max_layers: int = 8,
    path: str | os.PathLike | None = None,
) -> Any:
    """One panel per parameter tensor, one line per recorded epoch (colour: early → late).

    Args:
        histograms: What :func:`read_histograms` returns, or the file's path.
        kind: ``"weights"`` or ``"gradients"``.
        max_layers: At most this many parameters (the first ones in model order).
        path: Where to save the figure (optional).

    Returns:
        The figure; panel ``i``'s lines are the epochs' counts at the bin centres, in order.

    Raises:
        ConfigError: Unknown ``kind``.
        DataError: The file holds no histogram of that kind.
    """
    if kind not in _KINDS:
        raise invalid_choice("histogram kind", kind, _KINDS)
    if isinstance(histograms, str | os.PathLike):
        histograms = read_histograms(histograms)
    per_param = {k: v for k, v in (histograms.get(kind) or {}).items() if v}
    if not per_param:
        raise DataError(
            f"The histograms hold no {kind} (kinds with data: "
            f"{[k for k in _KINDS if histograms.get(k)] or 'none'}). Record them with the "
            "HistogramLog callback during fit (gradients need at least one training step)."
        )
    if not isinstance(max_layers, int) or max_layers < 1:
        raise DataError(f"'max_layers' must be a positive int; got {max_layers!r}.")
    plt = _pyplot()
    from matplotlib import cm, colors, ticker

    names = list(per_param)[:max_layers]
    ncols = min(4, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.5 * nrows + 0.6), squeeze=False)
    epochs = sorted({e["epoch"] for n in names for e in per_param[n]})
    norm = colors.Normalize(vmin=epochs[0], vmax=max(epochs[-1], epochs[0] + 1))
    cmap = plt.get_cmap("viridis")
    for ax, name in zip(axes.flat, names):
        for entry in per_param[name]:
            edges, counts = entry["edges"], entry["counts"]
            if not counts:
                continue  # no finite value at that epoch
            centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
            ax.plot(centres, counts, color=cmap(norm(entry["epoch"])), linewidth=1.1)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(4))  # small ranges: long tick labels
        ax.grid(alpha=0.25)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    shown = f"first {len(names)} of {len(per_param)}" if len(per_param) > len(names) else "all"
    fig.suptitle(f"{kind} per epoch ({shown} parameters)", fontsize=10)
    fig.tight_layout()
    bar = fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes.ravel().tolist(), pad=0.02)
    bar.set_label("epoch")
    bar.locator = ticker.MaxNLocator(integer=True)  # epochs are whole
    bar.update_ticks()
    return _save(fig, path)
