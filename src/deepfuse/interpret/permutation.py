"""Permutation feature importance on the RAW columns of a table (Breiman 2001; scikit-learn's
``permutation_importance``), through the model's own preprocessing.

For each raw column: shuffle that column of the raw table (breaking its link with the target and
keeping its distribution), re-run the model's :class:`~deepfuse.data.Preprocessor` and model, and
measure the drop of the score. Repeated ``n_repeats`` times with different shuffles; the result
is ranked by mean drop. Because the table is permuted before preprocessing, a categorical column
that becomes one embedding, or a text column that becomes many tokens, is still one named entry.

Example:
    >>> import numpy as np, pyarrow as pa, torch
    >>> import deepfuse as df
    >>> from deepfuse.data import Preprocessor
    >>> from deepfuse.interpret import permutation_importance
    >>> rng = np.random.default_rng(0)
    >>> signal, noise = rng.normal(size=400), rng.normal(size=400)
    >>> table = pa.table({"signal": signal, "noise": noise, "y": (signal > 0).astype(int)})
    >>> pre = Preprocessor().fit(table, "y")
    >>> model = df.Model(torch.nn.Linear(2, 2))
    >>> model.compile(optimizer={"name": "adam", "lr": 0.05}, loss="cross_entropy")
    >>> model.preprocessor, model.target_key = pre, "y"
    >>> _ = model.fit(pre.transform(table), epochs=20, batch_size=64, seed=0, verbose=0)
    >>> result = permutation_importance(model, table, "y", n_repeats=3)
    >>> [row["column"] for row in result.ranking]
    ['signal', 'noise']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from deepfuse._utils.errors import DataError, UserError
from deepfuse.adversarial.attacks import eval_mode

__all__ = ["PermutationImportance", "permutation_importance"]

#: Metrics where lower is better: their importance is ``permuted - baseline``.
LOWER_IS_BETTER = ("loss", "mse", "mae", "mean_squared_error", "mean_absolute_error")


@dataclass
class PermutationImportance:
    """Result of :func:`permutation_importance`.

    Attributes:
        metric: The score that was compared.
        baseline: The score on the unshuffled table.
        ranking: One dict per raw column, most important first: ``column``, ``mean`` and ``std``
            of the score drop over the repeats, and ``drops`` (one per repeat).
        rows: Rows of the table that were scored.
        n_repeats: Shuffles per column.
    """

    metric: str
    baseline: float
    ranking: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0
    n_repeats: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what ``deepfuse explain`` writes to importance.json)."""
        return {
            "method": "permutation",
            "metric": self.metric,
            "baseline": self.baseline,
            "rows": self.rows,
            "n_repeats": self.n_repeats,
            "ranking": self.ranking,
        }

    def to_markdown(self) -> str:
        """A ranked Markdown table: rank, raw column, mean drop ± std."""
        lines = [
            f"| rank | column | {self.metric} drop (mean ± std over {self.n_repeats}) |",
            "|---:|---|---:|",
        ]
        for i, row in enumerate(self.ranking, 1):
            lines.append(f"| {i} | {row['column']} | {row['mean']:+.4f} ± {row['std']:.4f} |")
        return "\n".join(lines)


def _as_raw_table(data: Any) -> pa.Table:
    if isinstance(data, str | os.PathLike):
        from deepfuse.data import read_table

        return read_table(data)
    from deepfuse.data.io import as_table

    return as_table(data)


def _feature_columns(pre: Any, table: pa.Table, target: str) -> list[str]:
    """The raw columns the preprocessor reads, in table order."""
    used = set(pre.numeric_columns) | set(pre.categorical_columns)
    used |= set(pre.schema.names("text")) | set(pre.schema.names("image"))
    return [c for c in table.column_names if c in used and c != target]


