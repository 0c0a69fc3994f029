"""A metric owns its state: state_dict / load_state_dict round-trip, merge of two workers' halves.

For every built-in metric: one metric fed all rows, two metrics fed one half each then merged,
and a fresh metric loaded with the saved state all compute the same value, and that value equals
scikit-learn's on the same rows.
"""

from __future__ import annotations

import pytest
import torch
from sklearn import metrics as skm

import deepfuse.metrics as M
from deepfuse._utils.errors import DataError

N = 301
g = torch.Generator().manual_seed(0)
TARGET = torch.randint(0, 3, (N,), generator=g)
LOGITS = torch.randn(N, 3, generator=g)
LOGITS[torch.arange(N), TARGET] += 1.0  # better than chance
BIN_TARGET = torch.randint(0, 2, (N,), generator=g)
BIN_LOGITS = torch.randn(N, generator=g) + (BIN_TARGET.float() - 0.5)
REG_TARGET = torch.randn(N, generator=g) * 3 + 5  # a large mean: the R² merge must be stable
REG_OUT = REG_TARGET + torch.randn(N, generator=g)
PRED = LOGITS.argmax(1)
Y64, P64 = REG_TARGET.double().numpy(), REG_OUT.double().numpy()  # sklearn sums in float64 too


def _probs(logits: torch.Tensor) -> torch.Tensor:
    return logits.double().softmax(1)


# name, metric factory, (outputs, target), scikit-learn reference
CASES = {
    "accuracy": (M.Accuracy, LOGITS, TARGET, skm.accuracy_score(TARGET, PRED)),
    "binary_accuracy": (
        M.Accuracy,
        BIN_LOGITS,
        BIN_TARGET,
        skm.accuracy_score(BIN_TARGET, (BIN_LOGITS > 0).long()),
    ),
    "top_k_accuracy": (
        lambda: M.TopKAccuracy(k=2),
        LOGITS,
        TARGET,
        skm.top_k_accuracy_score(TARGET, LOGITS, k=2),
    ),
    "precision": (
        M.Precision,
        LOGITS,
        TARGET,
        skm.precision_score(TARGET, PRED, average="macro"),
    ),
    "recall": (lambda: M.Recall(average="weighted"), LOGITS, TARGET, None),
    "f1": (M.F1Score, LOGITS, TARGET, skm.f1_score(TARGET, PRED, average="macro")),
    "roc_auc": (
        M.RocAuc,
        LOGITS,
        TARGET,
        skm.roc_auc_score(TARGET, _probs(LOGITS), multi_class="ovr"),
    ),
    "binary_roc_auc": (M.RocAuc, BIN_LOGITS, BIN_TARGET, skm.roc_auc_score(BIN_TARGET, BIN_LOGITS)),
    "mse": (M.MeanSquaredError, REG_OUT, REG_TARGET, skm.mean_squared_error(Y64, P64)),
    "mae": (M.MeanAbsoluteError, REG_OUT, REG_TARGET, skm.mean_absolute_error(Y64, P64)),
    "r2": (M.R2Score, REG_OUT, REG_TARGET, skm.r2_score(Y64, P64)),
    "mean": (
        lambda: M.MeanMetric(lambda o, t: (o.double() - t).abs().mean(), name="mean_err"),
        REG_OUT,
        REG_TARGET,
        skm.mean_absolute_error(Y64, P64),
    ),
}
CASES["recall"] = (*CASES["recall"][:3], skm.recall_score(TARGET, PRED, average="weighted"))


