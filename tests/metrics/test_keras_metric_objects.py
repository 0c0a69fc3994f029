"""Keras' metric objects (``keras.metrics.Mean``, ``SparseCategoricalAccuracy``, ...) as custom
training loops use them: ``update_state(y_true, y_pred)``, ``result()``, ``reset_state()``,
compared with scikit-learn and numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

import deepfuse as keras
from deepfuse._utils.errors import UserError

RNG = np.random.default_rng(0)
N = 64
Y_BIN = RNG.integers(0, 2, N)
P_BIN = np.clip(Y_BIN * 0.3 + RNG.uniform(0, 0.7, N), 0, 1).astype(np.float32)  # probabilities
Y_MC = RNG.integers(0, 4, N)
P_MC = RNG.dirichlet(np.ones(4), N).astype(np.float32)


def feed(metric, y_true, y_pred, batches=4):
    """update_state over ``batches`` slices, as a training loop does."""
    for part in np.array_split(np.arange(len(y_true)), batches):
        metric.update_state(y_true[part], y_pred[part])
    return float(metric.result())


def test_names_and_defaults_are_keras():
    m = keras.metrics
    assert m.SparseCategoricalAccuracy().name == "sparse_categorical_accuracy"
    assert m.CategoricalAccuracy().name == "categorical_accuracy"
    assert m.BinaryAccuracy().name == "binary_accuracy"
    assert (
        m.AUC().name == "auc" and m.Precision().name == "precision" and m.Recall().name == "recall"
    )
    assert m.Mean(name="loss").name == "loss"
    # one implementation each: the Keras names build deepfuse's metrics
    assert type(m.SparseCategoricalAccuracy()) is m.Accuracy and type(m.AUC()) is m.RocAuc


def test_accuracies_match_sklearn():
    expected = skm.accuracy_score(Y_MC, P_MC.argmax(1))
    assert feed(keras.metrics.SparseCategoricalAccuracy(), Y_MC, P_MC) == pytest.approx(expected)
    onehot = np.eye(4, dtype=np.float32)[Y_MC]
    assert feed(keras.metrics.CategoricalAccuracy(), onehot, P_MC) == pytest.approx(expected)
    # BinaryAccuracy compares y_pred (probabilities, as the model returns them) with threshold
    for threshold in (0.5, 0.7):
        expected = skm.accuracy_score(Y_BIN, np.greater(P_BIN, threshold))
        got = feed(
            keras.metrics.BinaryAccuracy(threshold=threshold),
            Y_BIN.astype(np.float32)[:, None],
            P_BIN[:, None],
        )
        assert got == pytest.approx(expected)
    top2 = skm.top_k_accuracy_score(Y_MC, P_MC, k=2)
    assert feed(keras.metrics.SparseTopKCategoricalAccuracy(k=2), Y_MC, P_MC) == pytest.approx(top2)


def test_precision_recall_auc_match_sklearn():
    pred = P_BIN > 0.5
    assert feed(keras.metrics.Precision(), Y_BIN, P_BIN) == pytest.approx(
        skm.precision_score(Y_BIN, pred)
    )
    assert feed(keras.metrics.Recall(), Y_BIN, P_BIN) == pytest.approx(
        skm.recall_score(Y_BIN, pred)
    )
    assert feed(keras.metrics.AUC(), Y_BIN, P_BIN) == pytest.approx(skm.roc_auc_score(Y_BIN, P_BIN))
    at_07 = np.greater(P_BIN, 0.7)
    got = feed(keras.metrics.Precision(thresholds=0.7, name="p70", dtype="float32"), Y_BIN, P_BIN)
    assert got == pytest.approx(skm.precision_score(Y_BIN, at_07))
    assert feed(keras.metrics.Recall(thresholds=0.7), Y_BIN, P_BIN) == pytest.approx(
        skm.recall_score(Y_BIN, at_07)
    )
    with pytest.raises(ValueError, match="thresholds"):
        keras.metrics.Precision(thresholds=[0.3, 0.7])


def test_regression_metrics_match_sklearn():
    y, p = RNG.normal(size=N), RNG.normal(size=N)
    assert feed(keras.metrics.MeanSquaredError(), y, p) == pytest.approx(
        skm.mean_squared_error(y, p)
    )
    assert feed(keras.metrics.MeanAbsoluteError(), y, p) == pytest.approx(
        skm.mean_absolute_error(y, p)
    )


def test_mean_and_sum_trackers_match_numpy():
    values = RNG.normal(size=10)
    weights = RNG.uniform(size=10)
    mean, total = keras.metrics.Mean(name="loss"), keras.metrics.Sum()
    for v, w in zip(values, weights, strict=True):
        mean.update_state(
            torch.tensor(v, requires_grad=True) * 1.0, sample_weight=w
        )  # a loss tensor
        total.update_state(v)
    assert float(mean.result()) == pytest.approx(np.average(values, weights=weights))
    assert float(total.result()) == pytest.approx(values.sum())
    batch = keras.metrics.Mean()
    batch.update_state(np.array([[1.0, 2.0], [3.0, 4.0]]))  # every element counts
    assert float(batch.result()) == 2.5
    logs = {mean.name: mean.result()}
    assert isinstance(logs["loss"], torch.Tensor) and logs["loss"].dim() == 0
    assert f"{mean.result():.3f}" == f"{np.average(values, weights=weights):.3f}"
    mean.reset_state()
    assert float(mean.result()) == 0.0  # Keras: 0 before any value


def test_result_reset_state_and_keras_zero_before_data():
    m = keras.metrics.SparseCategoricalAccuracy()
    assert float(m.result()) == 0.0  # Keras' divide-no-nan; deepfuse's compute() says nan
    feed(m, Y_MC, P_MC)
    assert float(m.result()) > 0
    m.reset_state()
    assert float(m.result()) == 0.0
    m.reset_states()  # Keras 2 spelling
    assert m.result().dtype == torch.float32


def test_sample_weight_refused_with_a_clear_message():
    with pytest.raises(UserError, match="does not take sample_weight"):
        keras.metrics.BinaryAccuracy().update_state([1], [0.9], sample_weight=[2.0])
    with pytest.raises(UserError, match="not a compile"):
        keras.metrics.Mean().update(torch.zeros(2), torch.zeros(2))
    with pytest.raises(ValueError, match="ROC"):
        keras.metrics.AUC(curve="PR")


def test_update_state_leaves_the_trainer_path_on_logits():
    # The trainer's update() still reads logits (compiled steps pass them); update_state only
    # switches to probabilities for its own batch.
    m = keras.metrics.BinaryAccuracy()
    m.update_state([1, 0], [0.7, 0.3])  # probabilities: both right
    m.update(torch.tensor([0.4, -0.4]), torch.tensor([1, 0]))  # logits: both right
    assert float(m.result()) == 1.0 and m.from_logits


def test_keras_metric_objects_in_compile():
    keras.utils.set_random_seed(0)
    x = RNG.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy(), keras.metrics.AUC(), keras.metrics.Precision()],
    )
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert {"binary_accuracy", "auc", "precision"} <= set(history.history)
    probs = np.asarray(model.predict(x, verbose=0)).reshape(-1)
    m = keras.metrics.BinaryAccuracy()
    m.update_state(y, probs)
    scores = model.evaluate(x, y, verbose=0)
    assert float(m.result()) == pytest.approx(skm.accuracy_score(y, probs > 0.5))
    assert float(m.result()) == pytest.approx(float(scores[1]))  # same as the compiled metric


class CategoricalTruePositives(keras.metrics.Metric):
    """Written as Keras' "training & evaluation" guide writes a custom metric."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_weight(name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = keras.ops.reshape(keras.ops.argmax(y_pred, axis=1), (-1, 1))
        values = keras.ops.cast(y_true, "int32") == keras.ops.cast(y_pred, "int32")
        values = keras.ops.cast(values, "float32")
        self.true_positives.assign_add(keras.ops.sum(values))

    def result(self):
        return self.true_positives


