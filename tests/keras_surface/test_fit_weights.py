"""Keras' ``fit(class_weight=)``, ``fit(sample_weight=)``, ``validation_data=(x, y, w)`` and
``evaluate(sample_weight=)`` (issue 12): the weighted per-sample loss reduced as Keras'
``sum_over_batch_size``, checked against torch.nn.functional and against numbers printed by real
Keras 3.15.1 (torch backend) for the same weights (``set_weights``) and data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepfuse as keras
from deepfuse._utils.errors import DataError, UserError
from deepfuse.models.weighting import class_weights

# A softmax classifier with fixed weights, the data real Keras was given (numpy default_rng(0)).
_KERNEL = (np.arange(12).reshape(4, 3) / 10 - 0.5).astype("float32")
_BIAS = np.array([0.1, -0.2, 0.05], "float32")
_Y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 2])
_SW = np.linspace(0.5, 2.0, 10).astype("float32")


def _softmax_model() -> tuple[keras.Model, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.set_weights([_KERNEL, _BIAS])
    return model, x


def test_evaluate_sample_weight_matches_real_keras() -> None:
    model, x = _softmax_model()
    # Real Keras: evaluate -> [1.0618715286254883, 0.5]; with sample_weight -> [1.297863245..., 0.5]
    # (the accuracy is unweighted: Keras 3 weights only `weighted_metrics`, not `metrics`).
    plain = model.evaluate(x, _Y, batch_size=4)
    weighted = model.evaluate(x, _Y, sample_weight=_SW, batch_size=4)
    assert plain[0] == pytest.approx(1.0618715286254883, rel=1e-6)
    assert weighted[0] == pytest.approx(1.297863245010376, rel=1e-6)
    assert plain[1] == weighted[1] == 0.5


def test_fit_class_weight_step_matches_real_keras() -> None:
    model, x = _softmax_model()
    # Real Keras: one SGD step (lr 0.01) on the whole batch, class 1 missing from the dict.
    history = model.fit(
        x, _Y, class_weight={0: 1.0, 2: 5.0}, batch_size=10, epochs=1, shuffle=False, verbose=0
    )
    assert history.history["loss"][0] == pytest.approx(2.7081408500671387, rel=1e-6)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel[1], [-0.20028825, -0.10048976, 0.00077801], atol=1e-6)
    np.testing.assert_allclose(bias, [0.09334805, -0.20407708, 0.06072903], atol=1e-6)


def test_binary_evaluate_sample_weight_matches_real_keras() -> None:
    x = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1], "float32")
    sw = np.array([1, 2, 3, 4, 0.5, 1, 2, 0], "float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    model.set_weights([np.array([[0.3], [-0.2], [0.5]], "float32"), np.array([0.1], "float32")])
    loss, accuracy = model.evaluate(x, y, sample_weight=sw, batch_size=3)
    assert loss == pytest.approx(1.3516231775283813, rel=1e-6)  # real Keras
    assert accuracy == 0.375


def test_one_step_loss_equals_hand_computation() -> None:
    torch.manual_seed(0)
    net = torch.nn.Linear(5, 3)
    model = keras.Model(net)
    model.compile(optimizer={"name": "sgd", "lr": 0.1}, loss="cross_entropy")
    x, y = torch.randn(6, 5), torch.tensor([0, 1, 2, 2, 1, 0])
    w = torch.tensor([0.5, 1.0, 2.0, 0.0, 3.0, 1.5])
    weight0, bias0 = net.weight.detach().clone(), net.bias.detach().clone()
    loss = model.train_on_batch(x, y, sample_weight=w)
    # Keras' sum_over_batch_size: sum of weighted per-sample losses / batch size
    logits = x @ weight0.T + bias0
    expected = (F.cross_entropy(logits, y, reduction="none") * w).sum() / len(y)
    assert loss == pytest.approx(float(expected), rel=1e-6)
    # and the SGD step used that loss's gradient
    weight = weight0.clone().requires_grad_(True)
    (F.cross_entropy(x @ weight.T + bias0, y, reduction="none") * w).mean().backward()
    torch.testing.assert_close(net.weight.detach(), weight0 - 0.1 * weight.grad)


def test_torch_named_bce_sample_weight() -> None:
    torch.manual_seed(0)
    model = keras.Model(torch.nn.Linear(3, 1))
    model.compile(optimizer="sgd", loss="bce")
    x, y = torch.randn(7, 3), torch.tensor([0.0, 1, 1, 0, 1, 0, 1])
    w = torch.arange(7.0)
    with torch.no_grad():
        logits = model.module(x)[:, 0]
    expected = (F.binary_cross_entropy_with_logits(logits, y, reduction="none") * w).mean()
    assert model.evaluate(x, y, sample_weight=w) == pytest.approx(float(expected), rel=1e-6)


def test_sample_weight_of_ones_is_bit_identical_to_no_weights() -> None:
    def run(**weights: object) -> tuple[list[float], list[np.ndarray]]:
        model = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(2).normal(size=(50, 4)).astype("float32")
        y = np.random.default_rng(3).integers(0, 3, 50)
        history = model.fit(x, y, epochs=2, batch_size=8, seed=7, verbose=0, **weights)
        return history.history["loss"], model.get_weights()

    loss_plain, weights_plain = run()
    loss_ones, weights_ones = run(sample_weight=np.ones(50, "float32"))
    assert loss_plain == loss_ones
    for a, b in zip(weights_plain, weights_ones, strict=True):
        np.testing.assert_array_equal(a, b)


def test_class_weight_raises_recall_of_the_rare_class() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(600, 2)).astype("float32")
    y = ((x[:, 0] + 0.5 * x[:, 1] + 0.3 * rng.normal(size=600)) > 1.6).astype("float32")
    assert 0.02 < y.mean() < 0.1  # rare positives

    def recall(**weights: object) -> float:
        model = keras.Sequential([keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer={"name": "adam", "lr": 0.05}, loss="binary_crossentropy")
        model.fit(x, y, epochs=5, batch_size=32, seed=0, verbose=0, **weights)
        predicted = model.predict(x)[:, 0] > 0.5
        return float(predicted[y == 1].mean())

    plain = recall()
    balanced = recall(class_weight={0: 1.0, 1: 20.0})
    assert balanced > plain + 0.2
    assert balanced > 0.9


def test_class_weights_follow_keras_rules() -> None:
    table = {0: 2.0, 1: 5.0}
    # integer targets, one-hot rows (argmax), binary floats (rounded), (N, 1) columns
    torch.testing.assert_close(
        class_weights(table, torch.tensor([0, 1, 3])), torch.tensor([2.0, 5.0, 1.0])
    )
    one_hot = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    torch.testing.assert_close(class_weights(table, one_hot), torch.tensor([5.0, 2.0, 1.0]))
    binary = torch.tensor([[0.0], [1.0], [0.9]])
    torch.testing.assert_close(class_weights(table, binary), torch.tensor([2.0, 5.0, 5.0]))


def test_validation_data_with_weights_matches_evaluate() -> None:
    model, x = _softmax_model()
    history = model.fit(
        x, _Y, validation_data=(x, _Y, _SW), epochs=1, batch_size=10, shuffle=False, verbose=0
    )
    val_loss = history.history["val_loss"][0]
    assert val_loss == pytest.approx(model.evaluate(x, _Y, sample_weight=_SW)[0], rel=1e-6)
    assert val_loss != pytest.approx(model.evaluate(x, _Y)[0], rel=1e-3)


def test_weights_are_shuffled_with_their_rows_and_reach_train_step() -> None:
    seen: list[bool] = []

    class Net(keras.Model):
        def train_step(self, data):
            x, _y, sample_weight = data  # Keras passes (x, y, sample_weight) when weighted
            seen.append(bool(torch.equal(sample_weight, x[:, 0])))
            return super().train_step(data)

    model = Net(torch.nn.Linear(2, 1))
    model.compile(optimizer="sgd", loss="mse")
    x = np.stack([np.arange(1, 41), np.zeros(40)], 1).astype("float32")
    model.fit(x, np.zeros(40, "float32"), sample_weight=x[:, 0], batch_size=8, seed=1, verbose=0)
    assert seen == [True] * 5


def test_weights_errors_are_one_line() -> None:
    model, x = _softmax_model()
    with pytest.raises(UserError, match="both class_weight and sample_weight"):
        model.fit(x, _Y, sample_weight=_SW, class_weight={0: 2.0}, verbose=0)
    with pytest.raises(DataError, match=r"one weight per row, shape \(10,\)"):
        model.evaluate(x, _Y, sample_weight=np.ones(3))
    batches = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.zeros(4, 4), torch.zeros(4, dtype=torch.long))
    )
    with pytest.raises(UserError, match="sample_weight= needs in-memory arrays"):
        model.fit(batches, sample_weight=np.ones(2), verbose=0)
    custom = keras.Model(torch.nn.Linear(4, 1))
    custom.compile(optimizer="sgd", loss=lambda outputs, target: (outputs - target).abs().mean())
    with pytest.raises(UserError, match="one value per sample") as error:
        custom.fit(x, np.zeros(10, "float32"), sample_weight=_SW, verbose=0)
    assert "\n" not in str(error.value)


def test_validation_split_carries_sample_weight_but_not_class_weight() -> None:
    def val_loss(**weights: object) -> float:
        model, x = _softmax_model()
        model.compile(optimizer={"name": "sgd", "lr": 0.0}, loss="sparse_categorical_crossentropy")
        model.set_weights([_KERNEL, _BIAS])
        history = model.fit(x, _Y, validation_split=0.5, seed=3, verbose=0, **weights)
        return history.history["val_loss"][0]

    plain = val_loss()
    # Keras: the held-out rows keep their sample weights; class_weight weights training only.
    assert val_loss(sample_weight=np.full(10, 2.0, "float32")) == pytest.approx(2 * plain)
    assert val_loss(class_weight={0: 3.0, 1: 3.0, 2: 3.0}) == plain


def test_several_outputs_refuse_weights_in_one_line() -> None:
    inputs = keras.Input((3,))
    outputs = [keras.layers.Dense(1, name="a")(inputs), keras.layers.Dense(2, name="b")(inputs)]
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"])
    x, y = np.zeros((4, 3), "float32"), [np.zeros(4, "float32"), np.zeros(4)]
    with pytest.raises(UserError, match="supported for single-output models"):
        model.fit(x, y, sample_weight=np.ones(4) * 2, verbose=0)
