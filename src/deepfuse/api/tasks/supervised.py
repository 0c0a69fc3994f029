"""``task: auto`` (the default): supervised learning of the data's target.

The data route decides binary, multiclass or regression from the target column. After
training, a binary run picks its decision threshold on validation rows
(:func:`~deepfuse.api.outcome.decision_threshold`); the test split gets the full metric set of
:mod:`deepfuse.evaluation` (``evaluation.json``) and scikit-learn baselines on the same split.

Example:
    >>> from deepfuse.api.tasks import task_for
    >>> task = task_for({"task": "auto"})
    >>> task.name, task.searches
    ('auto', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from deepfuse._utils.errors import DataError, UserError, short_repr
from deepfuse._utils.io import atomic_write_json
from deepfuse.api.outcome import decision_threshold, headline_metrics
from deepfuse.api.tasks.base import Task, register_task
from deepfuse.data.routes import Prepared
from deepfuse.evaluation.model_eval import evaluate_model
from deepfuse.run import EVALUATION_FILE, RunReader, evaluation_file

__all__ = ["Supervised", "prediction_table", "run_classes"]


@register_task
class Supervised(Task):
    """Learn the target column: classification or regression, as the data says."""

    name = "auto"
    searches = True

    def after_fit(self, model: Any, prep: Prepared, trainer: Mapping[str, Any]) -> None:
        if trainer.get("threshold") is not None and prep.task == "binary":
            model.decision_threshold = decision_threshold(model, prep, trainer)

    def evaluate(
        self, model: Any, prep: Prepared, run_dir: Path, trainer: Mapping[str, Any]
    ) -> dict[str, Any]:
        from deepfuse.models.auto_defaults import imbalance_facts

        out = super().evaluate(model, prep, run_dir, trainer)
        result = evaluate_model(
            model, prep.test, prep.task, prep.classes,
            batch_size=max(256, int(trainer.get("batch_size") or 0)),
        )  # fmt: skip
        atomic_write_json(run_dir / EVALUATION_FILE, result.to_dict())
        out["test"].update(headline_metrics(result))
        out["imbalance"] = imbalance_facts(prep, trainer)
        return out

    def compare(self, prep: Prepared, trainer: Mapping[str, Any]) -> dict[str, Any]:
        from deepfuse.evaluation.baselines import run_baselines

        seed = trainer["seed"] if trainer.get("seed") is not None else 0
        base = run_baselines(prep, seed=seed, enabled=trainer.get("baselines"))
        return {"baselines": base} if base else {}

    def evaluate_run(
        self, run: Path, cfg: Mapping[str, Any], model: Any, data: Any | None
    ) -> tuple[dict[str, float], Any, Path]:
        from deepfuse.api.use import eval_data

        tensors, batch = eval_data(cfg, model, data)
        if isinstance(tensors, dict) and model.target_key not in tensors:
            raise DataError(
                f"The run's model.json names the target {short_repr(model.target_key)}, which "
                f"the evaluation rows do not hold (keys: {', '.join(sorted(map(str, tensors)))})."
                f" model.json in '{run}' is damaged or from another run: train it again."
            )
        scores = model.evaluate(tensors, batch_size=batch, return_dict=True)
        meta = RunReader(run).metrics()
        result = evaluate_model(
            model, tensors, meta.get("task"), run_classes(run, model), batch_size=batch
        )
        # Path(...).name: a folder given as 'shards/' is named after 'shards'
        name = evaluation_file(None if data is None else Path(data).name)
        atomic_write_json(run / name, result.to_dict())
        return {k: float(v) for k, v in scores.items()}, result, run / name

    def predict_table(self, run: Path, model: Any, tensors: Any) -> pa.Table:
        outputs = np.asarray(model.predict(tensors))
        threshold = getattr(model, "decision_threshold", None)
        return prediction_table(outputs, run_classes(run, model), threshold)


def run_classes(run: Path, model: Any) -> list[Any] | None:
    """A run's class labels by index (``None`` for regression)."""
    if model.preprocessor is not None:
        return model.preprocessor.classes
    return RunReader(run).metrics().get("classes")


def prediction_table(
    outputs: np.ndarray, classes: list[Any] | None, threshold: float | None = None
) -> pa.Table:
    """One row per input: the predicted label, its probability and every class's probability
    (a binary run's ``threshold`` on P(class 1) decides its label); regression: the value.

    Example:
        >>> prediction_table(np.array([[0.2], [0.9]]), ["no", "yes"]).column("prediction").to_pylist()
        ['no', 'yes']
    """
    if classes is None:  # regression: the value itself
        values = outputs.reshape(len(outputs), -1)
        return pa.table(
            {"prediction": values[:, 0]}
            if values.shape[1] == 1
            else {f"prediction_{i}": values[:, i] for i in range(values.shape[1])}
        )
    probs = outputs.reshape(len(outputs), -1).astype(np.float64)
    if probs.shape[1] == 1 and len(classes) == 2:  # one sigmoid unit: P(class 1)
        probs = np.concatenate([1.0 - probs, probs], axis=1)
    if probs.shape[1] != len(classes):
        raise UserError(
            f"The model outputs {probs.shape[1]} values per row but the run has "
            f"{len(classes)} classes; the run directory is inconsistent."
        )
    index = probs.argmax(axis=1)
    if threshold is not None and probs.shape[1] == 2:
        index = (probs[:, 1] >= threshold).astype(np.int64)
    labels = np.asarray(classes, dtype=object)[index]
    columns: dict[str, Any] = {
        "prediction": pa.array(labels.tolist()),
        "probability": probs[np.arange(len(probs)), index],
    }
    for i, label in enumerate(classes):
        columns[f"probability_{label}"] = probs[:, i]
    return pa.table(columns)
