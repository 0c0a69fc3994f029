"""Losses equal torch.nn.functional / hand-computed references; registry and errors."""

from __future__ import annotations

import doctest
import importlib
import json

import pytest
import torch
import torch.nn.functional as F

import deepfuse.losses as L
from deepfuse._utils.errors import ConfigError, DataError

SEEDS = [0, 1, 2]


def data(seed: int, n: int = 17, c: int = 5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=g, dtype=torch.float64), torch.randint(
        0, c, (n,), generator=g
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_losses_match_torch(seed):
    g = torch.Generator().manual_seed(seed)
    out, y = torch.randn(20, 1, generator=g), torch.randn(20, generator=g) * 3
    # (N, 1) vs (N,) is squeezed, not broadcast to (N, N).
    assert torch.allclose(L.get("mse")(y, out), F.mse_loss(out.squeeze(1), y))
    assert torch.allclose(L.get("mean_squared_error")(y, out), F.mse_loss(out.squeeze(1), y))
    assert torch.allclose(L.get("mae")(y, out), F.l1_loss(out.squeeze(1), y))
    assert torch.allclose(L.get("mean_absolute_error")(y, out), F.l1_loss(out.squeeze(1), y))
    d = 1.5
    diff = (out.squeeze(1) - y).abs()
    hand = torch.where(diff <= d, 0.5 * diff**2, d * (diff - 0.5 * d)).mean()
    assert torch.allclose(L.get("huber", delta=d)(y, out), hand)
    # integer targets are cast
    assert torch.allclose(
        L.functional.mse(out.squeeze(1), y.round().long()), F.mse_loss(out.squeeze(1), y.round())
    )


def test_regression_shape_mismatch_raises():
    with pytest.raises(DataError, match=r"shape \(4, 2\).*\(4,\)"):
        L.get("mse")(torch.randn(4), torch.randn(4, 2))
    with pytest.raises(DataError):
        L.get("mae")(torch.randn(5), torch.randn(4))


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_entropy_index_targets(seed):
    logits, y = data(seed)
    assert torch.allclose(L.get("cross_entropy")(logits, y), F.cross_entropy(logits, y))
    # float and (N, 1) targets
    assert torch.allclose(L.cross_entropy(logits, y.double()[:, None]), F.cross_entropy(logits, y))


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_entropy_label_smoothing_by_hand(seed):
    logits, y = data(seed)
    eps, c = 0.2, logits.shape[1]
    soft = F.one_hot(y, c).double() * (1 - eps) + eps / c
    hand = -(soft * logits.log_softmax(1)).sum(1).mean()
    assert torch.allclose(L.get("cross_entropy", label_smoothing=eps)(logits, y), hand)


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_entropy_class_weights(seed):
    logits, y = data(seed)
    w = [1.0, 2.0, 0.5, 3.0, 1.0]
    nll = -logits.log_softmax(1)[torch.arange(len(y)), y]
    wy = torch.tensor(w, dtype=torch.float64)[y]
    hand = (wy * nll).sum() / wy.sum()  # torch's weighted mean
    assert torch.allclose(L.get("cross_entropy", class_weights=w)(logits, y), hand)
    as_tensor = L.CrossEntropy(class_weights=torch.tensor(w))
    assert torch.allclose(as_tensor(logits, y), hand)


def test_cross_entropy_ignore_index():
    logits, y = data(3)
    y[:4] = -1
    got = L.get("cross_entropy", ignore_index=-1)(logits, y)
    assert torch.allclose(got, F.cross_entropy(logits[4:], y[4:]))


@pytest.mark.parametrize("seed", SEEDS)
def test_one_hot_and_soft_targets(seed):
    logits, y = data(seed)
    one_hot = F.one_hot(y, 5)
    assert torch.allclose(L.cross_entropy(logits, one_hot), F.cross_entropy(logits, y))
    soft = torch.rand(logits.shape, dtype=torch.float64).softmax(1)
    hand = -(soft * logits.log_softmax(1)).sum(1).mean()
    assert torch.allclose(L.cross_entropy(logits, soft), hand)
    cat = L.get("categorical_crossentropy", from_logits=True)
    assert torch.allclose(cat(one_hot.float(), logits), F.cross_entropy(logits, y))


@pytest.mark.parametrize("seed", SEEDS)
def test_keras_probability_path_equals_logits_path(seed):
    logits, y = data(seed)
    probs = logits.softmax(1)
    ref = F.cross_entropy(logits, y)
    sparse = L.get("sparse_categorical_crossentropy")
    assert sparse.from_logits is False and sparse.expects == "probabilities"
    assert torch.allclose(sparse(y, probs), ref, atol=1e-6)
    cat = L.get("categorical_crossentropy")
    assert torch.allclose(cat(F.one_hot(y, 5).double(), probs), ref, atol=1e-6)
    fused = sparse.as_logits()
    assert type(fused) is type(sparse) and fused.from_logits and fused.expects == "logits"
    assert torch.allclose(fused(y, logits), ref)
    # Keras' hand formula: clip then -log p[y] (with the renormalisation of the clipped rows)
    clipped = probs.clamp(1e-7, 1 - 1e-7)
    clipped = clipped / clipped.sum(1, keepdim=True)
    hand = -clipped[torch.arange(len(y)), y].log().mean()
    assert torch.allclose(sparse(y, probs), hand, atol=1e-12)


def test_probability_path_is_numerically_safe():
    probs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss = L.get("sparse_categorical_crossentropy")(torch.tensor([1, 0]), probs)
    assert torch.isfinite(loss) and loss > 10
    bce = L.get("binary_crossentropy")(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]))
    assert torch.isfinite(bce) and bce > 10


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_cross_entropy(seed):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(30, 1, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (30,), generator=g)
    ref = F.binary_cross_entropy_with_logits(z.squeeze(1), y.double())
    for out, tgt in [
        (z, y),
        (z.squeeze(1), y),
        (z, y[:, None]),
        (z.squeeze(1), y[:, None].float()),
    ]:
        assert torch.allclose(L.get("binary_cross_entropy")(out, tgt), ref)
    keras = L.get("binary_crossentropy")
    assert keras.from_logits is False
    assert torch.allclose(keras(y, torch.sigmoid(z)), ref, atol=1e-6)
    assert torch.allclose(keras.as_logits()(y, z), ref)
    pw = 2.5
    ref_pw = F.binary_cross_entropy_with_logits(
        z.squeeze(1), y.double(), pos_weight=torch.tensor(pw, dtype=torch.float64)
    )
    assert torch.allclose(L.get("bce", pos_weight=pw)(z, y), ref_pw)
    assert torch.allclose(
        L.BinaryCrossentropy(pos_weight=pw)(y, torch.sigmoid(z)), ref_pw, atol=1e-6
    )
    s = 0.1
    ref_s = F.binary_cross_entropy_with_logits(z.squeeze(1), y.double() * (1 - s) + 0.5 * s)
    assert torch.allclose(L.BinaryCrossEntropy(label_smoothing=s)(z, y), ref_s)


