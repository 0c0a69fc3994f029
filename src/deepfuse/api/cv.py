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

import copy
import csv
import io
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfuse._utils.errors import ConfigError
from deepfuse._utils.io import atomic_write_json, atomic_write_text
from deepfuse.api.data import (
    DATASET_LOADERS,
    Prepared,
    _check_target,
    _dataset_spec,
    _features_of,
    _labels_of,
    _load_tables,
    _make_preprocessor,
    _split,
    _split_indices,
    images_to_tensor,
    table_to_tensors,
)
from deepfuse.config import dump_config
from deepfuse.evaluation import EvaluationResult, kfold_indices
from deepfuse.run import RunWriter

__all__ = ["HEADLINE_METRICS", "CVResult", "cross_validate"]

#: Metrics shown per fold and summarised (those the task has, in this order).
HEADLINE_METRICS = (
    "accuracy",
    "f1_macro",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_weighted",
    "roc_auc",
    "roc_auc_macro",
    "pr_auc",
    "pr_auc_macro",
    "ece",
    "mse",
    "rmse",
    "mae",
    "r2",
)


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
    from deepfuse.api.training import _run_name, resolve_config

    resolved = resolve_config(cfg)
    data_cfg, trainer = resolved["data"], resolved["trainer"]
    seed = trainer.get("seed")
    seed = seed if seed is not None else 0
    source = _Rows.load(data_cfg)
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
        result, history = _fit_and_evaluate(copy.deepcopy(resolved), prep)
        fold_times.append(round(time.perf_counter() - start, 3))
        histories.append(history)
        row = {"fold": k + 1, "train_rows": len(train_idx), "test_rows": len(test_idx)}
        row.update({m: result.metrics[m] for m in HEADLINE_METRICS if m in result.metrics})
        per_fold.append(row)
        evaluations.append(result)
        if on_fold is not None:
            on_fold(row)

    names = [m for m in HEADLINE_METRICS if m in per_fold[0]]
    summary = {m: _mean_std([row.get(m, float("nan")) for row in per_fold]) for m in names}
    name = _run_name(resolved)
    writer = RunWriter(out_dir, f"cv-{name}")
    with writer as tmp:
        dump_config(resolved, tmp / "config.yaml")
        atomic_write_text(tmp / "cv.csv", _csv(per_fold, names))
        atomic_write_json(
            tmp / "cv.json",
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


def _mean_std(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {"mean": float("nan"), "std": float("nan")}
    return {"mean": float(v.mean()), "std": float(v.std())}


def _csv(rows: list[dict[str, Any]], names: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["fold", "train_rows", "test_rows", *names]
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(h)) for h in header])
    return buf.getvalue()


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if np.isnan(v) else repr(v)
    return v


def _fit_and_evaluate(
    resolved: dict[str, Any], prep: Prepared
) -> tuple[EvaluationResult, dict[str, list[float]]]:
    """Build, compile and fit one fold's model as train() does; score its held-out rows.

    Returns the evaluation and the per-epoch history (for the report's per-fold curves).
    """
    from deepfuse.api.training import _arguments_of, _callbacks, build_compiled_model
    from deepfuse.api.use import evaluation_of

    trainer = resolved["trainer"]
    model = build_compiled_model(resolved, prep)
    options = _arguments_of(
        type(model).fit, trainer, skip=("validation_split", "callbacks", "strategy")
    )
    history = model.fit(
        prep.train, validation_data=prep.val, callbacks=_callbacks(trainer), **options
    ).history
    batch = max(256, int(trainer.get("batch_size") or 0))
    result = evaluation_of(model, prep.test, prep.task, prep.classes, batch_size=batch)
    per_epoch = {  # NaN (no value that epoch) as null: cv.json stays strict JSON
        k: [float(x) if x == x else None for x in v]
        for k, v in history.items()
        if k not in ("lr", "time")
    }
    return result, per_epoch


@dataclass
class _Rows:
    """The training rows of a config, in memory: a table (tables) or image arrays (datasets)."""

    data: dict[str, Any]
    labels: np.ndarray  # (N,) targets, for the folds
    table: Any = None  # pa.Table of raw rows (tables)
    images: tuple[np.ndarray, np.ndarray] | None = None  # (x, y) (built-in image datasets)
    stratified: bool = True

    @property
    def num_rows(self) -> int:
        return len(self.labels)

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> _Rows:
        if data.get("dataset") is not None:
            name, options = _dataset_spec(data["dataset"])
            if name in ("mnist", "fashion_mnist"):
                (x, y), _ = DATASET_LOADERS[name](**options)
                if data.get("limit"):
                    x, y = x[: data["limit"]], y[: data["limit"]]
                y = np.asarray(y, np.int64)
                return cls(dict(data), y, images=(np.asarray(x), y))
        if data.get("dataset") is None and data.get("streaming") is True:
            raise ConfigError(
                "'deepfuse cv' holds the training rows in memory, but data.streaming is true. "
                "Set data.streaming=false (and data.limit=N to use the first N rows)."
            )
        table, _, data = _load_tables(data)  # data.test stays aside: folds cut the train rows
        _check_target(table, data["target"], "the training data")
        if data.get("limit"):
            table = table.slice(0, data["limit"])
        labels = _labels_of(table, data["target"])
        from deepfuse.evaluation.folds import _is_regression

        return cls(dict(data), labels, table=table, stratified=not _is_regression(labels))

    def prepared(self, train_idx: np.ndarray, test_idx: np.ndarray, seed: int) -> Prepared:
        """One fold as :func:`deepfuse.api.data.prepare` would give it (validation included)."""
        fraction = self.data.get("validation_split") or 0.0
        if self.images is not None:
            x, y = self.images
            name, _ = _dataset_spec(self.data["dataset"])

            def tensors(idx: np.ndarray) -> dict[str, torch.Tensor]:
                return {"x": images_to_tensor(x[idx]), "y": torch.from_numpy(y[idx])}

            train, val = _split(tensors(train_idx), y[train_idx], fraction, seed)
            if name == "fashion_mnist":
                from deepfuse.datasets import FASHION_MNIST_CLASSES as classes
            else:
                classes = tuple(range(10))
            return Prepared(
                "image", train, val, tensors(test_idx), "y", "multiclass", list(classes),
                features={"x": "image"},
            )  # fmt: skip
        from deepfuse.data import Preprocessor

        target = self.data["target"]
        train, test, val = self.table.take(train_idx), self.table.take(test_idx), None
        if fraction:  # validation rows come from the fold's training rows, as in train()
            keep, held = _split_indices(_labels_of(train, target), fraction, seed + 1)
            train, val = train.take(keep), train.take(held)
        pre = _make_preprocessor(Preprocessor, self.data)
        pre.fit(train, target)  # fitted on this fold's training rows only: no leakage
        return Prepared(
            "table",
            table_to_tensors(pre, train),
            table_to_tensors(pre, val) if val is not None else None,
            table_to_tensors(pre, test),
            target,
            pre.task,
            None if pre.classes is None else list(pre.classes),
            preprocessor=pre,
            features=_features_of(pre, target),
        )
