"""Use a finished run: ``evaluate`` it, ``predict`` new rows with it, describe it with ``info``.

Everything is read from the run directory only (config.yaml, model.json, model.safetensors,
metrics.json); raw rows go through the same preprocessing as at training time.
:func:`evaluate_run` adds the task's full metric set (:mod:`deepfuse.evaluation`) and writes it
to ``evaluation.json`` (``evaluation-<file stem>.json`` for another labelled file).

Example:
    >>> from deepfuse import api
    >>> api.evaluate("runs/adult-20250101-120000")                          # doctest: +SKIP
    {'loss': 0.31, 'accuracy': 0.85}
    >>> api.predict("runs/adult-20250101-120000", "new.csv", out="pred.csv")  # doctest: +SKIP
    PosixPath('pred.csv')
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from deepfuse._utils.errors import DataError, UserError
from deepfuse._utils.io import atomic_write, atomic_write_json, read_json
from deepfuse.api.data import images_to_tensor, load_test, read_input
from deepfuse.config import load_config
from deepfuse.run import check_run_dir, read_run

__all__ = ["RunEvaluation", "evaluate", "evaluate_run", "evaluation_of", "info", "predict"]


def _load(run_dir: str | os.PathLike) -> tuple[Path, dict[str, Any], Any]:
    from deepfuse.models.serialization import load_model

    run = check_run_dir(run_dir)
    cfg = load_config(run / "config.yaml")
    return run, cfg, load_model(run)


def evaluate(run_dir: str | os.PathLike, data: str | os.PathLike | None = None) -> dict[str, float]:
    """Loss and metrics of a run's model on its own test set, or on a labelled ``data`` file.

    Args:
        run_dir: A directory written by :func:`deepfuse.api.train`.
        data: A CSV/Parquet file with the same columns as the training data (target included).

    Returns:
        ``{"loss": ..., "accuracy": ...}``.
    """
    _, cfg, model = _load(run_dir)
    tensors, batch = _eval_data(cfg, model, data)
    return {
        k: float(v) for k, v in model.evaluate(tensors, batch_size=batch, return_dict=True).items()
    }


def _eval_data(cfg: dict[str, Any], model: Any, data: str | os.PathLike | None) -> tuple[Any, int]:
    """The run's test tensors (same rows as at training) or ``data``'s, and a batch size."""
    seed = cfg.get("trainer", {}).get("seed")
    if data is None:
        tensors = load_test(
            cfg["data"], seed=seed if seed is not None else 0, preprocessor=model.preprocessor
        )
    else:
        tensors = _tensors_for(model, read_input(str(data)), need_target=True, source=str(data))
    return tensors, max(256, int(cfg.get("trainer", {}).get("batch_size") or 0))


@dataclass
class RunEvaluation:
    """What :func:`evaluate_run` returns.

    Attributes:
        scores: Loss and compiled metrics, as :func:`evaluate` returns them.
        result: The full metric set (:class:`deepfuse.evaluation.EvaluationResult`).
        path: The JSON file written (``evaluation.json`` or ``evaluation-<stem>.json``).
    """

    scores: dict[str, float]
    result: Any
    path: Path


def evaluate_run(
    run_dir: str | os.PathLike, data: str | os.PathLike | None = None
) -> RunEvaluation:
    """:func:`evaluate` plus the task's full metric set, written to the run directory.

    Args:
        run_dir: A directory written by :func:`deepfuse.api.train`.
        data: A labelled CSV/Parquet file (default: the run's own test rows).

    Returns:
        A :class:`RunEvaluation`; ``RUN/evaluation.json`` (or ``RUN/evaluation-<stem>.json``
        with ``data``) holds ``result.to_dict()``, written atomically.

    Example:
        >>> ev = evaluate_run("runs/adult-20250101-120000")                   # doctest: +SKIP
        >>> ev.result.metrics["f1_macro"], ev.path.name                        # doctest: +SKIP
        (0.78, 'evaluation.json')
    """
    run, cfg, model = _load(run_dir)
    tensors, batch = _eval_data(cfg, model, data)
    scores = model.evaluate(tensors, batch_size=batch, return_dict=True)
    meta = read_json(run / "metrics.json")
    result = evaluation_of(model, tensors, meta.get("task"), _classes(run, model), batch_size=batch)
    name = (
        "evaluation.json"
        if data is None
        else f"evaluation-{Path(str(data)).name.split('.')[0]}.json"
    )
    atomic_write_json(run / name, result.to_dict())
    return RunEvaluation({k: float(v) for k, v in scores.items()}, result, run / name)


def evaluation_of(
    model: Any, data: Any, task: str | None, classes: list[Any] | None, *, batch_size: int = 256
) -> Any:
    """Predict ``data`` (tensors with the target, or a batch stream) and evaluate every row.

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
    import torch

    from deepfuse.evaluation import UndefinedMetricWarning, evaluate_predictions
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
    y_prob = torch.cat(outputs).numpy()  # (N, C) probabilities, (N, 1) sigmoid, or (N, K) values
    y_true = torch.cat(targets).numpy()
    if task is None:
        task = (
            "regression" if classes is None else ("binary" if len(classes) == 2 else "multiclass")
        )
    if task != "regression" and y_prob.ndim == 2 and y_prob.shape[1] == 1 and classes:
        y_prob = y_prob[:, 0]  # one sigmoid unit = P(class 1)
    with warnings.catch_warnings():
        # Ill-defined values (a class never predicted) are listed in result.notes, which the
        # CLI prints and evaluation.json keeps; a Python warning would only add noise.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return evaluate_predictions(y_true, y_prob, task, classes)


def predict(
    run_dir: str | os.PathLike, input_path: str | os.PathLike, out: str | os.PathLike | None = None
) -> Path:
    """Predict raw rows from ``input_path`` and write labels and probabilities (atomically).

    The output has one row per input row, in order: ``prediction`` (the original class label,
    or the value for regression), ``probability`` (of the predicted class) and one
    ``probability_<label>`` column per class. ``.parquet`` output when ``out`` ends so, else CSV.

    Args:
        run_dir: A directory written by :func:`deepfuse.api.train`.
        input_path: CSV/Parquet file of raw rows (the target column may be absent).
        out: Output file (default ``<run_dir>/predictions-<input name>.csv``).

    Returns:
        The path written.
    """
    run, _, model = _load(run_dir)
    table = read_input(str(input_path))
    tensors = _tensors_for(model, table, need_target=False, source=str(input_path))
    outputs = np.asarray(model.predict(tensors))
    result = _prediction_table(outputs, _classes(run, model))
    if out is None:
        out = run / f"predictions-{Path(str(input_path)).name.split('.')[0]}.csv"
    out = Path(out)
    _write_table(result, out)
    return out


def info(run_dir: str | os.PathLike) -> dict[str, Any]:
    """A JSON-able summary of a run: config, model, metrics and files.

    Example:
        >>> info("runs/mnist_cnn-20250101-120000")["model"]["num_parameters"]  # doctest: +SKIP
        225034
    """
    return read_run(run_dir).info()


# ----------------------------------------------------------------------------- helpers


def _tensors_for(model: Any, table: pa.Table, *, need_target: bool, source: str) -> dict[str, Any]:
    """Raw table → model inputs, with the saved Preprocessor (tables) or as pixel rows (images)."""
    if table.num_rows == 0:
        raise DataError(f"'{source}' has no rows. Provide a file with a header and data rows.")
    target = model.target_key
    if model.preprocessor is not None:
        if need_target and target not in table.column_names:
            raise DataError(
                f"'{source}' has no target column {target!r}, which evaluation needs. "
                f"Columns: {', '.join(table.column_names)}."
            )
        if not need_target and target in table.column_names:
            table = table.drop_columns([target])  # labels are not needed (and may be new)
        return dict(model.preprocessor.transform(table))
    return _image_rows(model, table, need_target=need_target, source=source)


def _image_rows(model: Any, table: pa.Table, *, need_target: bool, source: str) -> dict[str, Any]:
    """Image runs take one row per image: the pixels as numeric columns (+ ``label`` to evaluate)."""
    import torch

    label = next((c for c in ("label", "y", "target") if c in table.column_names), None)
    if need_target and label is None:
        raise DataError(f"'{source}' needs a 'label' column to evaluate an image model.")
    pixels = table.drop_columns([label]) if label else table
    try:
        x = np.stack(
            [
                np.asarray(c.to_numpy(zero_copy_only=False), dtype=np.float32)
                for c in pixels.columns
            ],
            axis=1,
        )
    except (ValueError, TypeError, pa.ArrowInvalid):
        raise DataError(f"'{source}' must hold numeric pixel columns for an image model.") from None
    shape = list((model.input_spec or {}).get("x", {}).get("shape") or [])
    if int(np.prod(shape)) != x.shape[1]:
        raise DataError(
            f"'{source}' has {x.shape[1]} pixel columns; the model expects "
            f"{int(np.prod(shape))} (an image of shape {shape})."
        )
    images = images_to_tensor(x.reshape(len(x), *shape))
    if float(images.max()) > 1.0:
        images = images / 255.0  # 0..255 pixels, as the model was trained on [0, 1]
    tensors = {"x": images}
    if label is not None and need_target:
        tensors[model.target_key] = torch.as_tensor(
            np.asarray(table.column(label).to_numpy(zero_copy_only=False), dtype=np.int64)
        )
    return tensors


def _classes(run: Path, model: Any) -> list[Any] | None:
    if model.preprocessor is not None:
        return model.preprocessor.classes
    return read_json(run / "metrics.json").get("classes")


def _prediction_table(outputs: np.ndarray, classes: list[Any] | None) -> pa.Table:
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
    labels = np.asarray(classes, dtype=object)[index]
    columns: dict[str, Any] = {
        "prediction": pa.array(labels.tolist()),
        "probability": probs[np.arange(len(probs)), index],
    }
    for i, label in enumerate(classes):
        columns[f"probability_{label}"] = probs[:, i]
    return pa.table(columns)


def _write_table(table: pa.Table, path: Path) -> None:
    if path.name.lower().endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        atomic_write(path, lambda tmp: pq.write_table(table, tmp))
        return
    import pyarrow.csv as pacsv

    atomic_write(path, lambda tmp: pacsv.write_csv(table, tmp))
