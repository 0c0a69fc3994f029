"""Every metric of deepfuse.evaluation equals scikit-learn's on the same predictions."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

sk = pytest.importorskip("sklearn.metrics")
from sklearn.calibration import calibration_curve  # noqa: E402

from deepfuse.evaluation import UndefinedMetricWarning, evaluate_predictions  # noqa: E402
from deepfuse.evaluation.curves import (  # noqa: E402
    precision_recall_curve,
    roc_curve,
)


def _binary(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    # Informative but imperfect scores, with ties (rounded) to exercise threshold grouping.
    p = np.clip(np.round(0.35 * y + rng.uniform(0, 0.65, n), 2), 0, 1)
    return y, p


def _multiclass(n=500, c=4, seed=1):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + 1.5 * np.eye(c)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, p


def test_binary_metrics_equal_sklearn():
    y, p = _binary()
    r = evaluate_predictions(y, p, "binary", ["neg", "pos"])
    pred = (p > 0.5).astype(int)  # argmax of [1-p, p]: ties at 0.5 go to class 0
    m = r.metrics
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, pred), abs=1e-12)
    assert m["precision"] == pytest.approx(sk.precision_score(y, pred))
    assert m["recall"] == pytest.approx(sk.recall_score(y, pred))
    assert m["f1"] == pytest.approx(sk.f1_score(y, pred))
    for avg in ("macro", "weighted"):
        prec, rec, f1, _ = sk.precision_recall_fscore_support(y, pred, average=avg)
        assert (m[f"precision_{avg}"], m[f"recall_{avg}"], m[f"f1_{avg}"]) == pytest.approx(
            (prec, rec, f1)
        )
    prec, rec, f1, sup = sk.precision_recall_fscore_support(y, pred)
    assert [c["precision"] for c in r.per_class] == pytest.approx(prec)
    assert [c["recall"] for c in r.per_class] == pytest.approx(rec)
    assert [c["f1"] for c in r.per_class] == pytest.approx(f1)
    assert [c["support"] for c in r.per_class] == sup.tolist()
    assert m["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p), abs=1e-12)
    assert m["pr_auc"] == pytest.approx(sk.average_precision_score(y, p), abs=1e-12)
    assert r.confusion_matrix["counts"] == sk.confusion_matrix(y, pred).tolist()
    assert np.allclose(
        r.confusion_matrix["normalized"], sk.confusion_matrix(y, pred, normalize="true")
    )
    # The reliability curve: sklearn returns the non-empty bins only.
    frac, mean = calibration_curve(y, p, n_bins=10, strategy="uniform")
    cal = r.calibration
    assert [v for v in cal["fraction_positive"] if v is not None] == pytest.approx(frac)
    assert [v for v in cal["mean_predicted"] if v is not None] == pytest.approx(mean)
    counts = np.array(cal["count"])
    assert counts.sum() == len(y)
    gaps = np.abs(frac - mean)
    assert m["ece"] == pytest.approx(np.sum(gaps * counts[counts > 0]) / len(y))
    assert m["mce"] == pytest.approx(gaps.max())


def test_curves_equal_sklearn_point_by_point():
    y, p = _binary(seed=3)
    fpr, tpr, thr = roc_curve(y == 1, p)
    s_fpr, s_tpr, s_thr = sk.roc_curve(y, p, drop_intermediate=False)
    assert np.allclose(fpr, s_fpr) and np.allclose(tpr, s_tpr) and np.array_equal(thr, s_thr)
    prec, rec, thr = precision_recall_curve(y == 1, p)
    s_prec, s_rec, s_thr = sk.precision_recall_curve(y, p)
    assert np.allclose(prec, s_prec) and np.allclose(rec, s_rec) and np.array_equal(thr, s_thr)
    # Stored curves are downsampled to <= 200 points but keep both ends.
    r = evaluate_predictions(np.r_[y, y, y], np.r_[p, p * 0.9, p * 0.8], "binary")
    roc = r.curves["roc"]["1"]
    assert 2 < len(roc["fpr"]) <= 200
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    pr = r.curves["pr"]["1"]
    assert len(pr["recall"]) <= 200 and (pr["precision"][-1], pr["recall"][-1]) == (1, 0)


def test_multiclass_metrics_equal_sklearn():
    y, p = _multiclass()
    r = evaluate_predictions(y, p, "multiclass", list("abcd"))
    pred = p.argmax(1)
    m = r.metrics
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, pred))
    for avg in ("macro", "weighted"):
        prec, rec, f1, _ = sk.precision_recall_fscore_support(y, pred, average=avg)
        assert (m[f"precision_{avg}"], m[f"recall_{avg}"], m[f"f1_{avg}"]) == pytest.approx(
            (prec, rec, f1)
        )
        auc = sk.roc_auc_score(y, p, multi_class="ovr", average=avg)
        assert m[f"roc_auc_{avg}"] == pytest.approx(auc, abs=1e-12)
        ap = sk.average_precision_score(np.eye(4)[y], p, average=avg)
        assert m[f"pr_auc_{avg}"] == pytest.approx(ap, abs=1e-12)
    ovr = sk.roc_auc_score(np.eye(4)[y], p, average=None)
    assert [c["roc_auc"] for c in r.per_class] == pytest.approx(ovr)
    assert r.confusion_matrix["counts"] == sk.confusion_matrix(y, pred).tolist()
    # Multiclass calibration is top-label: confidence vs. correctness.
    frac, mean = calibration_curve(pred == y, p.max(1), n_bins=10)
    assert [v for v in r.calibration["fraction_positive"] if v is not None] == pytest.approx(frac)
    assert [v for v in r.calibration["mean_predicted"] if v is not None] == pytest.approx(mean)


def test_absent_class_follows_sklearn_zero_division_and_auc_is_nan():
    y, p = _multiclass(n=300, c=4, seed=2)
    keep = y != 3  # class 3 never occurs in y_true, but is sometimes predicted
    y, p = y[keep], p[keep]
    pred = p.argmax(1)
    assert (pred == 3).any()
    with pytest.warns(UndefinedMetricWarning, match="Recall"):
        r = evaluate_predictions(y, p, "multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for avg in ("macro", "weighted", None):
            prec, rec, f1, sup = sk.precision_recall_fscore_support(
                y, pred, labels=[0, 1, 2, 3], average=avg
            )
            if avg is None:
                assert [c["recall"] for c in r.per_class] == pytest.approx(rec)
                assert [c["f1"] for c in r.per_class] == pytest.approx(f1)
                assert [c["support"] for c in r.per_class] == sup.tolist()
            else:
                got = (
                    r.metrics[f"precision_{avg}"],
                    r.metrics[f"recall_{avg}"],
                    r.metrics[f"f1_{avg}"],
                )
                assert got == pytest.approx((prec, rec, f1))
        ap = sk.average_precision_score(np.eye(4)[y], p, average=None)
    assert [c["pr_auc"] for c in r.per_class] == pytest.approx(ap)  # absent class: 0.0
    assert np.isnan(r.per_class[3]["roc_auc"]) and any("class 3" in n for n in r.notes)
    # Macro ROC-AUC over the classes where it is defined.
    ovr = [sk.roc_auc_score(y == k, p[:, k]) for k in range(3)]
    assert r.metrics["roc_auc_macro"] == pytest.approx(np.mean(ovr))
    assert r.metrics["roc_auc_weighted"] == pytest.approx(
        np.average(ovr, weights=np.bincount(y, minlength=3))
    )
    json.dumps(r.to_dict(), allow_nan=False)  # NaN becomes null: strict JSON


def test_single_class_binary_auc_is_nan_with_reason():
    y = np.ones(20, dtype=int)
    p = np.linspace(0.05, 0.95, 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = evaluate_predictions(y, p, "binary")
    assert np.isnan(r.metrics["roc_auc"])
    assert any("ROC-AUC" in n and "only" in n for n in r.notes)
    assert r.metrics["pr_auc"] == pytest.approx(sk.average_precision_score(y, p))
    assert r.metrics["accuracy"] == pytest.approx(np.mean(p > 0.5))


def test_labels_only_and_string_labels():
    y = np.array(["cat", "dog", "dog", "bird", "cat", "dog"])
    pred = np.array([0, 1, 2, 2, 0, 1])  # indices into classes
    classes = ["cat", "dog", "bird"]
    r = evaluate_predictions(y, pred, "multiclass", classes)
    y_idx = np.array([classes.index(v) for v in y])
    assert r.metrics["f1_macro"] == pytest.approx(sk.f1_score(y_idx, pred, average="macro"))
    assert "roc_auc_macro" not in r.metrics and r.calibration is None


def test_regression_equals_sklearn():
    rng = np.random.default_rng(4)
    y = rng.normal(3, 2, 300)
    pred = y + rng.normal(0, 0.7, 300)
    r = evaluate_predictions(y, pred.reshape(-1, 1), "regression")
    m = r.metrics
    assert m["mse"] == pytest.approx(sk.mean_squared_error(y, pred))
    assert m["rmse"] == pytest.approx(sk.root_mean_squared_error(y, pred))
    assert m["mae"] == pytest.approx(sk.mean_absolute_error(y, pred))
    assert m["r2"] == pytest.approx(sk.r2_score(y, pred))
    res = r.residuals
    assert res["mean"] == pytest.approx(np.mean(y - pred))
    assert res["quantiles"]["0.5"] == pytest.approx(np.median(y - pred))
    assert len(res["sample"]["residual"]) == 200
    sample = res["sample"]  # real (y, pred) pairs of the data, residual = y - pred
    assert set(sample["y_true"]) <= set(y.tolist())
    assert np.allclose(np.subtract(sample["y_true"], sample["y_pred"]), sample["residual"])
    # Several outputs: sklearn's uniform average; a constant target: r2_score's convention.
    y2, p2 = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    assert evaluate_predictions(y2, p2, "regression").metrics["r2"] == pytest.approx(
        sk.r2_score(y2, p2)
    )
    const = np.full(10, 2.0)
    assert evaluate_predictions(const, const + 1, "regression").metrics["r2"] == sk.r2_score(
        const, const + 1
    )
