"""Keras' ``keras.utils``: array helpers, image helpers, ``image_dataset_from_directory`` and
``set_random_seed``. Each name is the one implementation (``pad_sequences`` lives in
:mod:`deepfuse._utils.text`, the image helpers in :mod:`deepfuse.preprocessing`).

Example:
    >>> to_categorical([0, 2], 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2).tolist()
    [[2, 3], [0, 4]]
    >>> normalize(np.array([[3.0, 4.0]])).tolist()
    [[0.6, 0.8]]
"""

from __future__ import annotations

from collections.abc import Sequence as _Sequence  # keras.utils.Sequence is not this
from typing import Any

import numpy as np

from deepfuse._utils.errors import UserError
from deepfuse._utils.seed import seed_everything
from deepfuse.data.text import pad_sequences  # the one home; this is the Keras-style name
from deepfuse.preprocessing.directory import image_dataset_from_directory
from deepfuse.preprocessing.image import array_to_img, img_to_array, load_img, save_img

__all__ = [
    "array_to_img",
    "image_dataset_from_directory",
    "img_to_array",
    "load_img",
    "normalize",
    "pad_sequences",
    "plot_model",
    "save_img",
    "set_random_seed",
    "to_categorical",
]


def to_categorical(
    y: _Sequence[int] | np.ndarray, num_classes: int | None = None, dtype: str = "float32"
) -> np.ndarray:
    """One-hot encode integer class labels ``(N,)`` into ``(N, num_classes)``."""
    labels = np.asarray(y, dtype=np.int64).reshape(-1)
    if labels.size and labels.min() < 0:
        raise UserError(f"to_categorical needs labels >= 0; got {int(labels.min())}.")
    n = int(num_classes) if num_classes is not None else int(labels.max()) + 1 if labels.size else 0
    if labels.size and labels.max() >= n:
        raise UserError(f"Label {int(labels.max())} is out of range for num_classes={n}.")
    out = np.zeros((labels.size, n), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out


def plot_model(model: Any, to_file: Any = "model.png", **kwargs: Any) -> Any:
    """Draw the model's graph (Keras' ``keras.utils.plot_model``); see
    :func:`deepfuse.viz.model_graph.plot_model` for the arguments and file types."""
    from deepfuse.viz.model_graph import plot_model as draw

    return draw(model, to_file, **kwargs)


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, numpy and torch at once, like ``keras.utils.set_random_seed``.

    Example:
        >>> import torch
        >>> set_random_seed(3); a = torch.rand(2)
        >>> set_random_seed(3); bool((a == torch.rand(2)).all())
        True
    """
    seed_everything(seed)


def normalize(x: Any, axis: int = -1, order: int = 2) -> Any:
    """``x`` divided by its ``order``-norm along ``axis`` (zero vectors stay zero), like Keras.

    Args:
        x: A numpy array (returned as numpy) or a torch tensor (returned as a tensor).
        axis: The axis the norm is taken over.
        order: The norm's order (2: Euclidean, 1: sum of absolute values).

    Example:
        >>> normalize(np.array([[1.0, 1.0], [0.0, 0.0]]), order=1).tolist()
        [[0.5, 0.5], [0.0, 0.0]]
    """
    if hasattr(x, "detach"):  # a torch tensor: stay in torch (device, autograd)
        import torch

        norm = torch.linalg.vector_norm(x, ord=order, dim=axis, keepdim=True)
        return x / torch.where(norm == 0, torch.ones_like(norm), norm)
    x = np.asarray(x)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


#: Keras utilities deepfuse leaves out, with what to use instead (one line each).
_NOT_PROVIDED = {
    "get_file": "deepfuse never downloads: fetch the file yourself and pass its local path",
    "text_dataset_from_directory": (
        "use deepfuse.data.streaming.scan_text(folder, labels='folders'), or a config's "
        "data.kind: text_folder (it tokenises the texts too)"
    ),
    "Sequence": "pass a torch DataLoader or any re-iterable of (x, y) batches to fit()",
    "PyDataset": "pass a torch DataLoader or any re-iterable of (x, y) batches to fit()",
}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)  # Python's own probes
    fix = _NOT_PROVIDED.get(name, "see deepfuse.utils.__all__ for what is there")
    raise AttributeError(f"keras.utils.{name} is not provided by deepfuse; {fix}")
