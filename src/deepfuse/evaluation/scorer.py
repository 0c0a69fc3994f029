"""The scorer of ``task: generate``: a small CNN trained on the run's own images and labels, whose
penultimate activations are the feature space of the classifier-feature Fréchet distance
(``classifier_fd``) and of precision/recall, and whose predictions give the samples' class
histogram.

It is not Inception: its features know only the run's dataset, so ``classifier_fd`` values
compare generators of that dataset with each other, never with published FID numbers.

The scorer trains inside :func:`~deepfuse.training.checkpoint.isolated_rng` with
its own seed, so a generator run's random streams are exactly what they would be without it,
and is saved to ``<run>/scorer/`` (``model.json`` + ``model.safetensors`` + ``scorer.json``)
where resume, ``deepfuse sample`` and the final evaluation find it again.

Measured on MNIST (2 CPU cores): 1 epoch over the 54,000 training images takes 25 s with the
cores to itself (90 s while other jobs shared them) and reaches 97.8% test accuracy (98.0% on
the validation images); ``scorer.json`` and ``evaluation.json`` record each run's own numbers.

Example:
    >>> import torch
    >>> x = torch.rand(64, 1, 8, 8); y = torch.arange(64) % 2
    >>> scorer = train_scorer(x, y, seed=0, epochs=1, num_classes=2)
    >>> tuple(scorer_features(scorer, x[:5]).shape), tuple(scorer_logits(scorer, x[:5]).shape)
    ((5, 64), (5, 2))
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch

from deepfuse._utils.errors import DataError, format_message
from deepfuse._utils.io import atomic_write_json, read_json
from deepfuse.run.layout import MODEL_FILE, SCORER_DIR
from deepfuse.training.checkpoint import isolated_rng

__all__ = [
    "SCORER_FILE",
    "load_scorer",
    "save_scorer",
    "scorer_accuracy",
    "scorer_features",
    "scorer_for",
    "scorer_logits",
    "split_images",
    "train_scorer",
]

#: Facts of the scorer (accuracy, seconds, rows) beside its model files in ``<run>/scorer/``.
SCORER_FILE = "scorer.json"
#: The scorer's architecture: two conv blocks and a 64-unit penultimate layer (the features).
SCORER_ARCH = {"filters": [16, 32], "dense": [64], "dropout": 0.25, "padding": "same"}
_BATCH = 512  # rows per forward pass when scoring


def train_scorer(
    train_images: torch.Tensor,
    labels: torch.Tensor,
    *,
    seed: int = 0,
    epochs: int = 1,
    num_classes: int | None = None,
    batch_size: int = 128,
) -> Any:
    """A zoo ``cnn`` classifier trained on ``(images, labels)`` without touching the caller's
    random streams (python, numpy and torch are restored afterwards).

    Args:
        train_images: ``(N, C, H, W)`` floats in ``[0, 1]``.
        labels: ``(N,)`` class indices.
        seed: The scorer's own seed (weights and data order).
        epochs: Passes over the images (1 is enough for MNIST-like data).
        num_classes: Output classes (default: ``labels.max() + 1``).
        batch_size: Rows per optimizer step.

    Returns:
        The trained :class:`deepfuse.Model`, in eval mode.
    """
    from deepfuse.models import build

    x, y = _checked(train_images, labels)
    classes = int(num_classes) if num_classes is not None else int(y.max()) + 1
    with isolated_rng():
        torch.manual_seed(seed)  # the weights the cnn builds at once (input_shape given)
        # build(): the zoo name and arguments go to model.json, so load_model rebuilds it
        model = build("cnn", **SCORER_ARCH, out_features=classes, input_shape=list(x.shape[1:]))
        model.name = "scorer"
        model.compile(optimizer={"name": "adam", "lr": 2e-3}, loss="cross_entropy")
        model.fit(x, y, batch_size=batch_size, epochs=epochs, seed=seed, verbose=0)
    model.train(False)
    return model


def _checked(images: Any, labels: Any) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(images, dtype=torch.float32)
    y = torch.as_tensor(labels).long().reshape(-1)
    if x.dim() != 4 or len(x) != len(y) or len(x) == 0:
        raise DataError(
            format_message(
                "The scorer trains on images (N, C, H, W) with one label each.",
                got=f"images {tuple(x.shape)}, labels {tuple(y.shape)}",
            )
        )
    return x, y


@torch.no_grad()
def scorer_logits(scorer: Any, images: torch.Tensor) -> torch.Tensor:
    """``(N, classes)`` logits (on the CPU) of ``images`` ``(N, C, H, W)``, in batches, eval
    mode."""
    return _forward(scorer, images, penultimate=False)


@torch.no_grad()
def scorer_features(scorer: Any, images: torch.Tensor) -> torch.Tensor:
    """``(N, D)`` penultimate activations (the input of the output layer) of ``images``.

    The scorer is a zoo ``Sequential`` whose last layer is the output ``Dense``: every layer
    but that one gives the features (float64 for the covariance estimates that follow).
    """
    return _forward(scorer, images, penultimate=True).double()


def _forward(scorer: Any, images: torch.Tensor, *, penultimate: bool) -> torch.Tensor:
    net = scorer.module  # ZooSequential: [... Flatten, Dense(64), relu, Dropout, Dense(K)]
    body = net[:-1] if penultimate else net
    was_training = net.training
    net.train(False)  # dropout off: features are a function of the image
    try:
        x = torch.as_tensor(images, dtype=torch.float32)
        device = next(net.parameters()).device  # samples of a GPU generator, a CPU scorer...
        out = [body(x[i : i + _BATCH].to(device)).cpu() for i in range(0, len(x), _BATCH)]
    finally:
        net.train(was_training)
    return torch.cat(out).reshape(len(x), -1)  # (N, D)


def scorer_accuracy(scorer: Any, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``images`` the scorer classifies as ``labels``."""
    pred = scorer_logits(scorer, images).argmax(dim=1)
    return float((pred == torch.as_tensor(labels).long().reshape(-1)).float().mean())


