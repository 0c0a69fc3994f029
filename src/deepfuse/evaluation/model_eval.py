"""Score a model on labelled rows with the task's full metric set (every row's output kept).

Example:
    >>> import torch
    >>> from deepfuse.models import Sequential
    >>> from deepfuse.layers import Dense
    >>> model = Sequential([Dense(2, activation="softmax")])
    >>> model.compile(loss="sparse_categorical_crossentropy")
    >>> model.target_key = "y"
    >>> data = {"x": torch.randn(8, 3), "y": torch.tensor([0, 1] * 4)}
    >>> evaluate_model(model, data, "binary", ["a", "b"]).task
    'binary'
"""

from __future__ import annotations

import warnings
from typing import Any

from deepfuse._utils.errors import DataError

__all__ = ["evaluate_model", "predict_rows"]


def predict_rows(model: Any, data: Any, *, batch_size: int = 256) -> tuple[Any, Any]:
    """Every row's output (after the output activation) and target, as numpy arrays.

    Returns:
        ``(y_prob, y_true)``: ``(N, C)`` probabilities, ``(N, 1)`` sigmoid outputs or ``(N, K)``
        values, and the ``(N, ...)`` targets.

    Raises:
        DataError: The rows have no target.
    """
    import torch

    from deepfuse.models import feeding

    loader = feeding.make_loader(model, data, None, batch_size=batch_size, shuffle=False)
    model.setup(feeding.first_batch(loader), for_training=False)
    model.train(False)
    outputs, targets = [], []
    with torch.no_grad():
        for batch in loader:
            inputs, target = model.split_batch(batch)
            if target is None:
                raise DataError(
                    f"The evaluation data has no target {model.target_key!r}; pass labelled rows."
                )
            outputs.append(model.apply_output_activation(model(inputs)).float().cpu())
            targets.append(target.cpu())
    # Every row's output is kept: AUCs and calibration need all scores at once.
    return torch.cat(outputs).numpy(), torch.cat(targets).numpy()


def evaluate_model(
    model: Any, data: Any, task: str | None, classes: list[Any] | None, *, batch_size: int = 256
) -> Any:
    """Predict ``data`` (tensors with the target, or a batch stream) and evaluate every row.

    A binary model's ``decision_threshold`` (chosen on validation rows by ``deepfuse train``)
    decides its predicted classes.

    Args:
        model: A compiled/loaded :class:`deepfuse.models.Model`.
        data: A dict of tensors holding the inputs and ``model.target_key``, or an iterable of
            such batch dicts.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"`` (metrics.json's ``task``).
        classes: Class labels by index (``None`` for regression).
        batch_size: Rows per forward pass (in-memory data).

    Returns:
        A :class:`deepfuse.evaluation.EvaluationResult`.
    """
    from deepfuse.evaluation import UndefinedMetricWarning, evaluate_predictions

    y_prob, y_true = predict_rows(model, data, batch_size=batch_size)
    if task is None:
        task = (
            "regression" if classes is None else ("binary" if len(classes) == 2 else "multiclass")
        )
    if task != "regression" and y_prob.ndim == 2 and y_prob.shape[1] == 1 and classes:
        y_prob = y_prob[:, 0]  # one sigmoid unit = P(class 1)
    threshold = getattr(model, "decision_threshold", None) if task == "binary" else None
    with warnings.catch_warnings():
        # Ill-defined values (a class never predicted) are listed in result.notes, which the
        # CLI prints and evaluation.json keeps; a Python warning would only add noise.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return evaluate_predictions(y_true, y_prob, task, classes, threshold=threshold)
