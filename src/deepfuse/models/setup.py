"""Getting a :class:`~deepfuse.models.Model` ready for its data: input keys and shapes, lazy
layers built from an example batch, penalised parameters and the optimizer (created once).

``Model.setup`` calls :func:`setup`; ``fit``, ``evaluate``, ``predict``, loading and the
interpretation tools all go through it with their first batch.

Example:
    >>> import torch, deepfuse as df
    >>> model = df.Sequential([df.layers.Dense(2)])
    >>> setup(model, {"x": torch.zeros(4, 3)}, for_training=False)
    >>> model.input_spec
    {'x': {'shape': [3], 'dtype': 'float32'}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from deepfuse._utils.errors import DataError, UserError
from deepfuse.models import freezing, layout, multi_io
from deepfuse.training.protocols import StepExtension

__all__ = ["adversarial_step", "check_input_shapes", "setup"]


def setup(model: Any, example: dict[str, torch.Tensor], *, for_training: bool = True) -> None:
    """Build ``model``'s lazy layers from ``example``, then (to train) create its optimizer once."""
    if model._input_keys is None:
        keys = [k for k in example if not multi_io.is_target_key(model, k)]
        if not keys:
            raise DataError("The batch holds only the target; no input features were given.")
        model._input_keys = keys
        model._single_input = len(keys) == 1
    if model.input_spec is None:
        model.input_spec = {
            k: {
                "shape": list(example[k].shape[1:]),
                "dtype": str(example[k].dtype).removeprefix("torch."),
            }
            for k in model._input_keys
        }
    else:
        check_input_shapes(model, example)
    if layout.has_unbuilt_layers(model):
        _forward_two_rows(model, example)  # builds the lazy layers
    if model._compile_args is not None and model._train_params is None:
        freezing.capture(model)  # compiled before its layers were built
    if not for_training or model._compile_args is None:
        return
    if model._l1 or model._l2:
        model._penalized = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    model._regularized_layers = [
        m
        for m in model.modules()
        if m is not model
        and callable(getattr(m, "regularization_loss", None))
        and m.regularization_loss() is not None
    ]
    if model.optimizer is None:
        from deepfuse.training.optim import build_optimizer

        # The weights trainable at compile (Keras 2, see freezing.py); a model frozen on purpose
        # still gets an optimizer (over weights that get no gradient), as Keras allows.
        params = model._train_params or list(model.parameters())
        if not params:
            raise UserError("The model has no parameters to train.")
        model.optimizer = build_optimizer(model._optimizer_spec, params)


def _forward_two_rows(model: Any, example: dict[str, torch.Tensor]) -> None:
    """A forward pass on two rows in eval mode (BatchNorm running statistics untouched)."""
    inputs, _ = model.split_batch({k: v[:2] for k, v in example.items()})
    was_training = model.training
    model.train(False)
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        model.train(was_training)


def check_input_shapes(model: Any, example: dict[str, torch.Tensor]) -> None:
    """Turn a shape mismatch with what ``model`` was built for into a clear DataError."""
    for key in model._input_keys:
        spec = model.input_spec.get(key) if model.input_spec else None
        if key not in example:
            raise DataError(
                f"The data has no input '{key}'; the model expects inputs "
                f"{sorted(model.input_spec)}."
            )
        got = list(example[key].shape[1:])
        if spec is None or got == spec["shape"]:
            continue
        # Sequences may vary in length and some nets accept any image size: try a forward pass
        # on two rows and report torch's complaint, if any, in our words.
        try:
            _forward_two_rows(model, example)
        except (RuntimeError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0].rstrip(".")
            raise DataError(
                f"Input '{key}' has per-sample shape {tuple(got)}, but the model was built "
                f"for {tuple(spec['shape'])} ({reason}). Resize or reshape the data to "
                "the shape the model was trained on."
            ) from None


def adversarial_step(spec: Mapping[str, Any] | None) -> StepExtension | None:
    """``compile(adversarial=...)``: the step extension of :mod:`deepfuse.adversarial`, or None."""
    if spec is None or spec is False:
        return None
    # deepfuse.adversarial sits between models and training in the layer contract: its attacks
    # and its step extension need only torch, so models may offer compile(adversarial=...).
    from deepfuse.adversarial.training import AdversarialTraining

    return AdversarialTraining.from_spec(spec)