def save_scorer(scorer: Any, folder: str | os.PathLike, facts: dict[str, Any]) -> Path:
    """Write the scorer (``model.safetensors``, then ``model.json``) and ``scorer.json`` into
    ``folder``; ``scorer.json`` last, so its presence means the scorer is complete."""
    from deepfuse.models.serialization import save_model

    folder = Path(folder)
    save_model(scorer, folder)
    atomic_write_json(folder / SCORER_FILE, facts)
    return folder


def load_scorer(folder: str | os.PathLike) -> tuple[Any, dict[str, Any]] | None:
    """``(scorer, facts)`` saved in ``folder``, or ``None`` when it holds no complete scorer."""
    from deepfuse.models.serialization import load_model

    folder = Path(folder)
    if not (folder / SCORER_FILE).is_file() or not (folder / MODEL_FILE).is_file():
        return None
    facts = read_json(folder / SCORER_FILE, what="scorer file")
    model = load_model(folder)
    model.train(False)
    return model, dict(facts) if isinstance(facts, dict) else {}


def split_images(split: Any, target: str | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(images, labels or None)`` of a built-in image split ``{"x": ..., target: ...}``."""
    if not isinstance(split, dict) or "x" not in split:
        raise DataError(
            "Sample quality needs the split's images in memory as {'x': (N, C, H, W)}; got "
            f"{type(split).__name__}. Use a built-in image dataset (data.dataset: mnist)."
        )
    x = torch.as_tensor(split["x"], dtype=torch.float32)
    y = split.get(target) if target else None
    return x, None if y is None else torch.as_tensor(y).long()


def scorer_for(run_dir: str | os.PathLike, prep: Any, *, seed: int = 0, epochs: int = 1) -> Any:
    """The run's scorer: loaded from ``<run_dir>/scorer/`` when complete, else trained on the
    training images and labels of ``prep`` and saved there (what a resumed run finds).

    Raises:
        DataError: The training split holds no labels (the scorer learns the classes).
    """
    folder = Path(run_dir) / SCORER_DIR
    found = load_scorer(folder)
    if found is not None:
        return found[0]
    x, y = split_images(prep.train, prep.target)
    if y is None:
        raise DataError(
            f"The classifier that scores the samples learns the classes, but the training split "
            f"has no labels under {prep.target!r}. Keep the labels in the prepared data of "
            "task: generate (they are not inputs of the generator)."
        )
    start = time.perf_counter()
    scorer = train_scorer(x, y, seed=seed, epochs=epochs, num_classes=prep.num_classes)
    facts: dict[str, Any] = {
        "seconds": round(time.perf_counter() - start, 3),
        "rows": len(x),
        "epochs": epochs,
        "seed": seed,
        "architecture": {"type": "cnn", **SCORER_ARCH},
    }
    if isinstance(prep.val, dict) and prep.target in prep.val:
        vx, vy = split_images(prep.val, prep.target)
        facts["val_accuracy"] = round(scorer_accuracy(scorer, vx, vy), 5)
    save_scorer(scorer, folder, facts)
    return scorer
