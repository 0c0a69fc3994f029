"""The "Reconstructions and latent space" section of ``report.html``: what a model that
reconstructs its inputs (an autoencoder, a VAE: :class:`~deepfuse.models.generative.Reconstructor`)
does with the test rows.

- **Reconstructions** (image inputs): :data:`PAIRS` test images above their reconstructions; for
  an anomaly run also the most and least anomalous sampled test rows (images with their
  reconstructions, or a table of a table run's rows).
- **Latent space**: the latent codes of the sampled test rows (at most
  :data:`~deepfuse.report.probe.MAX_ROWS`) projected to 2-D by PCA, coloured by class (an
  anomaly run: normal / anomaly).
- For a model that also generates (a VAE: :class:`~deepfuse.models.generative.Generator`):
  **Samples from the prior** and an **Interpolation** grid (a row per pair of test images,
  columns stepping linearly between their latent codes, decoded).

Bounded (a fixed number of rows through the model) and RNG-local: rows are sampled with a
seeded local generator, the prior noise comes from ``model.noise(n, seed=0)``, and every call
of the model runs under :func:`deepfuse.viz.latent.quietly` (eval mode, no gradients, the global
random state restored), so a run's results never depend on its report.

Example:
    >>> import tempfile
    >>> from deepfuse.report.context import RunFacts
    >>> import torch
    >>> html = autoencoder_section(RunFacts(tempfile.mkdtemp(), model=torch.nn.Linear(2, 2)))
    >>> "not applicable" in html or "does not reconstruct" in html
    True
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepfuse.models.generative import Generator, Reconstructor
from deepfuse.report.context import RunFacts, guarded
from deepfuse.report.html import figure, grid, not_applicable, scroll, table
from deepfuse.report.inside import NO_TEST_ROWS, image_key
from deepfuse.report.probe import MAX_ROWS, sample_rows

__all__ = ["EXTREMES", "PAIRS", "autoencoder_section"]

#: Test images shown above their reconstructions.
PAIRS = 16
#: Most (and least) anomalous sampled test rows shown in an anomaly run.
EXTREMES = 8
#: Samples drawn from the prior of a VAE (four rows of eight).
PRIOR_SAMPLES = 32
#: Pairs of test images (rows) and steps between their codes (columns) of the interpolation.
INTERPOLATION_PAIRS, INTERPOLATION_STEPS = 6, 8


def autoencoder_section(f: RunFacts) -> str:
    """The section: reconstructions, latent space (and prior samples, interpolation)."""
    model = f.loaded_model()
    if not isinstance(model, Reconstructor):
        return not_applicable(
            "The model does not reconstruct its inputs (it is not an autoencoder or a VAE): "
            "no reconstructions or latent space to show."
        )
    if not f.has_test_rows:
        return not_applicable(NO_TEST_ROWS)
    parts = [
        ("Reconstructions", _reconstructions),
        ("Latent space", _latent_space),
    ]
    if isinstance(model, Generator):
        parts += [("Samples from the prior", _prior), ("Interpolation", _interpolation)]
    return "".join(
        f"<h3>{title}</h3>" + guarded(title, lambda d=draw: d(f)) for title, draw in parts
    )


@dataclass
class _Look:
    """The sampled test rows as the model takes them, and what the model made of them."""

    batch: dict[str, torch.Tensor]  # at most MAX_ROWS rows, labels included
    image: str | None  # the key of the image input, if the inputs are images
    labels: np.ndarray | None  # (N,) class of each row (as the rows hold it)
    codes: torch.Tensor  # (N, latent_dim)
    scores: np.ndarray | None  # (N,) anomaly scores (anomaly runs), higher = more anomalous


def _look(f: RunFacts) -> _Look:
    """Sampled once per report (cached on the facts): every part reads the same rows."""
    return f._read("autoencoder:look", lambda: _make_look(f))


def _make_look(f: RunFacts) -> _Look:
    from deepfuse.viz.latent import latent_codes

    model = f.loaded_model()
    if f.test_data is None:  # ``deepfuse report RUN``: the rebuild ``deepfuse evaluate`` uses
        load = f.load_test_data
        f.test_data = f._once("test rows", lambda: load(f.config, model))  # type: ignore[misc]
    batch = _as_model_rows(model, sample_rows(f.test_data, cap=MAX_ROWS))
    target = getattr(model, "target_key", None) or "y"
    labels = batch[target].numpy().reshape(-1) if target in batch else None
    codes = latent_codes(model, batch)
    scores = None
    if f.task == "anomaly":
        scores = _anomaly_scores(model, batch)
    return _Look(batch, image_key(batch, model), labels, codes, scores)


def _as_model_rows(model: Any, rows: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Rows converted as ``fit`` feeds them (uint8 images -> float NCHW in [0, 1]): a deepfuse
    model by its own rule and layout, another module by THE array -> tensor rule."""
    from deepfuse.data.tensors import to_tensor_dict
    from deepfuse.models import Model

    if isinstance(model, Model):
        from deepfuse.models import feeding

        return {k: v.cpu() for k, v in feeding.to_tensors(model, rows, None).items()}
    target = getattr(model, "target_key", None) or "y"
    features = {k: v for k, v in rows.items() if k != target}
    out = to_tensor_dict(features, rows.get(target))
    if "y" in out and target != "y":
        out[target] = out.pop("y")
    return out