class WithOwnReset(CategoricalTruePositives):
    def reset_state(self):
        self.true_positives.assign(0.0)


@pytest.mark.parametrize("cls", [CategoricalTruePositives, WithOwnReset])
def test_keras_style_metric_subclass(cls):
    y_true, y_pred = Y_MC[:, None], P_MC
    expected = float((P_MC.argmax(1) == Y_MC).sum())  # the count the guide's metric keeps
    m = cls()
    assert feed(m, y_true, y_pred) == expected
    assert m.compute() == expected and m.state_names() == ["true_positives"]
    state = m.state_dict()
    other = cls()
    other.load_state_dict(state)
    other.merge(m)
    assert float(other.result()) == 2 * expected  # merged workers add
    m.reset_state()
    assert float(m.result()) == 0.0 and float(other.result()) == 2 * expected  # no shared state
    m.update_state(y_true, y_pred)
    m.reset()
    assert float(m.result()) == 0.0
    clone = other.clone()
    assert float(clone.result()) == 0.0 and float(other.result()) == 2 * expected


def test_keras_style_metric_in_compile():
    keras.utils.set_random_seed(0)
    x = RNG.normal(size=(40, 3)).astype(np.float32)
    y = RNG.integers(0, 3, (40, 1))  # (N, 1): the guide's metric compares with (N, 1) argmaxes
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=[CategoricalTruePositives()],
    )
    model.evaluate(x, y, verbose=0)  # one pass, so the count is over the 40 rows
    probs = np.asarray(model.predict(x, verbose=0))
    counted = model.metric_set["categorical_true_positives"].compute()
    assert counted == float((probs.argmax(1) == y[:, 0]).sum())