def test_reductions():
    logits, y = data(0)
    assert L.CrossEntropy(reduction="none")(logits, y).shape == (17,)
    assert torch.allclose(
        L.CrossEntropy(reduction="sum")(logits, y), F.cross_entropy(logits, y, reduction="sum")
    )
    probs = torch.rand(6)
    per = L.BinaryCrossentropy(reduction="none")(torch.ones(6), probs)
    assert torch.allclose(per, -probs.log())
    with pytest.raises(ConfigError, match="Did you mean 'mean'"):
        L.MeanSquaredError(reduction="meen")


def test_bad_classification_shapes():
    with pytest.raises(DataError, match="class indices"):
        L.cross_entropy(torch.randn(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(DataError, match="sparse_categorical_crossentropy"):
        L.get("categorical_crossentropy")(torch.zeros(4, dtype=torch.long), torch.rand(4, 3))
    with pytest.raises(DataError, match="binary_cross_entropy"):
        L.binary_cross_entropy(torch.randn(4, 3), torch.zeros(4))


def test_registry_and_errors():
    with pytest.raises(ConfigError, match="Did you mean 'cross_entropy'"):
        L.get("cross_entropi")
    with pytest.raises(ConfigError, match="'delta'"):
        L.get("mse", delta=1.0)
    with pytest.raises(ConfigError, match="label_smoothing"):
        L.get("cross_entropy", label_smoothing=2.0)
    with pytest.raises(ConfigError, match="no 'name'"):
        L.get({"delta": 1.0})
    with pytest.raises(ConfigError):
        L.get(None)
    module = torch.nn.MSELoss()
    wrapped = L.get(module)  # torch's module, called torch's way through compute
    assert wrapped.module is module and isinstance(wrapped, L.ModuleLoss)
    assert float(wrapped.compute(torch.ones(3), torch.zeros(3))) == 1.0
    keras_loss = L.MeanSquaredError()
    assert L.get(keras_loss) is keras_loss
    with pytest.raises(ConfigError, match="ready-made"):
        L.get(module, reduction="sum")
    fn = L.get(lambda o, t: (o - t).sum())
    assert isinstance(fn, L.LambdaLoss) and not hasattr(fn, "from_logits")
    assert float(fn(torch.ones(3), torch.zeros(3))) == 3.0
    assert isinstance(L.get(L.Huber, delta=3.0), L.Huber)
    assert L.get({"name": "huber", "delta": 2.0}).delta == 2.0
    with pytest.raises(ConfigError, match="serialize"):
        L.serialize(module)


@pytest.mark.parametrize("name", L.names())
def test_config_round_trip(name):
    loss = L.get(name)
    cfg = json.loads(json.dumps(L.serialize(loss)))
    again = L.get(cfg)
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    if hasattr(loss, "from_logits"):
        assert loss.as_logits().from_logits is True
        assert loss.as_logits().get_config() == {**loss.get_config(), "from_logits": True}


def test_weighted_loss_config_round_trip_and_device_buffer():
    loss = L.CrossEntropy(class_weights=[1.0, 2.0], label_smoothing=0.1)
    cfg = json.loads(json.dumps(L.serialize(loss)))
    assert cfg["config"]["class_weights"] == [1.0, 2.0]
    assert torch.equal(L.get(cfg).class_weights, torch.tensor([1.0, 2.0]))
    assert "class_weights" in dict(loss.named_buffers())  # follows model.to(device)
    assert L.BinaryCrossEntropy(pos_weight=2.0).get_config()["pos_weight"] == 2.0


def test_gradients_flow():
    logits = torch.randn(4, 3, requires_grad=True)
    L.get("sparse_categorical_crossentropy", from_logits=True)(
        torch.tensor([0, 1, 2, 0]), logits
    ).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize(
    "module",
    [
        "deepfuse.losses",
        "deepfuse.losses.classes",
        "deepfuse.losses.custom",
        "deepfuse.losses.functional",
        "deepfuse.losses.keras_classes",
        "deepfuse.losses.keras_functions",
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
