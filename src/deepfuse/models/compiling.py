"""What ``Model.compile`` sets up: the loss (one, or one per output), the metrics, the optimizer
spec, penalties, the schedule, a step extension, the fused final activation and the trainable
weights captured for this model's own steps (Keras 2's rule).

Example:
    >>> import deepfuse as df
    >>> model = df.Sequential([df.layers.Dense(3, activation="softmax", input_shape=(4,))])
    >>> compile_model(model, "adam", "sparse_categorical_crossentropy", ["accuracy"])
    >>> model._fusion.activation, sorted(model.metric_set.metrics)
    ('softmax', ['accuracy'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from deepfuse._utils.errors import UserError
from deepfuse.models import freezing, layout, multi_io
from deepfuse.models.serialization import jsonable
from deepfuse.models.setup import adversarial_step

__all__ = ["compile_model"]


def compile_model(
    model: Any,
    optimizer: Any,
    loss: Any,
    metrics: Sequence[Any] | None,
    *,
    l1: float = 0.0,
    l2: float = 0.0,
    grad_clip: float | Mapping[str, float] | None = None,
    schedule: Any = None,
    adversarial: Mapping[str, Any] | None = None,
    loss_weights: Any = None,
) -> None:
    """Set up ``model`` for training; the arguments are :meth:`Model.compile`'s."""
    from deepfuse import losses as losses_mod
    from deepfuse import metrics as metrics_mod

    for key, value in (("l1", l1), ("l2", l2)):
        if not isinstance(value, int | float) or value < 0:
            raise UserError(f"The '{key}' argument of compile must be a float >= 0; got {value!r}.")
    step_extension = adversarial_step(adversarial)  # validate first
    model._compile_args = {
        "optimizer": jsonable(optimizer),
        "loss": jsonable(loss),
        "metrics": [jsonable(m) for m in (metrics or [])],
        "l1": l1,
        "l2": l2,
        "grad_clip": grad_clip,
        "schedule": schedule,
        "adversarial": jsonable(adversarial),
    }
    if loss_weights is not None:
        model._compile_args["loss_weights"] = jsonable(loss_weights)
    multi = multi_io.compile_outputs(model, loss, metrics, loss_weights)
    if multi is not None:  # several outputs: one loss and metrics per output
        model._compile_args["metrics"] = jsonable(metrics)
        object.__setattr__(model, "compiled_loss", multi[0])
        object.__setattr__(model, "metric_set", multi[1])
    else:
        object.__setattr__(model, "compiled_loss", None if loss is None else losses_mod.get(loss))
        object.__setattr__(
            model,
            "metric_set",
            metrics_mod.MetricSet([metrics_mod.get(m) for m in (metrics or [])]),
        )
    if hasattr(optimizer, "get_config") and not isinstance(optimizer, torch.optim.Optimizer):
        optimizer = optimizer.get_config()  # deepfuse.optimizers.Adam(...) and friends
    model._optimizer_spec = optimizer
    model._schedule_spec = schedule
    model._l1, model._l2 = float(l1), float(l2)
    model._grad_clip = grad_clip
    model.step_extension = step_extension
    model._fusion = layout.fuse_output_activation(model, model.compiled_loss)
    if multi is None and model._fusion is None and layout.outputs_probabilities(model):
        # The model keeps its sigmoid/softmax (a loss that takes probabilities, e.g. mse):
        # classification metrics must not read those probabilities as logits.
        for metric in model.metric_set.metrics.values():
            multi_io.expect_probabilities(metric)
    model.optimizer = optimizer if isinstance(optimizer, torch.optim.Optimizer) else None
    model._train_params = None
    if not layout.has_unbuilt_layers(model):  # else captured when setup builds them
        freezing.capture(model)
