"""Keras' ``class_weight`` and ``sample_weight``: one weight per row, carried in the batch under
``"sample_weight"`` and multiplied into each sample's loss.

Semantics are Keras 3's:

* ``fit(class_weight={0: 1.0, 1: 50.0})`` gives each training row the weight of its class: the
  class index of integer targets, the argmax of one-hot rows, the rounded 0/1 of binary targets;
  a class missing from the dict weighs 1.0. It weights the training data only (not validation).
* ``fit(sample_weight=w)``, ``validation_data=(x, y, w)``, ``evaluate(sample_weight=w)``: one
  weight per row (shape ``(N,)`` or ``(N, 1)``); shuffled and split with the rows.
* The loss of a batch is Keras' ``sum_over_batch_size``: the weighted per-sample losses summed
  and divided by the number of values (the batch size), so the logged loss is the weighted one.
* Compiled ``metrics=[...]`` are **not** weighted, as in Keras 3 (there only
  ``weighted_metrics`` are; deepfuse has no ``weighted_metrics``).

Example:
    >>> import torch
    >>> class_weights({0: 1.0, 1: 50.0}, torch.tensor([0, 1, 1, 2]))
    tensor([ 1., 50., 50.,  1.])
    >>> from deepfuse import losses
    >>> loss = losses.get("mse")
    >>> float(weighted_loss(loss, torch.tensor([1.0, 3.0]), torch.zeros(2), torch.tensor([1.0, 0.0])))
    0.5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from deepfuse._utils.errors import DataError, UserError
from deepfuse.losses.classes import BinaryCrossEntropy, CrossEntropy, weighted
from deepfuse.models.multi_io import MultiOutputLoss

__all__ = [
    "WEIGHT_KEY",
    "add_class_weights",
    "add_sample_weights",
    "check_supported",
    "class_weights",
    "of_batch",
    "per_sample",
    "weighted_loss",
    "without_weights",
]

#: The batch key that carries one weight per row (never a model input).
WEIGHT_KEY = "sample_weight"


def class_weights(class_weight: Mapping[Any, float], target: Tensor) -> Tensor:
    """One float32 weight per row of ``target`` from Keras' ``class_weight`` dict."""
    if not isinstance(class_weight, Mapping):
        raise UserError(
            f"class_weight must be a dict {{class index: weight}}; got "
            f"{type(class_weight).__name__}. Pass e.g. class_weight={{0: 1.0, 1: 5.0}}."
        )
    labels = target.detach().cpu()
    if labels.dim() > 1:  # one-hot rows -> argmax; (N, 1) -> (N,)
        labels = labels.argmax(-1) if labels.shape[-1] != 1 else labels.squeeze(-1)
    if labels.dim() != 1:
        raise DataError(
            f"class_weight needs one class per row; the targets have shape {tuple(target.shape)}. "
            "Pass sample_weight= (one weight per row) instead."
        )
    labels = labels.double().round().long()
    table = {int(k): float(v) for k, v in class_weight.items()}
    values = [table.get(int(c), 1.0) for c in labels.tolist()]  # Keras: missing classes -> 1.0
    return torch.tensor(values, dtype=torch.float32)


def _as_weights(sample_weight: Any, rows: int) -> Tensor:
    if not isinstance(sample_weight, Tensor):
        sample_weight = torch.as_tensor(np.asarray(sample_weight))
    weight = sample_weight.detach().to(torch.float32)
    if weight.dim() == 2 and weight.shape[1] == 1:
        weight = weight[:, 0]
    if weight.dim() != 1 or len(weight) != rows:
        raise DataError(
            f"sample_weight must hold one weight per row, shape ({rows},); got shape "
            f"{tuple(weight.shape)}. Pass a 1-D array as long as x."
        )
    return weight


def add_sample_weights(tensors: dict[str, Tensor], sample_weight: Any) -> dict[str, Tensor]:
    """``tensors`` with the per-row weights under :data:`WEIGHT_KEY` (unchanged for None)."""
    if sample_weight is None:
        return tensors
    rows = int(next(iter(tensors.values())).shape[0])
    return {**tensors, WEIGHT_KEY: _as_weights(sample_weight, rows)}


