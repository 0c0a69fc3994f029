"""Helpers the Keras programs share: plain Keras calls, valid on real Keras and on deepfuse."""

from __future__ import annotations

import os

import numpy as np
import pytest

needs_imdb = pytest.mark.skipif(
    not os.environ.get("DEEPFUSE_DATA_DIR"),
    reason="IMDB is not vendored: set DEEPFUSE_DATA_DIR to a folder holding imdb/imdb_reviews.csv.gz",
)


def summary_text(model) -> str:
    """What ``model.summary()`` prints, collected through Keras' ``print_fn`` hook."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return "\n".join(lines)


def weights_of(model) -> list[np.ndarray]:
    return [np.array(w, copy=True) for w in model.get_weights()]


def changed(before: list[np.ndarray], after: list[np.ndarray]) -> bool:
    return any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
