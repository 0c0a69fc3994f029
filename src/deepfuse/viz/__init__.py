"""Plots of a run and of a model (matplotlib, a core dependency: every run draws its report).

Every plotting function returns a ``matplotlib.figure.Figure`` and saves it when ``path`` is
given (the format follows the suffix: ``.png``, ``.svg``, ``.pdf``; written atomically).

- A run: :func:`plot_curves` (``history.csv`` via :func:`read_history`),
  :func:`plot_confusion_matrix`, :func:`plot_roc`, :func:`plot_pr`; :func:`plot_run` draws all
  that applies into ``RUN/plots/``.
- Inside a CNN: :func:`feature_maps` (the convolutions' outputs for a batch),
  :func:`plot_feature_maps` (for one image), :func:`plot_filters` (the first Conv2d's kernels).
- Training dynamics: the ``HistogramLog`` callback (``histogram_log`` in a config) writes
  weight/gradient histograms per epoch; :func:`read_histograms`, :func:`plot_histograms`.
- Learned features: :func:`penultimate_features` (input of the last Linear),
  :func:`project_2d` (PCA, or t-SNE with scikit-learn), :func:`plot_projection`.
- Examples: :func:`confident_errors` / :func:`plot_confident_errors` (the most confident
  mistakes), :func:`plot_image_grid` (any batch of images, e.g. a generator's samples).

Example:
    >>> from deepfuse.viz import plot_curves
    >>> fig = plot_curves({"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.6, 0.5]})
    >>> [ax.get_title() for ax in fig.axes]
    ['loss']
"""

from __future__ import annotations

from deepfuse.viz.examples import confident_errors, plot_confident_errors
from deepfuse.viz.features import feature_maps, plot_feature_maps, plot_filters
from deepfuse.viz.histograms import plot_histograms, read_histograms
from deepfuse.viz.images import plot_image_grid
from deepfuse.viz.latent import interpolation_grid, latent_codes, plot_reconstructions
from deepfuse.viz.plots import (
    plot_confusion_matrix,
    plot_curves,
    plot_pr,
    plot_roc,
    plot_run,
    read_history,
)
from deepfuse.viz.projection import penultimate_features, plot_projection, project_2d
from deepfuse.viz.tiles import save_image_grid, tile_images

__all__ = [
    "confident_errors",
    "feature_maps",
    "interpolation_grid",
    "latent_codes",
    "penultimate_features",
    "plot_confident_errors",
    "plot_confusion_matrix",
    "plot_curves",
    "plot_feature_maps",
    "plot_filters",
    "plot_histograms",
    "plot_image_grid",
    "plot_pr",
    "plot_projection",
    "plot_reconstructions",
    "plot_roc",
    "plot_run",
    "project_2d",
    "read_histograms",
    "read_history",
    "save_image_grid",
    "tile_images",
]