def _anomaly_scores(model: Any, batch: Mapping[str, torch.Tensor]) -> np.ndarray:
    from deepfuse.viz.latent import quietly

    n = len(next(iter(batch.values())))
    parts = []
    with quietly(model):
        for start in range(0, n, 256):
            rows = {k: v[start : start + 256] for k, v in batch.items()}
            parts.append(model.anomaly_score(rows).detach().float().reshape(-1).cpu())
    return torch.cat(parts).numpy()


def _grid_png(canvas: np.ndarray, scale: int = 2) -> bytes:
    """A ``tile_images`` canvas as PNG bytes, each pixel ``scale`` times (a 28px digit stays
    readable)."""
    from PIL import Image

    big = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, format="PNG")
    return buf.getvalue()


def _reconstruct(model: Any, batch: Mapping[str, torch.Tensor], rows: Any) -> torch.Tensor:
    from deepfuse.viz.latent import quietly

    index = torch.as_tensor(np.ascontiguousarray(rows, dtype=np.int64))
    with quietly(model):
        return model.reconstruct({k: v[index] for k, v in batch.items()}).float().cpu()


def _pairs_figure(f: RunFacts, rows: Any, caption: str) -> str:
    """Images ``rows`` of the sample above their reconstructions, with the mean squared error."""
    from deepfuse.viz.latent import plot_reconstructions

    model, look = f.loaded_model(), _look(f)
    assert look.image is not None
    index = torch.as_tensor(np.ascontiguousarray(rows, dtype=np.int64))
    originals = look.batch[look.image][index].float()
    recon = _reconstruct(model, look.batch, rows).reshape(originals.shape)
    mse = float(((recon - originals) ** 2).mean())
    canvas = plot_reconstructions(originals, recon, ncols=8)
    return figure(_grid_png(canvas), f"{caption} (mean squared error {mse:.4g})", wide=True)


