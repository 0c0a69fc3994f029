"""The model's most confident mistakes: which rows, and a grid of those images.

Example:
    >>> from deepfuse.viz import confident_errors
    >>> probs = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]]
    >>> confident_errors(probs, [1, 1, 0, 0], k=5)
    [{'index': 0, 'true': 1, 'predicted': 0, 'confidence': 0.9}, {'index': 2, 'true': 0, 'predicted': 1, 'confidence': 0.6}]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepfuse._utils.errors import DataError, format_message
from deepfuse.viz._modules import to_numpy
from deepfuse.viz.images import as_images, plot_image_grid
from deepfuse.viz.plots import _pyplot, _save

__all__ = ["confident_errors", "plot_confident_errors"]


def _predictions(probabilities: Any, from_logits: bool | None) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, its probability) per row, for (N, C) or binary (N,) / (N, 1) input."""
    p = to_numpy(probabilities, name="probabilities").astype(np.float64)
    if from_logits is None:  # probabilities never leave [0, 1]; logits almost always do
        from_logits = bool(p.size) and (np.nanmin(p) < 0.0 or np.nanmax(p) > 1.0)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if from_logits and p.ndim == 1:
        p = 0.5 * (1.0 + np.tanh(p / 2))  # sigmoid, without overflow for large logits
    elif from_logits and p.ndim == 2:
        e = np.exp(p - p.max(axis=1, keepdims=True))  # softmax, shifted against overflow
        p = e / e.sum(axis=1, keepdims=True)
    if p.ndim == 1:  # binary: the probability of the positive class
        predicted = (p >= 0.5).astype(np.int64)
        return predicted, np.where(predicted == 1, p, 1.0 - p)
    if p.ndim == 2 and p.shape[1] >= 2:
        predicted = p.argmax(axis=1)  # (N,)
        return predicted, p[np.arange(len(p)), predicted]
    raise DataError(
        format_message(
            "confident_errors needs class probabilities.",
            expected="shape (N, C) with C >= 2, or (N,) positive-class probabilities",
            got=tuple(p.shape),
            fix="Pass model.predict(x) (softmax or sigmoid outputs).",
        )
    )


def confident_errors(
    probabilities: Any, y_true: Any, k: int = 16, *, from_logits: bool | None = None
) -> list[dict[str, Any]]:
    """The ``k`` misclassified rows the model was most sure about, most confident first.

    Args:
        probabilities: ``(N, C)`` class probabilities, or ``(N,)`` / ``(N, 1)`` probabilities of
            the positive class (predicted 1 when ``>= 0.5``); numpy, torch or lists.
        y_true: ``(N,)`` integer class labels.
        k: How many rows at most (fewer when the model made fewer mistakes).
        from_logits: The values are logits: softmax (sigmoid for one column) first. ``None``
            (default) decides from the values: anything outside ``[0, 1]`` means logits (a model
            without a final softmax/sigmoid returns those).

    Returns:
        ``[{"index": int, "true": int, "predicted": int, "confidence": float}, ...]`` sorted by
        ``confidence`` (the predicted class's probability) descending; ties by index.

    Raises:
        DataError: Shapes do not match, labels are not integers, or ``k`` is negative.
    """
    predicted, confidence = _predictions(probabilities, from_logits)
    y = to_numpy(y_true, name="y_true")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != len(predicted):
        raise DataError(
            format_message(
                "y_true must hold one label per row of probabilities.",
                expected=f"shape ({len(predicted)},)",
                got=tuple(y.shape),
                fix="Pass class indices (y.argmax(1) for one-hot labels).",
            )
        )
    if len(y) and not np.all(np.equal(np.mod(y, 1), 0)):
        raise DataError("y_true must hold integer class labels (0, 1, ...), not one-hot or floats.")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise DataError(format_message("'k' must be an int >= 0.", got=k))
    y = y.astype(np.int64)
    wrong = np.flatnonzero(predicted != y)  # (E,) row indices of the mistakes
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:k]  # stable: ties by index
    return [
        {
            "index": int(i),
            "true": int(y[i]),
            "predicted": int(predicted[i]),
            "confidence": float(confidence[i]),
        }
        for i in order
    ]


def _caption(error: dict[str, Any], names: Sequence[str] | None) -> str:
    def name(c: int) -> str:
        return str(names[c]) if names is not None and 0 <= c < len(names) else str(c)

    text = (
        f"true {name(error['true'])} / pred {name(error['predicted'])} ({error['confidence']:.2f})"
    )
    return text if len(text) <= 26 else text.replace(" / ", "\n")  # long class names: 2 lines


def plot_confident_errors(
    images: Any,
    errors: Sequence[dict[str, Any]],
    *,
    class_names: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """A grid of the images :func:`confident_errors` picked, captioned ``true X / pred Y (0.99)``.

    Args:
        images: All the images the probabilities were computed on, ``(N, C, H, W)`` or
            ``(N, H, W)`` (see :func:`plot_image_grid`); ``errors[i]["index"]`` picks the rows.
        errors: What :func:`confident_errors` returned.
        class_names: Names for the class numbers (optional).
        path: Where to save the figure (optional).

    Returns:
        The figure (a note instead of a grid when ``errors`` is empty).

    Example:
        >>> import numpy as np
        >>> errors = confident_errors([[0.1, 0.9], [0.8, 0.2]], [0, 0])
        >>> fig = plot_confident_errors(np.zeros((2, 8, 8)), errors, class_names=["cat", "dog"])
        >>> fig.axes[0].get_title()
        'true cat / pred dog (0.90)'
    """
    if not errors:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(3.5, 1.0))
        ax.axis("off")
        ax.text(0.5, 0.5, "no misclassified examples", ha="center", va="center")
        return _save(fig, path)
    a = as_images(images)  # (N, H, W) or (N, H, W, 3)
    indices = [int(e["index"]) for e in errors]
    bad = [i for i in indices if not 0 <= i < len(a)]
    if bad:
        raise DataError(
            f"plot_confident_errors: error indices {bad[:5]} are outside the {len(a)} images. "
            "Pass the same images the probabilities were computed on."
        )
    return plot_image_grid(
        a[indices],
        titles=[_caption(e, class_names) for e in errors],
        ncols=min(6, len(indices)),
        title="most confident mistakes",
        path=path,
    )