def _fed(factory, outputs, target, rows) -> M.Metric:
    metric = factory()
    for chunk in torch.tensor_split(rows, 3):  # a few uneven batches per worker
        metric.update(outputs[chunk], target[chunk])
    return metric


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_halves_merged_equal_all_rows_and_sklearn(case):
    factory, outputs, target, reference = CASES[case]
    rows = torch.randperm(N, generator=torch.Generator().manual_seed(1))
    whole = _fed(factory, outputs, target, rows)
    a = _fed(factory, outputs, target, rows[:120])
    b = _fed(factory, outputs, target, rows[120:])
    a.merge(b)  # a metric
    c = _fed(factory, outputs, target, rows[:120])
    c.merge(_fed(factory, outputs, target, rows[120:]).state_dict())  # or its state
    assert a.compute() == pytest.approx(whole.compute(), rel=1e-12)
    assert c.compute() == pytest.approx(whole.compute(), rel=1e-12)
    assert whole.compute() == pytest.approx(reference, rel=1e-9)


@pytest.mark.parametrize("case", sorted(CASES))
def test_state_dict_round_trips(case):
    factory, outputs, target, _ = CASES[case]
    metric = _fed(factory, outputs, target, torch.arange(200))
    fresh = factory()
    fresh.load_state_dict(metric.state_dict())
    assert fresh.compute() == metric.compute()
    # both continue identically: the state is the whole running state
    metric.update(outputs[200:], target[200:])
    fresh.update(outputs[200:], target[200:])
    assert fresh.compute() == metric.compute()


def test_merge_with_a_worker_that_saw_no_batch():
    a, empty = M.F1Score(), M.F1Score()
    a.update(LOGITS[:50], TARGET[:50])
    want = a.compute()
    empty.merge(a)  # the empty one learns the output shape from the other
    a.merge(M.F1Score())
    assert a.compute() == want and empty.compute() == want


def test_confusion_matrix_merges_counts():
    a, b, whole = M.ConfusionMatrix(), M.ConfusionMatrix(), M.ConfusionMatrix()
    a.update(LOGITS[:100], TARGET[:100])
    b.update(LOGITS[100:], TARGET[100:])
    whole.update(LOGITS, TARGET)
    a.merge(b)
    assert torch.equal(a.compute(), whole.compute())
    assert torch.equal(whole.compute(), torch.as_tensor(skm.confusion_matrix(TARGET, PRED)))


def test_loading_a_foreign_state_is_a_clear_error():
    acc = M.Accuracy()
    with pytest.raises(DataError, match="Cannot load this state into metric 'accuracy'"):
        acc.load_state_dict(M.R2Score().state_dict())
    with pytest.raises(DataError, match="Cannot merge"):
        acc.merge(M.R2Score())
    a, b = M.Accuracy(), M.Accuracy()
    a.update(LOGITS[:5], TARGET[:5])
    b.update(BIN_LOGITS[:5], BIN_TARGET[:5])
    with pytest.raises(DataError, match="binary"):
        a.merge(b)


def test_metric_set_state_round_trip_and_merge():
    names = ["accuracy", "f1", "auc"]
    whole, a, b = M.MetricSet(names), M.MetricSet(names), M.MetricSet(names)
    whole.update(LOGITS, TARGET)
    a.update(LOGITS[:100], TARGET[:100])
    b.update(LOGITS[100:], TARGET[100:])
    a.merge(b)
    assert a.compute() == pytest.approx(whole.compute(), rel=1e-12)
    fresh = M.MetricSet(names)
    fresh.load_state_dict(whole.state_dict())
    assert fresh.compute() == whole.compute()
    with pytest.raises(DataError, match="Compile the model with the same metrics"):
        M.MetricSet(["accuracy"]).load_state_dict(whole.state_dict())


def test_user_subclass_state_comes_from_reset():
    class Count(M.Metric):
        registry_name = "count"

        def _update(self, outputs, target):
            self._rows += outputs.shape[0]

        def compute(self):
            return self._rows

        def reset(self):
            self._rows = 0

    a, b = Count(), Count()
    a.update(LOGITS[:3], TARGET[:3])
    b.update(LOGITS[:4], TARGET[:4])
    assert a.state_dict() == {"_rows": 3}
    a.merge(b)
    assert a.compute() == 7
