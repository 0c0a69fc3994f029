"""Keras' functional losses: ``keras.losses.mse(y_true, y_pred)`` -> one value per sample.

Keras' order (target first) and Keras' result: the loss of each sample, i.e. reduced over the
last (Keras) axis only, never over the batch. Average it yourself (``.mean()``), or pass the
function to ``compile(loss=...)``, which averages it as Keras does. Each function is the matching
class of :mod:`deepfuse.losses.keras_classes` with ``reduction=None``: one implementation.

Example:
    >>> import torch
    >>> y_true = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    >>> y_pred = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    >>> mean_squared_error(y_true, y_pred).tolist()
    [0.5, 1.0]
"""

from __future__ import annotations

from torch import Tensor

from deepfuse.losses import keras_classes as K

__all__ = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "categorical_hinge",
    "cosine_similarity",
    "hinge",
    "huber",
    "kl_divergence",
    "kld",
    "kullback_leibler_divergence",
    "log_cosh",
    "logcosh",
    "mae",
    "mean_absolute_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]


def mean_squared_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Per-sample mean squared error (alias ``mse``).

    Example:
        >>> import torch
        >>> mse(torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 3.0]])).tolist()
        [5.0]
    """
    return K.MeanSquaredError(reduction=None)(y_true, y_pred)


def mean_absolute_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Per-sample mean absolute error (alias ``mae``).

    Example:
        >>> import torch
        >>> mae(torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 3.0]])).tolist()
        [2.0]
    """
    return K.MeanAbsoluteError(reduction=None)(y_true, y_pred)


def mean_squared_logarithmic_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Per-sample mean squared logarithmic error (alias ``msle``)."""
    return K.MeanSquaredLogarithmicError(reduction=None)(y_true, y_pred)


def log_cosh(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Per-sample mean of ``log(cosh(y_pred - y_true))`` (alias ``logcosh``)."""
    return K.LogCosh(reduction=None)(y_true, y_pred)


def poisson(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Per-sample Poisson loss."""
    return K.Poisson(reduction=None)(y_true, y_pred)


def hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Per-sample hinge loss (labels -1/+1; 0/1 are converted)."""
    return K.Hinge(reduction=None)(y_true, y_pred)


def squared_hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Per-sample squared hinge loss (labels -1/+1; 0/1 are converted)."""
    return K.SquaredHinge(reduction=None)(y_true, y_pred)


def categorical_hinge(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Per-sample categorical hinge loss (one-hot targets)."""
    return K.CategoricalHinge(reduction=None)(y_true, y_pred)


def huber(y_true: Tensor, y_pred: Tensor, delta: float = 1.0) -> Tensor:
    """Per-sample Huber loss.

    Example:
        >>> import torch
        >>> huber(torch.tensor([[0.0]]), torch.tensor([[3.0]])).tolist()
        [2.5]
    """
    return K.Huber(delta, reduction=None)(y_true, y_pred)


def kl_divergence(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Per-sample Kullback-Leibler divergence (aliases ``kld``, ``kullback_leibler_divergence``)."""
    return K.KLDivergence(reduction=None)(y_true, y_pred)


def cosine_similarity(y_true: Tensor, y_pred: Tensor, axis: int = -1) -> Tensor:
    """Per-sample negative cosine similarity along Keras ``axis``."""
    return K.CosineSimilarity(axis, reduction=None)(y_true, y_pred)


def binary_crossentropy(
    y_true: Tensor, y_pred: Tensor, from_logits: bool = False, label_smoothing: float = 0.0
) -> Tensor:
    """Per-sample binary cross-entropy (mean over the last axis), probabilities by default.

    Example:
        >>> import torch
        >>> [round(v, 4) for v in binary_crossentropy(torch.tensor([[1.0], [0.0]]),
        ...                                           torch.tensor([[0.5], [0.5]])).tolist()]
        [0.6931, 0.6931]
    """
    loss = K.BinaryCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing, reduction=None
    )
    return loss(y_true, y_pred)


def categorical_crossentropy(
    y_true: Tensor, y_pred: Tensor, from_logits: bool = False, label_smoothing: float = 0.0
) -> Tensor:
    """Per-sample categorical cross-entropy with one-hot targets, probabilities by default."""
    loss = K.CategoricalCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing, reduction=None
    )
    return loss(y_true, y_pred)


def sparse_categorical_crossentropy(
    y_true: Tensor, y_pred: Tensor, from_logits: bool = False, ignore_class: int | None = None
) -> Tensor:
    """Per-sample cross-entropy with class-index targets, probabilities by default.

    ``ignore_class`` samples get a loss of 0, as Keras.

    Example:
        >>> import torch
        >>> out = sparse_categorical_crossentropy(torch.tensor([0, 1]), torch.tensor([[0.5, 0.5]] * 2))
        >>> [round(v, 4) for v in out.tolist()]
        [0.6931, 0.6931]
    """
    loss = K.SparseCategoricalCrossentropy(
        from_logits=from_logits, ignore_class=ignore_class, reduction=None
    )
    return loss(y_true, y_pred)


mse = mean_squared_error
mae = mean_absolute_error
msle = mean_squared_logarithmic_error
logcosh = log_cosh
kld = kullback_leibler_divergence = kl_divergence
