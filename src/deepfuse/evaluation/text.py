"""Plain-text tables of an evaluation and of a cross-validation (what the CLI prints).

Example:
    >>> from deepfuse.evaluation import evaluate_predictions
    >>> r = evaluate_predictions([0, 1, 1, 0], [0.2, 0.9, 0.4, 0.6], "binary", ["no", "yes"])
    >>> print(format_evaluation(r).splitlines()[0])
    metrics (4 rows)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from deepfuse.evaluation.result import EvaluationResult

__all__ = ["format_evaluation", "format_folds"]


def _num(v: Any, width: int = 9) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a".rjust(width)
    if isinstance(v, int):
        return str(v).rjust(width)
    return f"{v:.4f}".rjust(width)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    cells = [[str(h) for h in header]] + [
        [c if isinstance(c, str) else _num(c).strip() for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in cells
    ]
    return [lines[0], "  ".join("-" * w for w in widths), *lines[1:]]


def format_evaluation(result: EvaluationResult) -> str:
    """Headline metrics, then (classification) per-class scores, confusion matrix, calibration."""
    out = [f"metrics ({result.n} rows)"]
    out += [f"  {name:<20} {_num(value).strip()}" for name, value in result.metrics.items()]
    if result.per_class:
        out += ["", "per class"]
        has_auc = "roc_auc" in result.per_class[0]
        header = ["class", "precision", "recall", "f1", "support"] + (
            ["roc_auc", "pr_auc"] if has_auc else []
        )
        rows = [
            [str(r["label"]), r["precision"], r["recall"], r["f1"], r["support"]]
            + ([r["roc_auc"], r["pr_auc"]] if has_auc else [])
            for r in result.per_class
        ]
        out += ["  " + line for line in _table(header, rows)]
    if result.confusion_matrix and len(result.confusion_matrix["labels"]) <= 20:
        labels = [str(c) for c in result.confusion_matrix["labels"]]
        out += ["", "confusion matrix (rows: true, columns: predicted)"]
        rows = [[lab, *row] for lab, row in zip(labels, result.confusion_matrix["counts"])]
        out += ["  " + line for line in _table(["", *labels], rows)]
    if result.calibration:
        cal = result.calibration
        out += [
            "",
            f"calibration of {cal['of']} (10 bins): ECE {_num(cal['ece']).strip()}, "
            f"MCE {_num(cal['mce']).strip()}",
        ]
    if result.residuals:
        res = result.residuals
        q = res["quantiles"]
        out += [
            "",
            f"residuals: mean {res['mean']:.4f}, std {res['std']:.4f}, "
            f"median {q['0.5']:.4f}, 5%..95% [{q['0.05']:.4f}, {q['0.95']:.4f}]",
        ]
    if result.never_predicted:
        shown = ", ".join(str(c) for c in result.never_predicted[:20])
        more = ", ..." if len(result.never_predicted) > 20 else ""
        out += [
            "",
            f"warning: {len(result.never_predicted)} of {len(result.classes or [])} classes are "
            f"never predicted: {shown}{more}",
        ]
    for note in result.notes:
        out.append(f"note: {note}")
    return "\n".join(out)


def format_folds(
    per_fold: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str],
) -> str:
    """Per-fold table (one row per fold) and a ``mean ± std`` line per metric.

    Example:
        >>> print(format_folds([{"fold": 1, "acc": 0.5}, {"fold": 2, "acc": 0.7}],
        ...                    {"acc": {"mean": 0.6, "std": 0.1}}, ["acc"]))
        fold     acc
        ----  ------
        1     0.5000
        2     0.7000
        mean  0.6000
        std   0.1000
        <BLANKLINE>
        acc: 0.6000 ± 0.1000
    """
    rows = [[str(f["fold"]), *(f.get(m) for m in metrics)] for f in per_fold]
    rows.append(["mean", *(summary[m]["mean"] for m in metrics)])
    rows.append(["std", *(summary[m]["std"] for m in metrics)])
    lines = _table(["fold", *metrics], rows)
    lines.append("")
    lines += [
        f"{m}: {_num(summary[m]['mean']).strip()} ± {_num(summary[m]['std']).strip()}"
        for m in metrics
    ]
    return "\n".join(lines)
