"""Plots of a run: training curves, confusion matrix, ROC and PR curves (matplotlib, optional).

Every function takes what a run directory holds (``history.csv``, ``evaluation.json``) or the
equivalent Python objects, returns a ``matplotlib.figure.Figure``, and saves it when ``path`` is
given (the format follows the suffix: ``.png``, ``.svg``, ``.pdf``; written atomically).
``plot_run(RUN)`` draws all that applies into ``RUN/plots/``. Needs ``pip install 'deepfuse[viz]'``.

Example:
    >>> from deepfuse.viz import plot_curves
    >>> fig = plot_curves({"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.6, 0.5]})
    >>> [ax.get_title() for ax in fig.axes]
    ['loss']
"""

from __future__ import annotations

from deepfuse.viz.plots import (
    plot_confusion_matrix,
    plot_curves,
    plot_pr,
    plot_roc,
    plot_run,
    read_history,
)

__all__ = [
    "plot_confusion_matrix",
    "plot_curves",
    "plot_pr",
    "plot_roc",
    "plot_run",
    "read_history",
]
