"""``losses.get`` on user functions and torch modules, and the order ``compile(loss=...)`` uses."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepfuse as df
import deepfuse.losses as L

Z = torch.tensor([[2.0], [-1.0], [-3.0], [0.5]])  # logits
Y = torch.tensor([[1.0], [0.0], [1.0], [1.0]])  # targets
REF = F.binary_cross_entropy_with_logits(Z, Y)


def keras_fn(y_true, y_pred):
    return F.binary_cross_entropy_with_logits(y_pred, y_true)


def keras_per_sample(y_true, y_pred):  # Keras style: one value per sample
    return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none").mean(-1)


@pytest.mark.parametrize("first", sorted(L.custom.PREDICTION_NAMES))
def test_prediction_named_first_parameter_is_called_torch_way(first):
    namespace: dict = {"F": F}
    exec(
        f"def fn({first}, target):\n    return F.binary_cross_entropy_with_logits({first}, target)",
        namespace,
    )
    loss = L.get(namespace["fn"])
    assert loss.order == "torch"
    assert torch.allclose(loss.compute(Z, Y), REF)


@pytest.mark.parametrize("fn", [keras_fn, keras_per_sample, lambda yt, yp: keras_fn(yt, yp)])
def test_plain_function_follows_keras_signature_and_is_averaged(fn):
    loss = L.get(fn)
    assert loss.order == "keras" and not hasattr(loss, "from_logits")
    assert torch.allclose(loss.compute(Z, Y), REF)
    assert torch.allclose(loss(Y, Z).mean(), REF)  # the wrapper calls fn unchanged


def test_torch_functions_and_modules_are_called_torch_way():
    assert torch.allclose(L.get(F.binary_cross_entropy_with_logits).compute(Z, Y), REF)
    assert torch.allclose(L.get(torch.nn.BCEWithLogitsLoss()).compute(Z, Y), REF)
    assert torch.allclose(L.get(torch.nn.BCEWithLogitsLoss).compute(Z, Y), REF)
    per = L.get(torch.nn.BCEWithLogitsLoss(reduction="none"))
    assert torch.allclose(per.compute(Z, Y), REF)
    bound = L.get(functools.partial(F.binary_cross_entropy_with_logits, reduction="sum"))
    assert bound.order == "torch" and torch.allclose(bound.compute(Z, Y), REF * 4)


def test_every_loss_from_get_has_compute_in_torch_order():
    for name in L.names():
        loss = L.get(name)
        assert callable(loss.compute), name
    keras = L.get("binary_crossentropy", from_logits=True)
    assert torch.allclose(keras.compute(Z, Y), REF) and torch.allclose(keras(Y, Z), REF)
    torch_named = L.get("binary_cross_entropy")
    assert torch.allclose(torch_named.compute(Z, Y), REF) and torch.allclose(torch_named(Z, Y), REF)


def _evaluated_loss(loss) -> tuple[float, float]:
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1)
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = df.Model(net)
    model.compile(optimizer="sgd", loss=loss)
    got = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    with torch.no_grad():
        ref = F.binary_cross_entropy_with_logits(net(torch.from_numpy(x)), torch.from_numpy(y))
    return got, float(ref)


@pytest.mark.parametrize(
    "loss",
    [
        keras_fn,
        keras_per_sample,
        F.binary_cross_entropy_with_logits,
        torch.nn.BCEWithLogitsLoss(),
        L.BinaryCrossentropy(from_logits=True),
        "binary_cross_entropy",
    ],
    ids=["keras_fn", "keras_per_sample", "torch_fn", "torch_module", "keras_class", "torch_name"],
)
def test_compile_calls_every_kind_of_loss_in_its_own_order(loss):
    got, ref = _evaluated_loss(loss)
    assert got == pytest.approx(ref, rel=1e-5)


def test_a_keras_loss_object_trains_a_model():
    torch.manual_seed(0)
    x = np.random.default_rng(1).normal(size=(64, 4)).astype("float32")
    y = (x.sum(1, keepdims=True) > 0).astype("float32")
    model = df.Model(torch.nn.Linear(4, 1))
    model.compile(optimizer={"name": "sgd", "lr": 0.5}, loss=L.BinaryCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


class CustomMSE(L.Loss):
    """keras.io's "custom losses" pattern, written as a Keras user writes it."""

    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = torch.mean(torch.square(y_true - y_pred), dim=-1)
        reg = torch.mean(torch.square(0.5 - y_pred), dim=-1)
        return mse + reg * self.regularization_factor


def test_keras_style_loss_subclass_with_call():
    g = torch.Generator().manual_seed(0)
    y_true, y_pred = torch.rand(6, 3, generator=g), torch.rand(6, 3, generator=g)
    per = F.mse_loss(y_pred, y_true, reduction="none").mean(-1)
    per = per + 0.1 * F.mse_loss(y_pred, torch.full_like(y_pred, 0.5), reduction="none").mean(-1)
    loss = CustomMSE()
    assert loss.name == "custom_mse" and loss.reduction == "mean"
    assert torch.allclose(loss(y_true, y_pred), per.mean())
    assert torch.allclose(loss.compute(y_pred, y_true), per.mean())
    w = torch.rand(6, generator=g)
    assert torch.allclose(loss(y_true, y_pred, sample_weight=w), (per * w).mean())
    assert L.get(loss) is loss
    # the built-in classes keep their registry name whatever name= a Keras program passes
    assert L.MeanSquaredError(name="my_mse").name == "mse"
    keras_bce = L.BinaryCrossentropy(from_logits=True, name="bce", dtype="float32")
    assert keras_bce.name == "binary_crossentropy" and keras_bce.from_logits
    assert (
        L.Huber(delta=2.0, name="h").delta == 2.0 and L.CosineSimilarity(axis=1, name="c").axis == 1
    )


def test_compile_with_a_keras_style_loss_subclass():
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = np.random.default_rng(1).uniform(size=(16, 2)).astype("float32")
    model = df.Model(net)
    model.compile(optimizer="sgd", loss=CustomMSE(regularization_factor=0.5))
    got = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    with torch.no_grad():
        out, t = net(torch.from_numpy(x)), torch.from_numpy(y)
        ref = F.mse_loss(out, t) + 0.5 * F.mse_loss(out, torch.full_like(out, 0.5))
    assert got == pytest.approx(float(ref), rel=1e-5)


def test_torch_style_loss_subclass_with_forward_keeps_working():
    class MaxError(L.Loss):
        def forward(self, outputs, target):
            return (outputs - target).abs().max()

    loss = L.get(MaxError())
    assert float(loss.compute(torch.tensor([1.0, 5.0]), torch.tensor([1.0, 2.0]))) == 3.0