def add_class_weights(
    tensors: dict[str, Tensor], class_weight: Any, target_key: str
) -> dict[str, Tensor]:
    """``tensors`` with each row weighted by its class (``class_weight`` dict); None: unchanged."""
    if class_weight is None:
        return tensors
    if WEIGHT_KEY in tensors:
        raise UserError(
            "fit() got both class_weight and sample_weight; Keras 3 would silently drop "
            "sample_weight. Multiply the class weights into sample_weight and pass that alone."
        )
    target = tensors.get(target_key)
    if target is None:
        raise UserError(
            "class_weight needs the targets of a single-output model: pass y to fit(), or "
            "pass sample_weight= (one weight per row) for several outputs."
        )
    return {**tensors, WEIGHT_KEY: class_weights(class_weight, target)}


def check_supported(
    model: Any, x: Any, sample_weight: Any, class_weight: Any = None, *, training: bool = False
) -> None:
    """Weights need in-memory arrays and the plain step: one-line errors otherwise."""
    if sample_weight is None and class_weight is None:
        return
    from deepfuse.models.feeding import is_in_memory

    name = "sample_weight" if sample_weight is not None else "class_weight"
    if not is_in_memory(x):
        raise UserError(
            f"{name}= needs in-memory arrays (numpy, torch, pandas); got {type(x).__name__}. "
            "Pass x and y as arrays, or put the weights into your loss."
        )
    if training and getattr(model, "step_extension", None) is not None:
        raise UserError(
            f"{name}= is not supported with compile(adversarial=...): the adversarial step "
            "makes its own batches. Drop one of the two."
        )


def of_batch(batch: Any) -> Tensor | None:
    """The weights of a batch: its :data:`WEIGHT_KEY`, or the third item of Keras' ``data``."""
    if isinstance(batch, Mapping):
        return batch.get(WEIGHT_KEY)
    if isinstance(batch, tuple | list) and len(batch) == 3:
        return batch[2]
    return None


def without_weights(batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``batch`` less its weights (what the model's inputs and targets are read from)."""
    return {k: v for k, v in batch.items() if k != WEIGHT_KEY}


def per_sample(loss: Any, outputs: Tensor, target: Tensor) -> Tensor:
    """Unreduced loss values (one per sample, or per position) of a compiled loss."""
    if callable(getattr(loss, "per_sample", None)):  # Keras-named losses
        return loss.per_sample(outputs, target)
    # deepfuse's cross-entropies and a user's Loss subclass with call(y_true, y_pred)
    if isinstance(loss, CrossEntropy | BinaryCrossEntropy) or getattr(loss, "_keras_call", False):
        return loss._loss(outputs, target, "none")
    if isinstance(loss, MultiOutputLoss):
        raise UserError(
            f"sample_weight / class_weight are supported for single-output models; this one has "
            f"outputs {loss.names}. Weight the outputs with compile(loss_weights=...) instead."
        )
    name = getattr(loss, "name", None) or type(loss).__name__
    raise UserError(
        f"sample_weight / class_weight need a loss that gives one value per sample; the loss "
        f"{name!r} ({type(loss).__name__}) gives only its mean. Use a Keras-named loss (e.g. "
        "'sparse_categorical_crossentropy', 'mse') or a Loss subclass with call(y_true, y_pred)."
    )


def weighted_loss(loss: Any, outputs: Any, target: Tensor, weight: Tensor | None) -> Tensor:
    """``loss.compute(outputs, target)``, or with ``weight`` (one per row) Keras' weighted
    ``sum_over_batch_size``: ``sum(weight * per-sample loss) / number of values``. A batch whose
    weights are all 1 takes the unweighted path (the same value), so ``sample_weight=ones``
    reproduces an unweighted run bit for bit."""
    if weight is None or bool((weight == 1).all()):
        return loss.compute(outputs, target)
    values = per_sample(loss, outputs, target)
    reduction = getattr(loss, "reduction", "mean")
    weight = weight.to(values.device)
    return weighted(values, weight, reduction if reduction in ("mean", "sum") else "mean")
