"""The Keras-named loss classes, called Keras' way: ``loss(y_true, y_pred, sample_weight=None)``.

``keras.losses.MeanSquaredError()(y_true, y_pred)`` in a Keras program gives the same value with
``import deepfuse as keras``. Each class also has ``compute(outputs, target)`` (torch order),
which is what ``fit`` / ``evaluate`` call, and ``per_sample(outputs, target)``.

Reductions follow Keras: the loss of one sample is the mean over its last axis (Keras' channel
axis; for a 4-D NCHW image tensor that is dim 1), then ``reduction`` combines the samples:
``"sum_over_batch_size"`` (alias ``"mean"``, ``"auto"``; the default) averages them, ``"sum"``
adds them, ``None`` / ``"none"`` returns them. A 1-D tensor is one value per sample (deepfuse
reads ``(N,)`` and ``(N, 1)`` alike). ``get_config()`` writes ``"mean"`` / ``"sum"`` / ``"none"``.

Example:
    >>> import torch
    >>> y_true, y_pred = torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]])
    >>> float(MeanSquaredError()(y_true, y_pred))
    0.5
    >>> BinaryCrossentropy().from_logits, BinaryCrossentropy().as_logits().from_logits
    (False, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from deepfuse._utils.errors import ConfigError, DataError, format_message
from deepfuse.losses import functional as LF
from deepfuse.losses.classes import BinaryCrossEntropy, CrossEntropy, Loss, weighted

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "Hinge",
    "Huber",
    "KLDivergence",
    "KerasLoss",
    "LogCosh",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "keras_axis",
]

# Keras axes of an NHWC image -> torch dims of the NCHW tensor deepfuse holds.
_NHWC_TO_NCHW = {-1: 1, 3: 1, -2: 3, 2: 3, -3: 2, 1: 2, 0: 0, -4: 0}


def keras_axis(ndim: int, axis: int) -> int:
    """The torch dim of Keras ``axis`` for a tensor of ``ndim`` dims (4-D: NHWC axis -> NCHW dim).

    Example:
        >>> import torch
        >>> keras_axis(4, -1), keras_axis(4, 1), keras_axis(2, -1)
        (1, 2, -1)
    """
    return _NHWC_TO_NCHW.get(axis, axis) if ndim == 4 else axis


def _as_tensor(value: Any, dtype: torch.dtype | None, like: Tensor | None = None) -> Tensor:
    """A tensor of ``value``: tensors pass as they are; arrays keep ints as int64, floats float32."""
    if isinstance(value, Tensor):
        return value
    t = torch.as_tensor(np.asarray(value))
    if dtype is not None or t.is_floating_point() or t.dtype == torch.bool:
        t = t.to(dtype or torch.float32)
    else:
        t = t.long()
    return t if like is None else t.to(like.device)


class KerasLoss(Loss):
    """Base of the Keras-named losses: ``loss(y_true, y_pred, sample_weight=None)``.

    ``_elementwise`` losses reduce the last (Keras) axis to get one value per sample; the others
    (cross-entropies, KL divergence, cosine, categorical hinge) already return one per sample.
    """

    _elementwise: ClassVar[bool] = True

    def forward(  # type: ignore[override]
        self, y_true: Tensor, y_pred: Tensor, sample_weight: Any = None
    ) -> Tensor:
        """Keras' order. ``sample_weight`` (one weight per sample) scales each sample's loss.

        numpy arrays and lists are accepted as in Keras (turned into float32 tensors; class
        indices of the sparse cross-entropy into int64)."""
        y_pred = _as_tensor(y_pred, torch.float32)
        y_true = _as_tensor(y_true, None, like=y_pred)
        if sample_weight is None:
            return self.compute(y_pred, y_true)
        return weighted(self.per_sample(y_pred, y_true), sample_weight, self.reduction)

    def compute(self, outputs: Tensor, target: Tensor) -> Tensor:
        if self.reduction == "mean":  # the training hot path: one fused torch call
            return self._loss(outputs, target, "mean")
        return LF.reduce(self.per_sample(outputs, target), self.reduction)

    def per_sample(self, outputs: Tensor, target: Tensor) -> Tensor:
        """Unreduced loss, one value per sample (per position for sequences and images)."""
        values = self._loss(outputs, target, "none")
        if not self._elementwise or values.dim() < 2:
            return values
        return values.mean(dim=keras_axis(values.dim(), -1))


class MeanSquaredError(KerasLoss):
    """Mean squared error. ``(N, 1)`` predictions against ``(N,)`` targets are squeezed, not
    broadcast.

    Example:
        >>> import torch
        >>> float(MeanSquaredError()(torch.tensor([1.0, 1.0]), torch.tensor([[1.0], [3.0]])))
        2.0
    """

    name = "mse"

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        return LF.mse(outputs, target, reduction=reduction)


class MeanAbsoluteError(KerasLoss):
    """Mean absolute error (L1).

    Example:
        >>> import torch
        >>> float(MeanAbsoluteError()(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 3.0])))
        1.0
    """

    name = "mae"

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        return LF.mae(outputs, target, reduction=reduction)


class MeanSquaredLogarithmicError(KerasLoss):
    """Mean squared logarithmic error (see :func:`~deepfuse.losses.functional.msle`).

    Example:
        >>> import torch
        >>> float(MeanSquaredLogarithmicError()(torch.tensor([0.0]), torch.tensor([0.0])))
        0.0
    """

    name = "msle"

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        return LF.msle(outputs, target, reduction=reduction)


class LogCosh(KerasLoss):
    """``log(cosh(y_pred - y_true))``.

    Example:
        >>> import torch
        >>> round(float(LogCosh()(torch.tensor([0.0]), torch.tensor([1.0]))), 4)
        0.4338
    """

    name = "log_cosh"

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        return LF.log_cosh(outputs, target, reduction=reduction)


class Poisson(KerasLoss):
    """Poisson loss ``y_pred - y_true * log(y_pred + 1e-7)`` (``y_pred`` is a rate).

    Example:
        >>> import torch
        >>> float(Poisson()(torch.tensor([0.0]), torch.tensor([1.0])))
        1.0
    """

    name = "poisson"

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        return LF.poisson(outputs, target, reduction=reduction)


class Hinge(KerasLoss):
    """Hinge loss; labels -1/+1 (0/1 are converted, as Keras).

    Example:
        >>> import torch
        >>> float(Hinge()(torch.tensor([1.0]), torch.tensor([0.5])))
        0.5
    """

    name = "hinge"

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        return LF.hinge(outputs, target, reduction=reduction)


class SquaredHinge(KerasLoss):
    """Squared hinge loss; labels -1/+1 (0/1 are converted, as Keras).

    Example:
        >>> import torch
        >>> float(SquaredHinge()(torch.tensor([1.0]), torch.tensor([0.5])))
        0.25
    """

    name = "squared_hinge"

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        return LF.squared_hinge(outputs, target, reduction=reduction)


class Huber(KerasLoss):
    """Huber loss with threshold ``delta`` (Keras ``Huber``, torch ``huber_loss``).

    Example:
        >>> import torch
        >>> float(Huber(delta=1.0)(torch.tensor([0.0]), torch.tensor([3.0])))
        2.5
    """

    name = "huber"
    _config_keys = ("delta", "reduction")

    def __init__(
        self,
        delta: float = 1.0,
        *,
        reduction: str | None = "mean",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        if not delta > 0:
            raise ConfigError(
                format_message(
                    "Bad 'delta' for loss 'huber'.", expected="a positive float", got=delta
                )
            )
        self.delta = float(delta)

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        return LF.huber(outputs, target, delta=self.delta, reduction=reduction)


class _AxisLoss(KerasLoss):
    """A per-sample loss over a class axis (Keras ``axis``, translated for NCHW images)."""

    _elementwise = False

    def _axis(self, outputs: Tensor) -> int:
        return keras_axis(outputs.dim(), getattr(self, "axis", -1))


class KLDivergence(_AxisLoss):
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))`` per sample.

    Example:
        >>> import torch
        >>> round(float(KLDivergence()(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.9, 0.1]]))), 4)
        0.5108
    """

    name = "kl_divergence"

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        axis = self._axis(outputs)
        return LF.kl_divergence(outputs, target, axis=axis, reduction=reduction)


