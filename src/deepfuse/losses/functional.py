"""Loss functions: thin, fast wrappers over ``torch.nn.functional``.

Every function takes torch's order ``(outputs, target)`` (prediction first, as
``torch.nn.functional``) and returns a scalar (``reduction="mean"``, the default), a sum
(``"sum"``) or unreduced values (``"none"``): per element for the element-wise losses (``mse``,
``mae``, ``huber``, ``msle``, ``log_cosh``, ``poisson``, ``hinge``, ``squared_hinge``,
``binary_cross_entropy``), per sample for those that reduce a class axis (``cross_entropy``,
``kl_divergence``, ``cosine_similarity``, ``categorical_hinge``). They run every training step,
so they only look at shapes (no value checks that would sync a GPU). The Keras-order forms
``deepfuse.losses.mse(y_true, y_pred)`` ... live in :mod:`deepfuse.losses.keras_functions`.

Example:
    >>> import torch
    >>> from deepfuse.losses import functional as L
    >>> float(L.mse(torch.tensor([[1.0], [2.0]]), torch.tensor([1.0, 4.0])))
    2.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from deepfuse._utils.errors import DataError, format_message
from deepfuse._utils.specs import squeeze_to_match

__all__ = [
    "EPSILON",
    "binary_cross_entropy",
    "categorical_hinge",
    "cosine_similarity",
    "cross_entropy",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mae",
    "mse",
    "msle",
    "poisson",
    "reduce",
    "squared_hinge",
]

#: Clamp for the probability path, as Keras (``backend.epsilon()``).
EPSILON = 1e-7


def _match_regression(outputs: Tensor, target: Tensor, loss: str) -> tuple[Tensor, Tensor]:
    """Same shape (see :func:`squeeze_to_match`) and the outputs' float dtype for the target."""
    outputs, target = squeeze_to_match(
        outputs,
        target,
        what=f"Loss '{loss}'",
        fix="Make the model's last layer produce one value per target column.",
    )
    if not target.is_floating_point() or target.dtype != outputs.dtype:
        target = target.to(outputs.dtype)
    return outputs, target


def reduce(values: Tensor, reduction: str) -> Tensor:
    """``values.mean()`` (``"mean"``), ``values.sum()`` (``"sum"``) or ``values`` (``"none"``)."""
    if reduction == "mean":
        return values.mean()
    return values.sum() if reduction == "sum" else values


