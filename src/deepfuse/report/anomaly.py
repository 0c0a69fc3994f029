"""The "Anomaly detection" section of a ``task: anomaly`` run's report.

Reads ``evaluation.json`` (:mod:`deepfuse.evaluation.anomaly`): the headline metrics at the
threshold, how the threshold was chosen, the score histograms of normal and anomalous test rows
with the threshold line, and the ROC / precision-recall curves with the threshold's operating
point. Other runs get a one-line "not applicable", as every section that does not apply.

Example:
    >>> fig = plot_score_histograms({"edges": [0.0, 1.0, 2.0], "normal": [5, 1],
    ...                              "anomaly": [0, 3]}, threshold=1.5)
    >>> len(fig.axes)
    1
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from deepfuse.report.context import RunFacts, guarded
from deepfuse.report.figures import _pyplot, png_bytes
from deepfuse.report.html import figure, grid, kv_table, metric_cards, not_applicable, table

__all__ = ["anomaly_section", "plot_anomaly_curves", "plot_score_histograms"]


def plot_score_histograms(hist: Mapping[str, Any], *, threshold: float | None) -> Any:
    """Normal and anomalous rows per score bin (shared edges, log counts) and the threshold."""
    plt = _pyplot()
    edges = [float(e) for e in hist["edges"]]
    centers = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    width = (edges[-1] - edges[0]) / max(len(centers), 1)
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    ax.bar(centers, hist["normal"], width=width, alpha=0.6, label="normal", color="#2f6fde")
    ax.bar(centers, hist["anomaly"], width=width, alpha=0.6, label="anomaly", color="#d64545")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1.2, label="threshold")
    if max([*hist["normal"], *hist["anomaly"], 0]) > 50:
        ax.set_yscale("log")  # a few anomalies beside thousands of normal rows stay visible
    ax.set_xlabel("anomaly score (higher = less normal)")
    ax.set_ylabel("test rows")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def plot_anomaly_curves(curves: Mapping[str, Any], metrics: Mapping[str, Any]) -> Any:
    """ROC and precision-recall curves side by side, the threshold's point marked on both."""
    plt = _pyplot()
    roc, pr = curves["roc"]["anomaly"], curves["pr"]["anomaly"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.4))
    left.plot(roc["fpr"], roc["tpr"], color="#2f6fde")
    left.plot([0, 1], [0, 1], color="#bcccdc", linestyle=":")
    left.scatter([metrics["fpr"]], [metrics["recall"]], color="black", zorder=3, s=18)
    left.set(xlabel="false-positive rate", ylabel="recall (true-positive rate)",
             title=f"ROC (AUC {metrics['roc_auc']:.3f})")  # fmt: skip
    right.plot(pr["recall"], pr["precision"], color="#d64545")
    right.scatter([metrics["recall"]], [metrics["precision"]], color="black", zorder=3, s=18)
    right.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02),
              title=f"precision-recall (AP {metrics['pr_auc']:.3f})")  # fmt: skip
    for ax in (left, right):
        ax.title.set_fontsize(10)
    fig.tight_layout()
    return fig


def anomaly_section(f: RunFacts) -> str:
    """The section's HTML (``not applicable`` for other tasks)."""
    if f.task != "anomaly":
        return not_applicable("Not an anomaly-detection run (task: anomaly).")
    ev = f.evaluation
    if not ev or not isinstance(ev.get("metrics"), Mapping):
        return not_applicable("No evaluation.json in this run (run 'deepfuse evaluate RUN').")
    m, facts = ev["metrics"], ev.get("facts") or {}
    cards = metric_cards([(k, m.get(k)) for k in ("roc_auc", "pr_auc", "precision", "recall")])
    about = kv_table([
        ("normal classes", ", ".join(str(c) for c in facts.get("normal") or []) or None),
        ("threshold", m.get("threshold")),
        ("how it was chosen", facts.get("threshold_rule")),
        ("test rows (anomalies)", f"{m.get('rows', 0):,} ({m.get('anomalies', 0):,})"),
    ])  # fmt: skip
    keys = ("roc_auc", "pr_auc", "precision", "recall", "f1", "fpr", "tp", "fp", "tn", "fn")
    metrics = table(["metric (test rows)", "value"], [(k, m.get(k)) for k in keys])
    hist, curves = ev.get("histograms"), ev.get("curves") or {}
    figs = []
    if hist:
        figs.append(guarded("Score histograms", lambda: figure(
            png_bytes(plot_score_histograms(hist, threshold=m.get("threshold"))),
            "anomaly scores of the test rows; dashed: the threshold",
        )))  # fmt: skip
    if curves.get("roc") and m.get("roc_auc") is not None:
        figs.append(guarded("ROC and precision-recall curves", lambda: figure(
            png_bytes(plot_anomaly_curves(curves, m)),
            "test rows; the dot is the threshold's operating point",
        )))  # fmt: skip
    return cards + grid(about, metrics) + grid(*figs)
