"""Anomaly thresholds and metrics (deepfuse.evaluation.anomaly) against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

from deepfuse._utils.errors import DataError
from deepfuse.evaluation.anomaly import (
    anomaly_evaluation,
    anomaly_metrics,
    contamination_threshold,
    fpr_threshold,
    score_histograms,
)


def scored(seed: int, n: int = 2000, rate: float = 0.05, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    s = rng.normal(0, 1, n) + 1.5 * y
    if ties:
        s = np.round(s, 1)  # many tied scores
    return s, y


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_metrics_match_sklearn(seed, ties):
    s, y = scored(seed, ties=ties)
    threshold = float(np.quantile(s, 0.9))
    m = anomaly_metrics(s, y, threshold)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    p, r, f, _ = precision_recall_fscore_support(
        y, (s >= threshold).astype(int), average="binary", zero_division=0
    )
    assert (m["precision"], m["recall"], m["f1"]) == pytest.approx((p, r, f), abs=1e-12)
    normal = y == 0
    assert m["fpr"] == pytest.approx(float((s[normal] >= threshold).mean()))
    assert m["tp"] + m["fp"] + m["tn"] + m["fn"] == m["rows"] == len(y)
    assert m["anomalies"] == int(y.sum())


@pytest.mark.parametrize("target", [0.0, 0.01, 0.05, 0.2, 0.5])
def test_fpr_threshold_flags_at_most_the_target_share(target):
    rng = np.random.default_rng(3)
    normal = rng.normal(size=997)
    t = fpr_threshold(normal, target)
    flagged = (normal >= t).mean()
    assert flagged <= target + 1e-12
    # and it is the smallest such threshold: one score lower would flag one more row
    below = np.sort(normal)[np.sort(normal) < t]
    if len(below):
        assert (normal >= below[-1]).mean() > target


def test_fpr_threshold_with_ties_and_without_rows():
    t = fpr_threshold([1.0, 1.0, 1.0, 2.0], 0.5)  # 2 false positives allowed, ties move together
    assert 1.0 < t <= 2.0
    with pytest.raises(DataError, match="validation_split"):
        fpr_threshold([], 0.01)
    with pytest.raises(DataError, match="not finite"):
        fpr_threshold([1.0, float("nan")], 0.01)


def test_contamination_threshold_is_the_quantile():
    s = np.random.default_rng(4).exponential(size=10_000)
    t = contamination_threshold(s, 0.02)
    assert (s >= t).mean() == pytest.approx(0.02, abs=1e-3)


def test_one_class_only_leaves_the_areas_undefined():
    m = anomaly_metrics([0.1, 0.5, 0.9], [0, 0, 0], 0.5)
    assert m["roc_auc"] is None and m["pr_auc"] is None and m["fpr"] == pytest.approx(2 / 3)
    ev = anomaly_evaluation([0.1, 0.5, 0.9], [0, 0, 0], 0.5)
    assert ev.curves == {} and ev.notes and "roc_auc" not in ev.headline()


def test_evaluation_holds_bounded_curves_histograms_and_counts():
    s, y = scored(5, n=5000)
    ev = anomaly_evaluation(s, y, 1.0, facts={"normal": [0]})
    d = ev.to_dict()
    roc = d["curves"]["roc"]["anomaly"]
    assert len(roc["fpr"]) <= 200 and roc["fpr"][0] == 0.0 and roc["tpr"][-1] == 1.0
    assert len(d["curves"]["pr"]["anomaly"]["recall"]) <= 200
    h = d["histograms"]
    assert sum(h["normal"]) == int((y == 0).sum()) and sum(h["anomaly"]) == int(y.sum())
    assert len(h["edges"]) == len(h["normal"]) + 1
    (tn, fp), (fn, tp) = d["confusion_matrix"]["counts"]
    assert (tn, fp, fn, tp) == tuple(d["metrics"][k] for k in ("tn", "fp", "fn", "tp"))
    assert d["facts"] == {"normal": [0]} and d["task"] == "anomaly"
    assert set(ev.headline()) == {
        "roc_auc",
        "pr_auc",
        "precision",
        "recall",
        "f1",
        "fpr",
        "threshold",
    }


def test_histograms_fold_extremes_into_the_last_bin():
    s = np.r_[np.linspace(0, 1, 999), 1e6]
    h = score_histograms(s, np.zeros(1000, int), bins=10)
    assert h["edges"][-1] < 10 and sum(h["normal"]) == 1000