def mse(outputs: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Mean squared error (``torch.nn.functional.mse_loss`` with shape checks).

    Example:
        >>> float(mse(torch.tensor([0.0, 2.0]), torch.tensor([0.0, 0.0])))
        2.0
    """
    outputs, target = _match_regression(outputs, target, "mse")
    return F.mse_loss(outputs, target, reduction=reduction)


def mae(outputs: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Mean absolute error (``torch.nn.functional.l1_loss`` with shape checks).

    Example:
        >>> float(mae(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])))
        1.5
    """
    outputs, target = _match_regression(outputs, target, "mae")
    return F.l1_loss(outputs, target, reduction=reduction)


def huber(
    outputs: Tensor, target: Tensor, *, delta: float = 1.0, reduction: str = "mean"
) -> Tensor:
    """Huber loss: quadratic below ``delta``, linear above (as Keras ``Huber``).

    Example:
        >>> float(huber(torch.tensor([3.0]), torch.tensor([0.0]), delta=1.0))
        2.5
    """
    outputs, target = _match_regression(outputs, target, "huber")
    return F.huber_loss(outputs, target, reduction=reduction, delta=delta)


def _index_target(outputs: Tensor, target: Tensor) -> Tensor:
    """Class-index targets as int64, with ``(N, 1)`` squeezed to ``(N,)``."""
    if target.dim() == outputs.dim() and target.shape[-1] == 1 and outputs.shape[-1] != 1:
        target = target.squeeze(-1)
    if target.dim() != outputs.dim() - 1 or target.shape[:1] != outputs.shape[:1]:
        raise DataError(
            format_message(
                f"cross_entropy got outputs of shape {tuple(outputs.shape)} and a target of shape "
                f"{tuple(target.shape)}.",
                expected="class indices (N,) or one-hot/soft targets (N, C) matching the outputs",
                fix="Pass integer labels, or one-hot rows with as many columns as the model has outputs.",
            )
        )
    return target if target.dtype == torch.long else target.long()


def cross_entropy(
    outputs: Tensor,
    target: Tensor,
    *,
    from_logits: bool = True,
    label_smoothing: float = 0.0,
    class_weights: Tensor | Sequence[float] | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class cross-entropy for class-index or one-hot/soft targets.

    Args:
        outputs: ``(N, C)`` (or ``(N, C, d1, ...)``) logits, or probabilities if ``from_logits=False``.
        target: Class indices ``(N,)`` (any int/float dtype), or one-hot / soft targets with the
            same shape as ``outputs`` (the soft-target path).
        from_logits: ``False`` treats ``outputs`` as probabilities: they are clamped to
            ``[EPSILON, 1 - EPSILON]`` and renormalised, as Keras does.
        label_smoothing: Mix the targets with a uniform distribution (``0.0`` to ``1.0``).
        class_weights: One weight per class. With class indices the mean is weighted by the
            targets' weights (``torch.nn.functional.cross_entropy`` semantics).
        ignore_index: Class index whose samples do not count (class-index targets only).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The loss (a scalar unless ``reduction="none"``).

    Example:
        >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
        >>> round(float(cross_entropy(logits, torch.tensor([0, 1]))), 4)
        0.1269
        >>> round(float(cross_entropy(logits.softmax(-1), torch.tensor([0, 1]), from_logits=False)), 4)
        0.1269
    """
    if not from_logits:
        # log(p) of a distribution is a valid logit vector: log_softmax(log p) = log p, and it
        # renormalises after clamping exactly as Keras' categorical_crossentropy does.
        outputs = torch.log(outputs.clamp(EPSILON, 1.0 - EPSILON))
    if class_weights is not None and not isinstance(class_weights, Tensor):
        class_weights = torch.as_tensor(class_weights, dtype=outputs.dtype, device=outputs.device)
    elif class_weights is not None and (
        class_weights.device != outputs.device or class_weights.dtype != outputs.dtype
    ):
        class_weights = class_weights.to(device=outputs.device, dtype=outputs.dtype)
    if target.shape == outputs.shape and outputs.dim() > 1:
        # Soft / one-hot targets: torch's probability-target path (ignore_index does not apply).
        if target.dtype != outputs.dtype:
            target = target.to(outputs.dtype)
        return F.cross_entropy(
            outputs,
            target,
            weight=class_weights,
            reduction=reduction,
            label_smoothing=label_smoothing,
        )
    target = _index_target(outputs, target)
    return F.cross_entropy(
        outputs,
        target,
        weight=class_weights,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


def _match_binary(outputs: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Squeeze ``(N, 1)`` on either side so outputs and target are both ``(N,)`` (or equal shapes)."""
    if outputs.dim() == 2 and outputs.shape[-1] == 1:
        outputs = outputs.squeeze(-1)
    if target.dim() == 2 and target.shape[-1] == 1:
        target = target.squeeze(-1)
    if outputs.shape != target.shape:
        raise DataError(
            format_message(
                f"binary_cross_entropy got outputs of shape {tuple(outputs.shape)} and a target of "
                f"shape {tuple(target.shape)}.",
                expected="outputs (N,) or (N, 1) and targets (N,) or (N, 1) of 0/1 labels",
                fix="Use one output unit for a binary target, or cross_entropy for several classes.",
            )
        )
    if target.dtype != outputs.dtype:
        target = target.to(outputs.dtype)
    return outputs, target


def binary_cross_entropy(
    outputs: Tensor,
    target: Tensor,
    *,
    from_logits: bool = True,
    pos_weight: float | Tensor | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy for one output per sample (or per label, multi-label).

    Args:
        outputs: ``(N,)`` or ``(N, 1)`` logits (or ``(N, K)`` for K independent labels), or
            probabilities if ``from_logits=False`` (clamped to ``[EPSILON, 1 - EPSILON]``).
        target: 0/1 labels (or soft labels) of shape ``(N,)`` or ``(N, 1)`` (``(N, K)``).
        from_logits: ``False`` treats ``outputs`` as probabilities (Keras' default).
        pos_weight: Weight of the positive term (``> 1`` raises recall), as torch's.
        label_smoothing: Squeeze labels towards 0.5: ``y * (1 - s) + 0.5 * s``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The loss (a scalar unless ``reduction="none"``).

    Example:
        >>> round(float(binary_cross_entropy(torch.tensor([[0.0]]), torch.tensor([1]))), 4)
        0.6931
    """
    outputs, target = _match_binary(outputs, target)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if pos_weight is not None and not isinstance(pos_weight, Tensor):
        pos_weight = torch.tensor(pos_weight, dtype=outputs.dtype, device=outputs.device)
    elif pos_weight is not None and pos_weight.device != outputs.device:
        pos_weight = pos_weight.to(outputs.device)
    if from_logits:
        return F.binary_cross_entropy_with_logits(
            outputs, target, pos_weight=pos_weight, reduction=reduction
        )
    p = outputs.clamp(EPSILON, 1.0 - EPSILON)
    positive = target * torch.log(p)
    if pos_weight is not None:
        positive = positive * pos_weight
    loss = -(positive + (1.0 - target) * torch.log1p(-p))
    return reduce(loss, reduction)


def msle(outputs: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Mean squared logarithmic error: ``(log(1 + y_pred) - log(1 + y_true))**2`` (values below
    ``EPSILON`` clamped first, as Keras).

    Example:
        >>> round(float(msle(torch.tensor([math.e - 1.0]), torch.tensor([0.0]))), 4)
        1.0
    """
    outputs, target = _match_regression(outputs, target, "msle")
    first = torch.log1p(outputs.clamp(min=EPSILON))
    second = torch.log1p(target.clamp(min=EPSILON))
    return F.mse_loss(first, second, reduction=reduction)


def log_cosh(outputs: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """``log(cosh(y_pred - y_true))``, computed without overflow (``x + softplus(-2x) - log 2``).

    Example:
        >>> round(float(log_cosh(torch.tensor([1.0]), torch.tensor([0.0]))), 4)
        0.4338
    """
    outputs, target = _match_regression(outputs, target, "log_cosh")
    x = outputs - target
    return reduce(x + F.softplus(-2.0 * x) - math.log(2.0), reduction)


def poisson(outputs: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Poisson loss ``y_pred - y_true * log(y_pred + EPSILON)`` (Keras' formula; torch's
    ``poisson_nll_loss(log_input=False)``). ``outputs`` are rates (>= 0), not log-rates.

    Example:
        >>> float(poisson(torch.tensor([1.0]), torch.tensor([0.0])))
        1.0
    """
    outputs, target = _match_regression(outputs, target, "poisson")
    return reduce(outputs - target * torch.log(outputs + EPSILON), reduction)


def _signed_labels(target: Tensor) -> Tensor:
    """0/1 labels become -1/+1 (as Keras' hinge losses); -1/+1 labels are kept. No GPU sync."""
    binary = ((target == 0) | (target == 1)).all()
    return torch.where(binary, 2.0 * target - 1.0, target)


def hinge(outputs: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Hinge loss ``max(1 - y_true * y_pred, 0)``; labels -1/+1 (0/1 are converted).

    Example:
        >>> float(hinge(torch.tensor([0.5, -2.0]), torch.tensor([1.0, 0.0])))
        0.25
    """
    outputs, target = _match_regression(outputs, target, "hinge")
    return reduce(F.relu(1.0 - _signed_labels(target) * outputs), reduction)


def squared_hinge(outputs: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Squared hinge loss ``max(1 - y_true * y_pred, 0) ** 2``; labels -1/+1 (0/1 converted).

    Example:
        >>> float(squared_hinge(torch.tensor([0.5, -2.0]), torch.tensor([1.0, 0.0])))
        0.125
    """
    outputs, target = _match_regression(outputs, target, "squared_hinge")
    return reduce(F.relu(1.0 - _signed_labels(target) * outputs).square(), reduction)


def _match_rows(outputs: Tensor, target: Tensor, loss: str) -> tuple[Tensor, Tensor]:
    """Distribution-like losses: same shape, at least 2-D (a class axis), float target."""
    if outputs.shape != target.shape or outputs.dim() < 2:
        raise DataError(
            format_message(
                f"Loss '{loss}' got outputs of shape {tuple(outputs.shape)} and a target of shape "
                f"{tuple(target.shape)}.",
                expected="two tensors of the same shape (N, C), one row per sample",
                fix="One-hot encode class labels (deepfuse.utils.to_categorical).",
            )
        )
    return outputs, target.to(outputs.dtype)


def kl_divergence(
    outputs: Tensor, target: Tensor, *, axis: int = -1, reduction: str = "mean"
) -> Tensor:
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred), axis)`` per sample.

    Both are clamped to ``[EPSILON, 1]`` (Keras). ``"mean"`` averages over samples (torch's
    ``kl_div(reduction="batchmean")``), not over elements.

    Example:
        >>> p = torch.tensor([[0.5, 0.5]])
        >>> round(float(kl_divergence(torch.tensor([[0.9, 0.1]]), p)), 4)
        0.5108
    """
    outputs, target = _match_rows(outputs, target, "kl_divergence")
    t = target.clamp(EPSILON, 1.0)
    values = (t * torch.log(t / outputs.clamp(EPSILON, 1.0))).sum(axis)
    return reduce(values, reduction)


def cosine_similarity(
    outputs: Tensor, target: Tensor, *, axis: int = -1, reduction: str = "mean"
) -> Tensor:
    """Negative cosine similarity along ``axis`` (Keras' loss: -1 is best, 0 orthogonal).

    Example:
        >>> round(float(cosine_similarity(torch.tensor([[1.0, 1.0]]), torch.tensor([[2.0, 2.0]]))), 4)
        -1.0
    """
    outputs, target = _match_rows(outputs, target, "cosine_similarity")
    values = -(F.normalize(outputs, dim=axis) * F.normalize(target, dim=axis)).sum(axis)
    return reduce(values, reduction)


def categorical_hinge(
    outputs: Tensor, target: Tensor, *, axis: int = -1, reduction: str = "mean"
) -> Tensor:
    """Categorical hinge ``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` per
    sample, with one-hot targets.

    Example:
        >>> float(categorical_hinge(torch.tensor([[2.0, 0.5]]), torch.tensor([[1.0, 0.0]])))
        0.0
    """
    outputs, target = _match_rows(outputs, target, "categorical_hinge")
    positive = (target * outputs).sum(axis)
    negative = ((1.0 - target) * outputs).amax(axis)
    return reduce(F.relu(negative - positive + 1.0), reduction)
