"""Two sections near the top of a run's report: "How it compares" (deepfuse next to the
scikit-learn baselines fitted on the same split, from ``metrics.json["baselines"]``) and
"Per class" (recall per class, worst first, with warnings for classes never predicted and for
strongly imbalanced classes, from ``evaluation.json``).

Example:
    >>> ev = {"per_class": [{"label": "a", "recall": 1.0, "precision": 0.5, "support": 90},
    ...                     {"label": "b", "recall": 0.0, "precision": 0.0, "support": 3}],
    ...       "confusion_matrix": {"labels": ["a", "b"], "counts": [[90, 0], [3, 0]]}}
    >>> never_predicted(ev)
    ['b']
    >>> imbalance_ratio(ev)
    30.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepfuse.report.context import RunFacts
from deepfuse.report.html import esc, fmt_seconds, not_applicable, num, scroll, table

__all__ = [
    "IMBALANCE_RATIO",
    "compare_section",
    "imbalance_ratio",
    "never_predicted",
    "per_class_section",
]

#: Largest / smallest class count from which the classes are called strongly imbalanced.
IMBALANCE_RATIO = 10.0
#: Classes listed in the per-class table at most (the worst recalls).
MAX_CLASS_ROWS = 50


def _warn(text: str) -> str:
    return f'<div class="warn">{esc(text)}</div>'


def _deepfuse_scores(f: RunFacts) -> dict[str, Any]:
    """deepfuse's test scores under the baselines' names (evaluation.json, else metrics.json)."""
    ev = f.evaluation
    metrics, test = ev.get("metrics") or {}, f.metrics.get("test") or {}
    if f.task == "regression":
        return {"r2": metrics.get("r2", test.get("r2")), "mae": metrics.get("mae", test.get("mae"))}
    present = [r for r in ev.get("per_class") or [] if (r.get("support") or 0) > 0]
    balanced = sum(r.get("recall") or 0.0 for r in present) / len(present) if present else None
    return {
        "accuracy": metrics.get("accuracy", test.get("accuracy")),
        "macro_f1": metrics.get("f1_macro", test.get("f1_macro")),
        "balanced_accuracy": balanced,  # mean recall of the classes with test rows (sklearn's)
    }


def compare_section(f: RunFacts) -> str:
    """The "How it compares" section: deepfuse and each baseline on the same test rows."""
    base = f.metrics.get("baselines")
    if not f.supervised and not isinstance(base, Mapping):
        return not_applicable(f"No baselines: a {f.task} run predicts no target.")
    if not isinstance(base, Mapping):
        return not_applicable(
            "No baselines in this run: train with trainer.baselines: true (or auto) to compare "
            "with standard scikit-learn models on the same split."
        )
    regression = base.get("task", f.task) == "regression"
    keys = ["r2", "mae"] if regression else ["accuracy", "macro_f1", "balanced_accuracy"]
    metric = base.get("metric") or ("r2" if regression else "macro_f1")
    arch = (f.meta.get("architecture") or {}).get("name") or "model"
    rows_ = f.metrics.get("rows") or {}
    ours = _deepfuse_scores(f)
    train_rows = (rows_.get("train") or 0) + (rows_.get("validation") or 0)
    searched = (f.metrics.get("search") or {}).get("seconds")
    fit_s = f.metrics.get("train_time_s")
    if isinstance(searched, int | float) and isinstance(fit_s, int | float):
        fit_s += searched  # the model search is part of what deepfuse spent to get there
    rows: list[list[Any]] = [
        [f"deepfuse ({arch})", *(ours.get(k) for k in keys), fmt_seconds(fit_s),
         train_rows or None, "model search included" if searched else ""],
    ]  # fmt: skip
    for m in base.get("models") or []:
        rows.append(
            [m.get("name"), *(m.get(k) for k in keys), fmt_seconds(m.get("fit_seconds")),
             m.get("rows"), m.get("note") or ""]
        )  # fmt: skip
    names = {"macro_f1": "macro-F1", "balanced_accuracy": "balanced accuracy", "r2": "R²"}
    header = ["model", *(names.get(k, k) for k in keys), "fit time", "training rows", "note"]
    parts = [f"<p><strong>{esc(_verdict(ours, base, metric, names))}</strong></p>"]
    test_rows = (base.get("rows") or {}).get("test")
    parts.append(
        "<p class='muted'>Baselines are standard scikit-learn models fitted on the run's "
        "training and validation rows and scored on the same "
        f"{num(test_rows) if test_rows else ''} test rows as deepfuse (deepfuse's fit time "
        "is its training time).</p>"
    )
    parts.append(scroll(table(header, rows)))
    skipped = base.get("skipped") or []
    if skipped:
        items = "".join(f"<li>{esc(s)}</li>" for s in skipped)
        parts.append(f"<h3>Skipped</h3><ul>{items}</ul>")
    return "".join(parts)


def _verdict(
    ours: Mapping[str, Any], base: Mapping[str, Any], metric: str, names: Mapping[str, str]
) -> str:
    """``deepfuse macro-F1 0.9100 vs best baseline 0.8900 (TF-IDF + LinearSVC)``."""
    label = names.get(metric, metric)
    best = next((m for m in base.get("models") or [] if m.get("name") == base.get("best")), None)
    mine = ours.get(metric)
    if best is None:
        return f"No baseline could be fitted (see below); deepfuse {label} {num(mine)}."
    theirs = best.get(metric)
    line = f"deepfuse {label} {num(mine)} vs best baseline {num(theirs)} ({best.get('name')})"
    if isinstance(mine, int | float) and isinstance(theirs, int | float):
        gap = mine - theirs
        line += ": deepfuse is ahead" if gap > 0 else (": a tie" if gap == 0 else ": below it")
        line += f" by {abs(gap):.4f}" if gap else ""
    return line


def never_predicted(ev: Mapping[str, Any]) -> list[Any]:
    """Labels with test rows that the model never predicts (evaluation.json's
    ``never_predicted``, or from its confusion matrix for a run written before it existed)."""
    if "never_predicted" in ev:
        return list(ev.get("never_predicted") or [])
    cm = ev.get("confusion_matrix") or {}
    counts, labels = cm.get("counts"), cm.get("labels")
    if not counts or not labels:
        return []
    columns = [sum(row[j] for row in counts) for j in range(len(labels))]
    return [lab for lab, row, col in zip(labels, counts, columns) if sum(row) > 0 and col == 0]


def imbalance_ratio(ev: Mapping[str, Any]) -> float | None:
    """Largest / smallest class count on the test split (classes with rows), or None."""
    from deepfuse.models.auto_defaults import imbalance_ratio as ratio_of_counts

    support = [r.get("support") or 0 for r in ev.get("per_class") or []]
    # one rule for "largest over smallest present class", shared with training's detection
    return ratio_of_counts(support) if sum(s > 0 for s in support) > 1 else None


def per_class_section(f: RunFacts) -> str:
    """The "Per class" section: warnings, then recall per class, worst first."""
    ev = f.evaluation
    per = ev.get("per_class") or []
    if f.task == "regression" or not per:
        task = "" if f.supervised else f" (task: {f.task})"
        return not_applicable(f"No classes: this run is not a classification{task}.")
    parts = []
    never = never_predicted(ev)
    if never:
        shown = ", ".join(str(c) for c in never[:20]) + (", ..." if len(never) > 20 else "")
        parts.append(
            _warn(
                f"{len(never)} of {len(per)} classes are never predicted on the test split: {shown}"
            )
        )
    ratio = imbalance_ratio(ev)
    if ratio is not None and ratio >= IMBALANCE_RATIO:
        big = max(per, key=lambda r: r.get("support") or 0)
        small = min((r for r in per if (r.get("support") or 0) > 0), key=lambda r: r["support"])
        parts.append(
            _warn(
                f"The classes are strongly imbalanced: the largest ({big['label']}, "
                f"{big['support']:,} test rows) is {ratio:,.0f}x the smallest ({small['label']}, "
                f"{small['support']:,}). Accuracy says little here: read macro-F1 and the "
                "recall of each class."
            )
        )
    ordered = sorted(per, key=lambda r: (r.get("recall") or 0.0, -(r.get("support") or 0)))
    rows = [
        [str(r.get("label")), r.get("support"), r.get("recall"), r.get("precision"), r.get("f1")]
        for r in ordered[:MAX_CLASS_ROWS]
    ]
    more = len(per) - len(rows)
    note = f" ({more} more classes in Evaluation)" if more > 0 else ""
    parts.append(f"<p class='muted'>Test split, worst recall first{esc(note)}.</p>")
    parts.append(scroll(table(["class", "support", "recall", "precision", "f1"], rows)))
    return "".join(parts)