class CategoricalHinge(_AxisLoss):
    """Categorical hinge with one-hot targets.

    Example:
        >>> import torch
        >>> float(CategoricalHinge()(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]])))
        1.0
    """

    name = "categorical_hinge"

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        axis = self._axis(outputs)
        return LF.categorical_hinge(outputs, target, axis=axis, reduction=reduction)


class CosineSimilarity(_AxisLoss):
    """Negative cosine similarity along ``axis`` (a Keras axis; -1 best, 0 orthogonal).

    Example:
        >>> import torch
        >>> float(CosineSimilarity()(torch.tensor([[1.0, 0.0]]), torch.tensor([[3.0, 0.0]])))
        -1.0
    """

    name = "cosine_similarity"
    _config_keys = ("axis", "reduction")

    def __init__(
        self,
        axis: int = -1,
        *,
        reduction: str | None = "mean",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.axis = int(axis)

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        axis = self._axis(outputs)
        return LF.cosine_similarity(outputs, target, axis=axis, reduction=reduction)


class SparseCategoricalCrossentropy(KerasLoss, CrossEntropy):
    """Class-index targets, **probabilities** by default (``from_logits=False``), as Keras.

    Example:
        >>> import torch
        >>> p = torch.tensor([[0.9, 0.1]])
        >>> round(float(SparseCategoricalCrossentropy()(torch.tensor([0]), p)), 4)
        0.1054
        >>> SparseCategoricalCrossentropy(ignore_class=0).ignore_index   # Keras' name for it
        0
    """

    name = "sparse_categorical_crossentropy"
    _elementwise = False
    _default_from_logits = False

    def __init__(
        self,
        *,
        from_logits: bool | None = None,
        ignore_class: int | None = None,
        label_smoothing: float = 0.0,
        class_weights: Sequence[float] | Tensor | None = None,
        ignore_index: int = -100,
        reduction: str | None = "mean",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            class_weights=class_weights,
            ignore_index=ignore_index if ignore_class is None else int(ignore_class),
            reduction=reduction,
            name=name,
            dtype=dtype,
        )


class CategoricalCrossentropy(KerasLoss, CrossEntropy):
    """One-hot targets ``(N, C)``, **probabilities** by default (``from_logits=False``), as Keras.

    Example:
        >>> import torch
        >>> p = torch.tensor([[0.9, 0.1]])
        >>> round(float(CategoricalCrossentropy()(torch.tensor([[1.0, 0.0]]), p)), 4)
        0.1054
    """

    name = "categorical_crossentropy"
    _elementwise = False
    _default_from_logits = False

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        if target.shape != outputs.shape:
            raise DataError(
                format_message(
                    f"Loss 'categorical_crossentropy' needs one-hot targets shaped like the outputs "
                    f"{tuple(outputs.shape)}; got a target of shape {tuple(target.shape)}.",
                    fix="Use loss='sparse_categorical_crossentropy' for integer class labels.",
                )
            )
        return super()._loss(outputs, target, reduction)


class BinaryCrossentropy(KerasLoss, BinaryCrossEntropy):
    """Binary cross-entropy on **probabilities** by default (``from_logits=False``), as Keras.

    Example:
        >>> import torch
        >>> round(float(BinaryCrossentropy()(torch.tensor([1.0]), torch.tensor([0.5]))), 4)
        0.6931
        >>> round(float(BinaryCrossentropy(from_logits=True)(torch.tensor([1.0]), torch.tensor([0.0]))), 4)
        0.6931
    """

    name = "binary_crossentropy"
    _default_from_logits = False
