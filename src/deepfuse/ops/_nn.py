"""``keras.ops`` shapes, products, activations, ``one_hot`` and the cross-entropies.

Example:
    >>> tuple(transpose(torch.zeros(2, 3, 4)).shape)
    (4, 3, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from deepfuse.ops._convert import Axis, _dims, _dtype, _pair, _t


# --------------------------------------------------------------------------- shape
def concatenate(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing ``axis``."""
    return torch.cat([_t(x) for x in xs], dim=axis)


def stack(x: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new ``axis``."""
    return torch.stack([_t(v) for v in x], dim=axis)


def reshape(x: Any, newshape: Sequence[int] | int) -> Tensor:
    """``x`` with shape ``newshape`` (one ``-1`` is inferred)."""
    return torch.reshape(_t(x), (newshape,) if isinstance(newshape, int) else tuple(newshape))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes; ``axes=None`` reverses them (numpy's rule, not torch's swap of two).

    Example:
        >>> x = torch.zeros(2, 3, 4)
        >>> tuple(transpose(x).shape), tuple(transpose(x, (0, 2, 1)).shape)
        ((4, 3, 2), (2, 4, 3))
    """
    x = _t(x)
    return x.permute(*(reversed(range(x.dim())) if axes is None else axes))


def expand_dims(x: Any, axis: int) -> Tensor:
    """``x`` with a new axis of size 1 at ``axis``."""
    return torch.unsqueeze(_t(x), axis)


def squeeze(x: Any, axis: Axis = None) -> Tensor:
    """``x`` without its size-1 axes (only ``axis`` when given)."""
    x = _t(x)
    dims = _dims(axis)
    return x.squeeze() if dims is None else x.squeeze(dims)


# ----------------------------------------------------------------------- linear algebra
def _promoted(x1: Any, x2: Any) -> tuple[Tensor, Tensor]:
    """Both on one device and one dtype (torch's products do not promote: float32 @ float64)."""
    t1, t2 = _pair(x1, x2)
    dtype = torch.promote_types(t1.dtype, t2.dtype)
    return t1.to(dtype), t2.to(dtype)


def matmul(x1: Any, x2: Any) -> Tensor:
    """Matrix product with numpy's broadcasting (``x1 @ x2``)."""
    return torch.matmul(*_promoted(x1, x2))


def dot(x1: Any, x2: Any) -> Tensor:
    """``numpy.dot``: scalars multiply, 1-D/2-D is the matrix product, N-D sums the last axis of
    ``x1`` against the second-to-last of ``x2``.

    Example:
        >>> dot([1.0, 2.0], [3.0, 4.0]).item(), tuple(dot(torch.ones(2, 3, 4), torch.ones(5, 4, 6)).shape)
        (11.0, (2, 3, 5, 6))
    """
    x1, x2 = _promoted(x1, x2)
    if x1.dim() == 0 or x2.dim() == 0:
        return x1 * x2
    if x1.dim() <= 2 and x2.dim() <= 2:
        return torch.matmul(x1, x2)
    return torch.tensordot(x1, x2, dims=([-1], [-2 if x2.dim() > 1 else -1]))


# ---------------------------------------------------------------------- activations
def relu(x: Any) -> Tensor:
    """``max(x, 0)``."""
    return torch.relu(_t(x))


def sigmoid(x: Any) -> Tensor:
    """``1 / (1 + exp(-x))``."""
    return torch.sigmoid(_t(x))


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent."""
    return torch.tanh(_t(x))


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax over ``axis`` (the last by default)."""
    return torch.softmax(_t(x), dim=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """Log of the softmax over ``axis``, computed stably."""
    return torch.log_softmax(_t(x), dim=axis)


def one_hot(
    x: Any, num_classes: int, axis: int = -1, dtype: Any = None, sparse: bool = False
) -> Tensor:
    """Class indices as one-hot vectors (float32 by default; the new axis at ``axis``).

    Example:
        >>> one_hot([0, 2], 3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    out = F.one_hot(_t(x).long(), num_classes).to(_dtype(dtype) or torch.float32)
    return out if axis == -1 else torch.movedim(out, -1, axis)


_EPSILON = 1e-7  # Keras' backend.epsilon(): probabilities are clipped to [eps, 1 - eps]


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> Tensor:
    """Elementwise binary cross-entropy (no reduction), Keras' argument order ``(target, output)``.

    Example:
        >>> round(float(binary_crossentropy([1.0], [0.5])[0]), 4)
        0.6931
    """
    target, output = _t(target).float(), _t(output).float()
    if from_logits:
        return F.binary_cross_entropy_with_logits(output, target, reduction="none")
    output = output.clamp(_EPSILON, 1 - _EPSILON)
    return -(target * torch.log(output) + (1 - target) * torch.log(1 - output))


def categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
) -> Tensor:
    """Cross-entropy of one-hot ``target`` and ``output`` over ``axis`` (one value per sample).

    Probabilities are renormalised over ``axis`` and clipped, as Keras does.

    Example:
        >>> round(float(categorical_crossentropy([[0.0, 1.0]], [[0.5, 0.5]])[0]), 4)
        0.6931
    """
    target, output = _t(target).float(), _t(output).float()
    if from_logits:
        return -(target * torch.log_softmax(output, dim=axis)).sum(dim=axis)
    output = output / output.sum(dim=axis, keepdim=True)
    return -(target * torch.log(output.clamp(_EPSILON, 1 - _EPSILON))).sum(dim=axis)
