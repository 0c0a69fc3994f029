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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from deepfuse._utils.errors import DataError
from deepfuse._utils.io import atomic_write
from deepfuse.api.tasks import task_for
from deepfuse.data.formats import format_or_none
from deepfuse.data.routes import read_input, route_for, test_feed_of
from deepfuse.run import RunReader, check_run_dir, read_run
from deepfuse.run.layout import CONFIG_FILE

__all__ = [
    "RunEvaluation",
    "eval_data",
    "evaluate",
    "evaluate_run",
    "info",
    "input_tensors",
    "load_run",
    "predict",
]


def load_run(run_dir: str | os.PathLike) -> tuple[Path, dict[str, Any], Any]:
    """``(run path, config.yaml, model)`` of a finished run."""
    from deepfuse.models.serialization import load_model

    run = check_run_dir(run_dir)
    cfg = RunReader(run).config()  # the run contract's read rule (regular file, size, aliases)
    if not isinstance(cfg.get("data"), dict):  # every run's config names its data
        raise DataError(
            f"'{run / CONFIG_FILE}' has no 'data' section; the file is damaged. Restore it "
            "(it is the config the run was trained with) or train the model again."
        )
    return run, cfg, load_model(run)


def input_tensors(cfg: dict[str, Any], model: Any, path: Any, *, need_target: bool) -> Any:
    """Raw rows of the file ``path`` as the run's model inputs (its data route's
    preprocessing), with the target when ``need_target``."""
    route = route_for(cfg["data"])
    # the run's data.encoding / data.delimiter: a forced encoding applies to new files too
    dialect = {k: cfg["data"].get(k) for k in ("encoding", "delimiter")}
    table = read_input(str(path), **dialect)
    return route.load_input(table, model, need_target=need_target, source=str(path))


def evaluate(run_dir: str | os.PathLike, data: str | os.PathLike | None = None) -> dict[str, float]:
    """Loss and metrics of a run's model on its own test set, or on a labelled ``data`` file.

    Args:
        run_dir: A directory written by :func:`deepfuse.api.train`.
        data: A CSV/Parquet file with the same columns as the training data (target included).

    Returns:
        ``{"loss": ..., "accuracy": ...}``.
    """
    _, cfg, model = load_run(run_dir)
    tensors, batch = eval_data(cfg, model, data)
    return {
        k: float(v) for k, v in model.evaluate(tensors, batch_size=batch, return_dict=True).items()
    }


def eval_data(cfg: dict[str, Any], model: Any, data: str | os.PathLike | None) -> tuple[Any, int]:
    """The run's test tensors (same rows as at training) or ``data``'s, and a batch size."""
    if data is None:
        tensors = test_feed_of(cfg, preprocessor=model.preprocessor)
    else:
        tensors = input_tensors(cfg, model, data, need_target=True)
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
    run, cfg, model = load_run(run_dir)
    scores, result, path = task_for(cfg).evaluate_run(run, cfg, model, data)
    return RunEvaluation(scores, result, path)


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
    run, cfg, model = load_run(run_dir)
    task = task_for(cfg)
    tensors = None
    if task.predicts_rows:
        tensors = input_tensors(cfg, model, input_path, need_target=False)
    result = task.predict_table(run, model, tensors)
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


def _write_table(table: pa.Table, path: Path) -> None:
    if format_or_none(path) == "parquet":
        import pyarrow.parquet as pq

        atomic_write(path, lambda tmp: pq.write_table(table, tmp))
        return
    import pyarrow.csv as pacsv

    atomic_write(path, lambda tmp: pacsv.write_csv(table, tmp))
