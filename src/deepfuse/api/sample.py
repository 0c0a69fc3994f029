"""``deepfuse sample RUN --n 64 --out grid.png``: new samples of a generator run, as one PNG grid.

The run's model must be a :class:`~deepfuse.models.generative.Generator` (``task: generate``:
a GAN, a VAE). The noise comes from ``--seed`` (the same seed, the same grid); ``--label``
asks a conditional generator for one class, by name or index. When the run has a scorer
(``<run>/scorer/``, trained by ``task: generate``), the samples' class histogram by that
classifier comes back too, with the mode-collapse warning when it is far from uniform.

Example:
    >>> from deepfuse.api.sample import sample
    >>> sample("runs/mnist_gan-20260101-120000", n=64, out="grid.png")     # doctest: +SKIP
    SampleResult(path=PosixPath('grid.png'), n=64, seed=0, label=None, histogram=None)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepfuse._utils.errors import UserError, short_repr
from deepfuse._utils.seed import check_seed
from deepfuse.run import RunReader
from deepfuse.run.layout import SCORER_DIR

__all__ = ["MAX_SAMPLES", "SampleResult", "resolve_label", "sample"]

#: The most samples one grid holds.
MAX_SAMPLES = 1024


@dataclass
class SampleResult:
    """What :func:`sample` returns.

    Attributes:
        path: The PNG written.
        n: Samples in it.
        seed: The noise seed.
        label: The class asked for (its name), or ``None``.
        histogram: The samples' class histogram by the run's scorer
            (:func:`~deepfuse.evaluation.sample_scores.class_histogram`), ``None`` without one.
    """

    path: Path
    n: int
    seed: int
    label: Any = None
    histogram: dict[str, Any] | None = None


def sample(
    run_dir: str | os.PathLike,
    *,
    n: int = 64,
    out: str | os.PathLike,
    seed: int = 0,
    label: str | int | None = None,
    ncols: int = 8,
) -> SampleResult:
    """Draw ``n`` samples from a generator run and write them as a PNG grid.

    Args:
        run_dir: A finished ``task: generate`` run.
        n: Number of samples, 1 to :data:`MAX_SAMPLES`.
        out: The ``.png`` file to write (atomically).
        seed: Noise seed.
        label: A class of the run (its name or index), for a conditional generator only.
        ncols: Samples per row of the grid.

    Returns:
        A :class:`SampleResult`.

    Raises:
        UserError: A bad ``n``, ``seed``, ``label`` or ``out``, or a run whose model does not
            generate samples (the message says what kind of run it is).
    """
    from deepfuse.api.use import load_run
    from deepfuse.evaluation.generative import as_generator, draw_samples
    from deepfuse.viz.tiles import save_image_grid

    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SAMPLES:
        raise UserError(
            f"--n must be an integer from 1 to {MAX_SAMPLES}; got {short_repr(n)}. "
            "E.g. --n 64 (an 8 x 8 grid)."
        )
    seed = check_seed(seed, "--seed")
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise UserError(f"--out must name a .png file; got '{out}'. E.g. --out grid.png")
    run, _, model = load_run(run_dir)
    generator = as_generator(model)
    meta = RunReader(run).metrics()
    if generator is None:
        arch = RunReader(run).model_meta().get("architecture") or {}
        kind = meta.get("task") or "unknown"
        raise UserError(
            f"'{run_dir}' is a {kind!r} run (model {arch.get('name') or arch.get('kind')}): "
            "its model does not generate samples. 'deepfuse sample' needs a run of "
            "task: generate (a GAN or a VAE)."
        )
    classes = meta.get("classes") if isinstance(meta.get("classes"), list) else None
    index = resolve_label(label, generator.num_classes, classes)
    images, _ = draw_samples(generator, n, seed=seed, label=index)
    save_image_grid(images, out, ncols=ncols)
    return SampleResult(
        path=out,
        n=n,
        seed=seed,
        label=None if index is None else _names(generator.num_classes, classes)[index],
        histogram=_histogram(run, images, classes),
    )


def _names(num_classes: int, classes: Sequence[Any] | None) -> list[str]:
    if classes and len(classes) == num_classes:
        return [str(c) for c in classes]
    return [str(i) for i in range(num_classes)]


def resolve_label(
    label: str | int | None, num_classes: int, classes: Sequence[Any] | None
) -> int | None:
    """The class index ``label`` names (a class name first, else an index), or ``None``.

    Example:
        >>> resolve_label("Bag", 3, ["Coat", "Bag", "Sandal"]), resolve_label("2", 3, None)
        (1, 2)
        >>> resolve_label("7", 0, None)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.UserError: --label asks a conditional generator for a class; ...
    """
    if label is None:
        return None
    if not num_classes:
        raise UserError(
            "--label asks a conditional generator for a class; this run's generator is "
            "unconditional (train it with model.conditional: true). Leave --label out."
        )
    names = _names(num_classes, classes)
    text = str(label)
    if text in names:
        return names.index(text)
    if text.lstrip("-").isdigit() and 0 <= int(text) < num_classes:
        return int(text)
    shown = ", ".join(repr(c) for c in names[:20]) + (", ..." if len(names) > 20 else "")
    raise UserError(
        f"--label {short_repr(label)} is not a class of this run. Expected a class name "
        f"({shown}) or an index from 0 to {num_classes - 1}."
    )


def _histogram(run: Path, images: Any, classes: Sequence[Any] | None) -> dict[str, Any] | None:
    """The samples' class histogram by the run's scorer, or ``None`` when it has none."""
    from deepfuse.evaluation.sample_scores import class_histogram
    from deepfuse.evaluation.scorer import load_scorer, scorer_logits

    found = load_scorer(run / SCORER_DIR)
    if found is None:
        return None
    logits = scorer_logits(found[0], images)
    k = logits.shape[1]
    return class_histogram(
        logits.argmax(dim=1).numpy(), k, classes if classes and len(classes) == k else None
    )