def _scorer(
    model: nn.Module, metric: str, batch_size: int, key: str
) -> Callable[[pa.Table], float]:
    """``table -> score``: preprocess, forward in batches (eval mode, no grad), then the metric."""
    from deepfuse import metrics as metrics_mod

    pre = model.preprocessor

    def score(table: pa.Table) -> float:
        tensors = pre.transform(table)
        n = len(tensors[key])
        meter = None if metric == "loss" else metrics_mod.get(metric)
        total = 0.0
        with eval_mode(model), torch.no_grad():
            for start in range(0, n, batch_size):
                batch = {k: v[start : start + batch_size] for k, v in tensors.items()}
                if getattr(model, "_input_keys", None) is None:  # a model not yet run
                    model.setup({k: v for k, v in batch.items() if k != key}, for_training=False)
                inputs, _ = model.split_batch(batch)
                y = batch[key]
                outputs = model(inputs)
                if meter is None:
                    total += float(model.compiled_loss.compute(outputs, y)) * len(y)
                else:
                    meter.update(outputs, y)
        return total / n if meter is None else float(meter.compute())

    return score


def permutation_importance(
    model: nn.Module,
    table_or_data: Any,
    target: str | None = None,
    metric: str = "accuracy",
    n_repeats: int = 5,
    seed: int = 0,
    *,
    columns: Sequence[str] | None = None,
    batch_size: int = 2048,
) -> PermutationImportance:
    """Rank the raw columns of a table by how much shuffling each one hurts the model.

    Args:
        model: A ``deepfuse.Model`` with a fitted ``preprocessor`` (``deepfuse train`` runs and
            ``api``-trained models have one).
        table_or_data: The raw labelled rows: a pyarrow Table, a pandas DataFrame, a dict of
            columns, or a CSV/Parquet path.
        target: The target column (default: the model's).
        metric: A metric name (``"accuracy"``, ``"f1"``, ``"auc"``, ``"mse"``, ...) or
            ``"loss"``; for loss/error metrics the importance is the increase.
        n_repeats: Shuffles per column (mean ± std are reported).
        seed: Seed of the shuffles.
        columns: Raw columns to test (default: every column the preprocessor reads).
        batch_size: Rows per forward pass.

    Returns:
        A :class:`PermutationImportance`, ``ranking`` sorted by mean drop (largest first).

    Raises:
        UserError: The model has no preprocessor, or ``n_repeats`` < 1.
        DataError: The target or a named column is missing from the table.
    """
    pre = getattr(model, "preprocessor", None)
    if pre is None:
        raise UserError(
            "permutation_importance() needs a model with a fitted preprocessor (raw columns -> "
            "tensors). Train it with deepfuse.api.train or set model.preprocessor."
        )
    if not isinstance(n_repeats, int) or n_repeats < 1:
        raise UserError(f"'n_repeats' must be an integer >= 1; got {n_repeats!r}.")
    table = _as_raw_table(table_or_data)
    target = target or model.target_key
    if target not in table.column_names:
        raise DataError(
            f"The table has no target column {target!r}; permutation importance needs labels. "
            f"Columns: {', '.join(table.column_names)}."
        )
    names = list(columns) if columns is not None else _feature_columns(pre, table, target)
    missing = [c for c in names if c not in table.column_names]
    if missing:
        raise DataError(
            f"Columns {missing} are not in the table ({', '.join(table.column_names)})."
        )
    score = _scorer(model, metric, batch_size, target)
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    baseline = score(table)
    rng = np.random.default_rng(seed)
    ranking = []
    for name in names:
        index = table.column_names.index(name)
        column = table.column(name)
        drops = []
        for _ in range(n_repeats):
            shuffled = column.take(pa.array(rng.permutation(table.num_rows)))
            drops.append(sign * (baseline - score(table.set_column(index, name, shuffled))))
        ranking.append(
            {
                "column": name,
                "mean": float(np.mean(drops)),
                "std": float(np.std(drops)),
                "drops": [float(d) for d in drops],
            }
        )
    ranking.sort(key=lambda row: row["mean"], reverse=True)
    return PermutationImportance(metric, float(baseline), ranking, table.num_rows, n_repeats)
