"""``cross_validate``: k-fold cross-validation of a config (``deepfuse cv CONFIG --folds K``).

The rows are the config's *training* data (``data.train`` with ``data.limit``, or a built-in
dataset's training split; ``data.test`` is left aside). They are cut into K folds, stratified by
class for classification (plain shuffled folds for regression), with the trainer seed. For each
fold a fresh model is built, compiled and fitted exactly as :func:`deepfuse.api.train` does, on
the other K-1 folds; tables get a Preprocessor fitted on those rows only (no leakage from the
held-out fold), and ``data.validation_split`` is taken from them too. The held-out fold is
scored with :func:`deepfuse.evaluation.evaluate_predictions`.

Written atomically to ``<out_dir>/cv-<name>-<timestamp>/``: ``config.yaml`` (the resolved
config), ``cv.csv`` (one row per fold), ``cv.json`` (per-fold headline metrics, their
mean and standard deviation, each fold's held-out row indices, full evaluation, per-epoch
history and time) and ``report.html`` (the per-fold table with mean ± std, per-fold curves).

Example:
    >>> from deepfuse.api.cv import cross_validate
    >>> cv = cross_validate("examples/adult.yaml", folds=5)                # doctest: +SKIP
    >>> round(cv.summary["accuracy"]["mean"], 3), sorted(cv.summary)[:2]  # doctest: +SKIP
    (0.85, ['accuracy', 'ece'])
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepfuse._utils.io import atomic_write_json, atomic_write_text
from deepfuse.api.training import (
    config_callbacks,
    fit_options,
    resolve_config,
    run_config,
    run_name,
)
from deepfuse.config import dump_config
from deepfuse.data.routes import Prepared, route_for
from deepfuse.evaluation import EvaluationResult, kfold_indices
from deepfuse.evaluation.fold_summary import HEADLINE_METRICS, folds_csv, summarize_folds
from deepfuse.evaluation.model_eval import evaluate_model
from deepfuse.models.from_config import build_compiled_model
from deepfuse.run import CONFIG_FILE, CV_FILE, CV_TABLE_FILE, RunWriter

__all__ = ["CVResult", "cross_validate"]


@dataclass
class CVResult:
    """What :func:`cross_validate` returns (also written to ``cv.json``).

    Attributes:
        out_dir: The ``cv-<name>-<timestamp>`` folder.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        metrics: The headline metric names, in table order.
        per_fold: One dict per fold: ``fold`` (1-based), ``train_rows``, ``test_rows`` and
            each headline metric.
        summary: ``{metric: {"mean": ..., "std": ...}}`` over the folds (population std,
            ``ddof=0``, like ``numpy.std``; NaN folds are left out).
        fold_indices: Held-out row indices of each fold (rows of the training data).
        evaluations: The full :class:`EvaluationResult` of each fold.
    """

    out_dir: Path
    task: str
    metrics: list[str]
    per_fold: list[dict[str, Any]]
    summary: dict[str, dict[str, float]]
    fold_indices: list[np.ndarray] = field(default_factory=list)
    evaluations: list[EvaluationResult] = field(default_factory=list)


def cross_validate(
    cfg: Mapping[str, Any] | str | os.PathLike,
    folds: int = 5,
    out_dir: str | os.PathLike | None = None,
    on_fold: Callable[[dict[str, Any]], None] | None = None,
) -> CVResult:
    """Train and evaluate ``cfg`` on ``folds`` folds of its training data.

    Args:
        cfg: A config dict or YAML path, as for :func:`deepfuse.api.train`.
        folds: Number of folds K (>= 2).
        out_dir: Folder that receives ``cv-<name>-<timestamp>/`` (default ``runs/``).
        on_fold: Called with each fold's row of ``per_fold`` as soon as it is done.

    Returns:
        A :class:`CVResult`.

    Raises:
        UserError: A bad config, bad data, or fewer rows than folds.
    """
    resolved = resolve_config(cfg)
    data_cfg, trainer = resolved["data"], resolved["trainer"]
    seed = trainer.get("seed")
    seed = seed if seed is not None else 0
    source = route_for(data_cfg).fold_rows(data_cfg)
    held_out = kfold_indices(source.labels, folds, seed=seed)
    everything = np.arange(source.num_rows)
    per_fold: list[dict[str, Any]] = []
    evaluations: list[EvaluationResult] = []
    histories: list[dict[str, list[float]]] = []
    fold_times: list[float] = []
    for k, test_idx in enumerate(held_out):
        train_idx = np.setdiff1d(everything, test_idx, assume_unique=True)
        start = time.perf_counter()
        prep = source.prepared(train_idx, test_idx, seed)
        result, history = _fit_and_evaluate(resolved, prep)
        fold_times.append(round(time.perf_counter() - start, 3))
        histories.append(history)
        row = {"fold": k + 1, "train_rows": len(train_idx), "test_rows": len(test_idx)}
        row.update({m: result.metrics[m] for m in HEADLINE_METRICS if m in result.metrics})
        per_fold.append(row)
        evaluations.append(result)
        if on_fold is not None:
            on_fold(row)

    names, summary = summarize_folds(per_fold)
    name = run_name(resolved)
    writer = RunWriter(out_dir, f"cv-{name}")
    with writer as tmp:
        dump_config(resolved, tmp / CONFIG_FILE)
        atomic_write_text(tmp / CV_TABLE_FILE, folds_csv(per_fold, names))
        atomic_write_json(
            tmp / CV_FILE,
            {
                "name": name,
                "folds": folds,
                "seed": seed,
                "task": evaluations[0].task,
                "classes": evaluations[0].classes,
                "stratified": source.stratified,
                "rows": source.num_rows,
                "metrics": names,
                "per_fold": per_fold,
                "summary": summary,
                "fold_indices": [f.tolist() for f in held_out],
                "evaluations": [e.to_dict() for e in evaluations],
                "histories": histories,
                "fold_times_s": fold_times,
            },
        )
        _write_report(tmp)
    assert writer.run_dir is not None
    return CVResult(
        out_dir=writer.run_dir,
        task=evaluations[0].task,
        metrics=names,
        per_fold=per_fold,
        summary=summary,
        fold_indices=held_out,
        evaluations=evaluations,
    )


def _write_report(folder: Path) -> None:
    """report.html of the cv folder (per-fold table, mean ± std, curves); never fails the cv."""
    import warnings

    from deepfuse.report import ReportWarning, write_report

    try:
        write_report(folder)
    except Exception as exc:
        warnings.warn(
            f"report.html could not be written ({type(exc).__name__}: {exc}); "
            "cv.json and cv.csv are complete. Write it later with 'deepfuse report DIR'.",
            ReportWarning,
            stacklevel=2,
        )


def _fit_and_evaluate(
    resolved: dict[str, Any], prep: Prepared
) -> tuple[EvaluationResult, dict[str, list[float]]]:
    """Build, compile and fit one fold's model as train() does; score its held-out rows.

    Returns the evaluation and the per-epoch history (for the report's per-fold curves).
    """
    cfg = run_config(resolved, prep)  # this fold's completed config (sizes from its rows)
    trainer = cfg["trainer"]
    model = build_compiled_model(cfg, prep, name=run_name(cfg))
    history = model.fit(
        prep.train,
        validation_data=prep.val,
        callbacks=config_callbacks(trainer),
        **fit_options(trainer, model),
    ).history
    batch = max(256, int(trainer.get("batch_size") or 0))
    result = evaluate_model(model, prep.test, prep.task, prep.classes, batch_size=batch)
    per_epoch = {  # NaN (no value that epoch) as null: cv.json stays strict JSON
        k: [float(x) if x == x else None for x in v]
        for k, v in history.items()
        if k not in ("lr", "time")
    }
    return result, per_epoch
