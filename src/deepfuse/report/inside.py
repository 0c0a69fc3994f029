"""The "Inside the model" section of ``report.html``: feature maps and filters of a CNN, weight
and gradient histograms across epochs (``histograms.json``), and a 2-D projection of the
penultimate features of the sampled test rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepfuse.report.context import RunFacts, guarded, viz_function
from deepfuse.report.figures import png_bytes
from deepfuse.report.html import figure, grid, not_applicable
from deepfuse.run import HISTOGRAMS_FILE

__all__ = ["NO_TEST_ROWS", "has_conv2d", "image_key", "inside"]

#: What a part that needs test rows says when the report was given none.
NO_TEST_ROWS = (
    "No test rows were given to the report: 'deepfuse report RUN' rebuilds them from the run."
)


def inside(f: RunFacts) -> str:
    """The "Inside the model" section: feature maps, filters, histograms, projection."""
    parts = [
        "<h3>Feature maps</h3>" + guarded("Feature maps", lambda: _feature_maps(f)),
        "<h3>Convolution filters</h3>" + guarded("Convolution filters", lambda: _filters(f)),
        "<h3>Weights and gradients across epochs</h3>"
        + guarded("Weight and gradient histograms", lambda: _histograms(f)),
        "<h3>Projection of the penultimate features</h3>"
        + guarded("The 2-D projection", lambda: _projection(f)),
    ]
    return "".join(parts)


def _feature_maps(f: RunFacts) -> str:
    model = f.loaded_model()
    if not has_conv2d(model):
        return not_applicable("The model has no 2-D convolution: no feature maps to show.")
    if not f.has_test_rows:
        return not_applicable(NO_TEST_ROWS)
    rows = f.probe().rows
    key = image_key(rows, model)
    if key is None:
        return not_applicable("The model's input is not an image: no feature maps to show.")
    fig = viz_function("plot_feature_maps")(model, rows[key][0], max_channels=8)
    return figure(png_bytes(fig), "activations of each convolution for one test image", wide=True)


def _filters(f: RunFacts) -> str:
    model = f.loaded_model()
    if not has_conv2d(model):
        return not_applicable("The model has no 2-D convolution: no filters to show.")
    fig = viz_function("plot_filters")(
        model, max_filters=16
    )  # one axes each: matplotlib time grows
    return figure(png_bytes(fig), "kernels of the first 2-D convolution (at most 16)")


def _histograms(f: RunFacts) -> str:
    recorded = f.histograms
    if recorded is None:
        return not_applicable(f"Not recorded: this run has no {HISTOGRAMS_FILE}.")
    histograms = dict(recorded)
    matrices = _matrix_names(f)
    for kind in ("weights", "gradients"):  # weight matrices and kernels tell the story
        per_param = histograms.get(kind) or {}
        chosen = {k: v for k, v in per_param.items() if k in matrices}
        histograms[kind] = chosen or per_param
    figs = []
    for kind in ("weights", "gradients"):

        def draw(kind: str = kind) -> str:
            fig = viz_function("plot_histograms")(histograms, kind=kind, max_layers=6)
            caption = (
                f"{kind} of the weight matrices and kernels (biases and normalisation scales "
                "left out), one line per epoch"
            )
            return figure(png_bytes(fig, dpi=80), caption, wide=True)

        figs.append(guarded(f"The {kind} histograms", draw))
    return grid(*figs)


def _matrix_names(f: RunFacts) -> set[str]:
    """Names of the parameters with 2+ dimensions (weight matrices, kernels): not biases or
    normalisation scales, whose histograms say little (by name when the model cannot load)."""
    try:
        params = f.loaded_model().named_parameters()
        return {name for name, p in params if p.dim() >= 2}
    except Exception:
        names = (f.histograms or {}).get("weights") or {}
        return {n for n in names if n.endswith("weight")}


def _projection(f: RunFacts) -> str:
    if not f.has_test_rows:
        return not_applicable(NO_TEST_ROWS)
    p = f.probe()
    if p.features is None:
        return not_applicable("The model has no linear layer whose input could be projected.")
    if len(p.features) < 3:
        return not_applicable("Too few test rows to project.")
    points = viz_function("project_2d")(p.features, method="pca", seed=0)
    labels = None
    if f.task != "regression" and p.y_true is not None:
        labels = p.y_true.astype("int64")
    fig = viz_function("plot_projection")(
        points,
        labels,
        class_names=f.class_names,
        title=f"PCA of the last layer's inputs ({len(points):,} test rows)",
    )
    caption = "penultimate features of test rows in 2-D (PCA), coloured by true class"
    return figure(png_bytes(fig), caption)


def has_conv2d(model: Any) -> bool:
    """Whether ``model`` has a 2-D convolution (torch's or deepfuse's)."""
    import torch

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d) or (
            type(m).__name__ == "Conv2D" and type(m).__module__.startswith("deepfuse.layers")
        ):
            return True
    return False


def image_key(rows: Mapping[str, Any], model: Any) -> str | None:
    """The key of a float image input ``(N, C, H, W)`` / ``(N, H, W)``, if the model has one."""
    target = getattr(model, "target_key", None)
    for k, v in rows.items():
        if k != target and v.is_floating_point() and v.dim() in (3, 4):
            return k
    return None