def _reconstructions(f: RunFacts) -> str:
    look = _look(f)
    n = len(look.codes)
    if look.image is None:
        note = not_applicable(
            "The inputs are not images: see the latent space below"
            + (" and the most / least anomalous rows in this table." if look.scores is not None
               else ".")
        )  # fmt: skip
        return note + (_extreme_rows_table(f) if look.scores is not None else "")
    parts = [
        _pairs_figure(
            f, range(min(PAIRS, n)), f"{min(PAIRS, n)} sampled test images (rows 1, 3) above "
            "their reconstructions (rows 2, 4)"
        )
    ]  # fmt: skip
    if look.scores is not None:
        order = np.argsort(-look.scores, kind="stable")  # most anomalous first
        k = min(EXTREMES, n // 2)
        top, bottom = order[:k], order[::-1][:k]
        parts.append(_pairs_figure(
            f, top, f"the {k} most anomalous of {n:,} sampled test images, most first (scores "
            f"{look.scores[top[0]]:.4g} .. {look.scores[top[-1]]:.4g}), above their reconstructions"
        ))  # fmt: skip
        parts.append(_pairs_figure(
            f, bottom, f"the {k} least anomalous, least first (scores "
            f"{look.scores[bottom[0]]:.4g} .. {look.scores[bottom[-1]]:.4g}), above their "
            "reconstructions"
        ))  # fmt: skip
    return grid(*parts)


def _extreme_rows_table(f: RunFacts) -> str:
    """The most and least anomalous sampled rows of a table run: score, label, feature values
    decoded from the model inputs when the model has a preprocessor."""
    from deepfuse.report.mistakes import _decode_table

    look, model = _look(f), f.loaded_model()
    assert look.scores is not None
    order = np.argsort(-look.scores, kind="stable")
    k = min(EXTREMES, len(order) // 2)
    chosen = [("most", int(i)) for i in order[:k]] + [("least", int(i)) for i in order[::-1][:k]]
    flags = _normal_flags(f, look.labels)[0]
    columns: list[str] = []
    values: list[list[Any]] = [[] for _ in chosen]
    pre = getattr(model, "preprocessor", None)
    if pre is not None:
        columns, values = _decode_table(pre, look.batch, [i for _, i in chosen])
    rows = [
        [which, float(look.scores[i]), _label_text(f, look, i, flags), *vals]
        for (which, i), vals in zip(chosen, values)
    ]
    return scroll(table(["anomalous", "score", "label", *columns], rows))


def _label_text(f: RunFacts, look: _Look, i: int, flags: np.ndarray | None) -> str:
    if look.labels is None:
        return "—"
    value = look.labels[i]
    names = f.class_names or []
    shown = names[int(value)] if names and 0 <= int(value) < len(names) else str(value)
    if flags is not None:
        shown += " (normal)" if not flags[i] else " (anomaly)"
    return shown


def _normal_spec(f: RunFacts) -> list[Any] | None:
    """The run's normal classes: recorded by the task, else the config's ``task.normal``."""
    for source in (f.evaluation, f.metrics):
        if source.get("normal") is not None:
            return list(source["normal"])
    spec = f.config.get("task")
    if isinstance(spec, Mapping):
        options = spec if "name" in spec else next(iter(spec.values()), {})
        if isinstance(options, Mapping) and options.get("normal") is not None:
            normal = options["normal"]
            return list(normal) if isinstance(normal, list | tuple) else [normal]
    return None


def _normal_flags(f: RunFacts, labels: np.ndarray | None) -> tuple[np.ndarray | None, str]:
    """``(is anomaly per row, which rule said so)``: the normal classes of the run (by class
    index or name), else the majority class of the sampled rows."""
    if labels is None:
        return None, ""
    classes = f.classes
    spec = _normal_spec(f)
    if spec is not None:
        wanted = {str(v) for v in spec}
        if classes:  # labels are class indices: normal where the class (or its index) is listed
            normal_idx = {i for i, c in enumerate(classes) if str(c) in wanted or str(i) in wanted}
            normal = np.isin(labels.astype(np.int64), sorted(normal_idx))
        else:
            normal = np.array([str(v) in wanted for v in labels.tolist()])
        if normal.any():
            return ~normal, "normal = " + ", ".join(sorted(wanted))
    values, counts = np.unique(labels, return_counts=True)
    majority = values[counts.argmax()]
    return labels != majority, "normal = the majority class of the sampled rows"


def _latent_space(f: RunFacts) -> str:
    from deepfuse.viz import plot_projection, project_2d

    look = _look(f)
    n, dim = look.codes.shape
    if n < 3:
        return not_applicable("Too few test rows to project.")
    points = project_2d(look.codes, method="pca", seed=0)
    title = f"PCA of the latent codes ({n:,} test rows, {dim} dimensions)"
    if f.task == "anomaly":
        flags, rule = _normal_flags(f, look.labels)
        labels = None if flags is None else np.where(flags, "anomaly", "normal")
        what = f"normal / anomaly ({rule})" if flags is not None else "nothing (no labels)"
        fig = plot_projection(points, labels, title=title)
    else:
        labels = None if look.labels is None else look.labels.astype(np.int64)
        what = "true class" if labels is not None else "nothing (no labels)"
        fig = plot_projection(points, labels, class_names=f.class_names, title=title)
    from deepfuse.report.figures import png_bytes

    caption = f"latent codes of sampled test rows in 2-D (PCA), coloured by {what}"
    out = figure(png_bytes(fig), caption)
    if look.scores is not None:
        out += table(["anomaly score", "min", "median", "max"],
                     [["sampled test rows", float(look.scores.min()),
                       float(np.median(look.scores)), float(look.scores.max())]])  # fmt: skip
    return out


def _prior(f: RunFacts) -> str:
    from deepfuse.viz import tile_images
    from deepfuse.viz.latent import quietly

    model = f.loaded_model()
    with quietly(model):
        noise, labels = model.noise(PRIOR_SAMPLES, seed=0)  # a local generator: same each time
        images = model.generate(noise, labels).float().cpu()
    caption = f"{PRIOR_SAMPLES} samples decoded from the model's prior (model.noise, seed 0)"
    return figure(_grid_png(tile_images(images, ncols=8)), caption, wide=True)


def _interpolation(f: RunFacts) -> str:
    from deepfuse.viz import tile_images
    from deepfuse.viz.latent import interpolation_grid

    look, model = _look(f), f.loaded_model()
    if look.image is None:
        return not_applicable("The inputs are not images: no interpolation to show.")
    starts, ends = _interpolation_pairs(look.labels, len(look.codes))
    if not starts:
        return not_applicable("Too few test rows to pair.")
    start = {k: v[torch.as_tensor(starts)] for k, v in look.batch.items()}
    end = {k: v[torch.as_tensor(ends)] for k, v in look.batch.items()}
    images = interpolation_grid(model, start, end, steps=INTERPOLATION_STEPS)
    caption = (
        f"{len(starts)} pairs of sampled test images (rows; of different classes where the rows "
        f"have labels): {INTERPOLATION_STEPS} steps from one latent code to the other, decoded"
    )
    return figure(_grid_png(tile_images(images, ncols=INTERPOLATION_STEPS)), caption, wide=True)


def _interpolation_pairs(labels: np.ndarray | None, n: int) -> tuple[list[int], list[int]]:
    """Deterministic pairs: rows ``0..P-1`` each with the next unused row of another class
    (any next unused row without labels)."""
    starts, ends, used = [], [], set()
    for i in range(n):
        if len(starts) == INTERPOLATION_PAIRS:
            break
        if i in used:
            continue
        for j in range(i + 1, n):
            if j in used or (labels is not None and labels[j] == labels[i]):
                continue
            starts.append(i)
            ends.append(j)
            used.update((i, j))
            break
    return starts, ends
