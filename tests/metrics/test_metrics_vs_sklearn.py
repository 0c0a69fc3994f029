"""Every metric equals scikit-learn on the same predictions, fed in uneven batches."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

import deepfuse.metrics as M

SEEDS = [0, 1, 2]
CUTS = [0, 7, 8, 50, 123, 200, 301]  # uneven batch sizes 7, 1, 42, 73, 77, 101


def batches(outputs: torch.Tensor, target: torch.Tensor):
    """Split into uneven consecutive batches (sizes 7, 1, 42, 73, 77, 101)."""
    for a, b in itertools.pairwise(CUTS):
        yield outputs[a:b], target[a:b]


def stream(metric: M.Metric, outputs: torch.Tensor, target: torch.Tensor):
    for o, t in batches(outputs, target):
        metric.update(o, t)
    return metric.compute()


def multiclass_data(seed: int, classes: int = 4, n: int = 301):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, classes, (n,), generator=g)
    logits = torch.randn(n, classes, generator=g)
    logits[torch.arange(n), target] += 1.0  # better than chance, not perfect
    return logits, target


def binary_data(seed: int, n: int = 301):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, 2, (n,), generator=g)
    logits = torch.randn(n, generator=g) + (target.float() - 0.5)
    return logits, target


@pytest.mark.parametrize("seed", SEEDS)
def test_accuracy_multiclass_and_binary(seed):
    logits, y = multiclass_data(seed)
    assert stream(M.get("accuracy"), logits, y) == pytest.approx(
        skm.accuracy_score(y, logits.argmax(1)), abs=1e-12
    )
    blog, by = binary_data(seed)
    expected = skm.accuracy_score(by, (blog > 0).long())
    assert stream(M.get("binary_accuracy"), blog, by) == pytest.approx(expected, abs=1e-12)
    # (N, 1) outputs, float (N, 1) targets
    assert stream(M.Accuracy(), blog[:, None], by[:, None].float()) == pytest.approx(expected)


def test_accuracy_threshold_and_probabilities():
    _, by = binary_data(3)
    probs = torch.rand(len(by), generator=torch.Generator().manual_seed(3))
    expected = skm.accuracy_score(by, (probs > 0.7).long())
    got = stream(M.Accuracy(from_logits=False, threshold=0.7), probs, by)
    assert got == pytest.approx(expected)
    logit_got = stream(M.Accuracy(threshold=0.7), torch.logit(probs.double()), by)
    assert logit_got == pytest.approx(expected)


def test_accuracy_one_hot_targets():
    logits, y = multiclass_data(4)
    one_hot = torch.nn.functional.one_hot(y, 4).float()
    assert stream(M.get("categorical_accuracy"), logits, one_hot) == pytest.approx(
        skm.accuracy_score(y, logits.argmax(1))
    )


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("seed", SEEDS)
def test_top_k_accuracy(seed, k):
    logits, y = multiclass_data(seed, classes=6)
    expected = skm.top_k_accuracy_score(y, logits.softmax(1), k=k, labels=list(range(6)))
    assert stream(M.get("top_k_accuracy", k=k), logits, y) == pytest.approx(expected)


@pytest.mark.parametrize(
    "metric,fn",
    [("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)],
)
@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
@pytest.mark.parametrize("seed", SEEDS)
def test_precision_recall_f1_multiclass(metric, fn, average, seed):
    logits, y = multiclass_data(seed, classes=5)
    expected = fn(y, logits.argmax(1), average=average, zero_division=0)
    assert stream(M.get(metric, average=average), logits, y) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "metric,fn",
    [("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)],
)
def test_precision_recall_f1_absent_class_matches_sklearn_labels(metric, fn):
    # Class 4 never appears in targets nor predictions: sklearn's macro leaves it out.
    logits, y = multiclass_data(5, classes=5)
    logits[:, 4] = -100.0
    y = y.clamp(max=3)
    for average in ("macro", "weighted", "micro"):
        expected = fn(y, logits.argmax(1), average=average, zero_division=0)
        assert stream(M.get(metric, average=average), logits, y) == pytest.approx(expected)
    per_class = stream(M.get(metric, average="none"), logits, y)
    assert per_class.shape == (5,)
    np.testing.assert_allclose(
        per_class[:4].numpy(), fn(y, logits.argmax(1), average=None, zero_division=0)
    )


@pytest.mark.parametrize(
    "metric,fn",
    [("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_precision_recall_f1_binary(metric, fn, seed):
    logits, y = binary_data(seed)
    pred = (logits > 0).long()
    assert stream(M.get(metric), logits, y) == pytest.approx(fn(y, pred))  # auto → binary
    for average in ("macro", "micro", "weighted"):
        assert stream(M.get(metric, average=average), logits[:, None], y) == pytest.approx(
            fn(y, pred, average=average)
        )
    assert stream(M.get(metric, pos_label=0), logits, y) == pytest.approx(fn(y, pred, pos_label=0))


def test_f1_zero_division():
    m = M.F1Score()
    m.update(torch.tensor([-5.0, -5.0]), torch.tensor([0, 0]))
    assert m.compute() == skm.f1_score([0, 0], [0, 0], zero_division=0) == 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_roc_auc_binary(seed):
    logits, y = binary_data(seed)
    expected = skm.roc_auc_score(y, logits)
    assert stream(M.get("roc_auc"), logits, y) == pytest.approx(expected, abs=1e-12)
    assert stream(M.get("auc"), logits[:, None], y[:, None]) == pytest.approx(expected, abs=1e-12)


def test_roc_auc_binary_with_ties():
    g = torch.Generator().manual_seed(9)
    scores = torch.randint(0, 5, (301,), generator=g).float()  # heavy ties
    y = torch.randint(0, 2, (301,), generator=g)
    assert stream(M.RocAuc(), scores, y) == pytest.approx(skm.roc_auc_score(y, scores), abs=1e-12)


@pytest.mark.parametrize("average", ["macro", "weighted"])
@pytest.mark.parametrize("seed", SEEDS)
def test_roc_auc_multiclass_ovr(seed, average):
    logits, y = multiclass_data(seed, classes=4)
    probs = logits.double().softmax(1).numpy()
    expected = skm.roc_auc_score(y, probs, multi_class="ovr", average=average)
    got = stream(M.get("roc_auc", average=average), logits, y)
    assert got == pytest.approx(expected, abs=1e-12)
    got_probs = stream(M.RocAuc(average=average, from_logits=False), torch.from_numpy(probs), y)
    assert got_probs == pytest.approx(expected, abs=1e-12)


def test_roc_auc_single_class_is_nan():
    m = M.RocAuc()
    m.update(torch.tensor([0.1, 0.2]), torch.tensor([1, 1]))
    assert np.isnan(m.compute())


@pytest.mark.parametrize("seed", SEEDS)
def test_confusion_matrix(seed):
    logits, y = multiclass_data(seed, classes=4)
    expected = skm.confusion_matrix(y, logits.argmax(1), labels=list(range(4)))
    got = stream(M.get("confusion_matrix"), logits, y)
    assert got.dtype == torch.int64
    np.testing.assert_array_equal(got.numpy(), expected)
    assert stream(M.ConfusionMatrix(as_list=True), logits, y) == expected.tolist()
    blog, by = binary_data(seed)
    np.testing.assert_array_equal(
        stream(M.ConfusionMatrix(), blog, by).numpy(), skm.confusion_matrix(by, (blog > 0).long())
    )


def regression_data(seed: int, outputs_k: int | None = None):
    g = torch.Generator().manual_seed(seed)
    shape = (301,) if outputs_k is None else (301, outputs_k)
    y = torch.randn(shape, generator=g) * 3 + 100  # large mean: checks the variance merge
    pred = y + torch.randn(shape, generator=g)
    return pred, y


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "name,fn",
    [("mse", skm.mean_squared_error), ("mae", skm.mean_absolute_error), ("r2", skm.r2_score)],
)
def test_regression_metrics(seed, name, fn):
    pred, y = regression_data(seed)
    expected = fn(y.double(), pred.double())
    assert stream(M.get(name), pred[:, None], y) == pytest.approx(expected, rel=1e-9)
    assert stream(M.get(name), pred, y[:, None]) == pytest.approx(expected, rel=1e-9)
    pred2, y2 = regression_data(seed, outputs_k=3)
    assert stream(M.get(name), pred2, y2) == pytest.approx(
        fn(y2.double(), pred2.double()), rel=1e-9
    )


def test_r2_constant_target_matches_sklearn():
    y = torch.full((10,), 2.0)
    assert stream(M.R2Score(), y.clone(), y) == skm.r2_score(y, y) == 1.0
    assert stream(M.R2Score(), y + 1, y) == skm.r2_score(y, y + 1) == 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_classification_report(seed):
    logits, y = multiclass_data(seed, classes=4)
    logits[:, 3] -= 100  # class 3 only in targets
    expected = skm.classification_report(y, logits.argmax(1), output_dict=True, zero_division=0)
    got = M.classification_report(logits, y)
    assert set(got) == set(expected)
    for key, value in expected.items():
        if isinstance(value, dict):
            for k, v in value.items():
                assert got[key][k] == pytest.approx(v), (key, k)
        else:
            assert got[key] == pytest.approx(value)
