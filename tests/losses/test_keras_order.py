"""Issue 12, silent problem 2: Keras-named losses are called Keras' way, ``loss(y_true, y_pred)``.

Every value and gradient is compared with ``torch.nn.functional`` (or, where torch has no such
loss, with Keras' documented formula written with torch ops), never with our own output.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import deepfuse.losses as L
from deepfuse._utils.errors import ConfigError

N, C = 8, 4


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _cases():
    """(name, Keras loss object, y_true, y_pred, reference(y_pred, y_true) -> scalar)."""
    g = _gen()
    logits = torch.randn(N, C, generator=g, dtype=torch.float64)
    labels = torch.randint(0, C, (N,), generator=g)
    onehot = F.one_hot(labels, C).double()
    soft = torch.rand(N, C, generator=g, dtype=torch.float64).softmax(-1)
    probs = torch.rand(N, C, generator=g, dtype=torch.float64).softmax(-1)
    bin_logits = torch.randn(N, 3, generator=g, dtype=torch.float64)
    bin_y = torch.randint(0, 2, (N, 3), generator=g).double()
    reg_y = torch.randn(N, 3, generator=g, dtype=torch.float64)
    reg_p = torch.randn(N, 3, generator=g, dtype=torch.float64) * 2
    pos_y = torch.rand(N, 3, generator=g, dtype=torch.float64) * 3
    pos_p = torch.rand(N, 3, generator=g, dtype=torch.float64) * 3 + 0.1
    sign_y = bin_y * 2 - 1
    return [
        (
            "bce_logits",
            L.BinaryCrossentropy(from_logits=True),
            bin_y,
            bin_logits,
            lambda p, t: F.binary_cross_entropy_with_logits(p, t),
        ),
        (
            "bce_probs",
            L.BinaryCrossentropy(),
            bin_y,
            bin_logits.sigmoid(),
            lambda p, t: F.binary_cross_entropy(p, t),
        ),
        (
            "sparse_logits",
            L.SparseCategoricalCrossentropy(from_logits=True),
            labels,
            logits,
            lambda p, t: F.cross_entropy(p, t),
        ),
        (
            "sparse_probs",
            L.SparseCategoricalCrossentropy(),
            labels,
            probs,
            # Keras divides by the row sum before the log (p may not sum to 1 exactly)
            lambda p, t: F.nll_loss((p / p.sum(-1, keepdim=True)).log(), t),
        ),
        (
            "categorical_logits",
            L.CategoricalCrossentropy(from_logits=True),
            soft,
            logits,
            lambda p, t: F.cross_entropy(p, t),
        ),
        (
            "categorical_probs",
            L.CategoricalCrossentropy(),
            onehot,
            probs,
            lambda p, t: F.nll_loss((p / p.sum(-1, keepdim=True)).log(), t.argmax(-1)),
        ),
        ("mse", L.MeanSquaredError(), reg_y, reg_p, lambda p, t: F.mse_loss(p, t)),
        ("mae", L.MeanAbsoluteError(), reg_y, reg_p, lambda p, t: F.l1_loss(p, t)),
        ("huber", L.Huber(delta=0.7), reg_y, reg_p, lambda p, t: F.huber_loss(p, t, delta=0.7)),
        (
            "kld",
            L.KLDivergence(),
            soft,
            probs,
            lambda p, t: F.kl_div(p.log(), t, reduction="batchmean"),
        ),
        (
            "msle",
            L.MeanSquaredLogarithmicError(),
            pos_y,
            pos_p,
            lambda p, t: F.mse_loss(torch.log1p(p), torch.log1p(t)),
        ),
        (
            "log_cosh",
            L.LogCosh(),
            reg_y,
            reg_p,
            lambda p, t: torch.log(torch.cosh(p - t)).mean(),
        ),
        (
            "cosine",
            L.CosineSimilarity(),
            reg_y,
            reg_p,
            lambda p, t: -F.cosine_similarity(p, t, dim=-1).mean(),
        ),
        (
            "poisson",
            L.Poisson(),
            pos_y,
            pos_p,
            lambda p, t: F.poisson_nll_loss(p, t, log_input=False, eps=1e-7),
        ),
        # Keras' documented formulas (torch has no such loss): max(1 - y * p, 0), y in {-1, 1}
        ("hinge", L.Hinge(), bin_y, reg_p, lambda p, t: F.relu(1 - (2 * t - 1) * p).mean()),
        ("hinge_signed", L.Hinge(), sign_y, reg_p, lambda p, t: F.relu(1 - t * p).mean()),
        (
            "squared_hinge",
            L.SquaredHinge(),
            bin_y,
            reg_p,
            lambda p, t: F.relu(1 - (2 * t - 1) * p).square().mean(),
        ),
        (
            "categorical_hinge",
            L.CategoricalHinge(),
            onehot,
            logits,
            lambda p, t: F.relu(((1 - t) * p).amax(-1) - (t * p).sum(-1) + 1).mean(),
        ),
    ]


CASES = _cases()
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(("name", "loss", "y_true", "y_pred", "ref"), CASES, ids=IDS)
def test_keras_call_equals_torch_reference(name, loss, y_true, y_pred, ref):
    assert isinstance(loss, L.KerasLoss)
    expected = ref(y_pred, y_true)
    assert torch.allclose(loss(y_true, y_pred), expected, atol=1e-6)
    # compute() is torch's order: what fit/evaluate call
    assert torch.allclose(loss.compute(y_pred, y_true), expected, atol=1e-6)


@pytest.mark.parametrize(("name", "loss", "y_true", "y_pred", "ref"), CASES, ids=IDS)
def test_gradient_flows_into_y_pred_as_torch(name, loss, y_true, y_pred, ref):
    pred = y_pred.clone().requires_grad_(True)
    loss(y_true, pred).backward()
    pred_ref = y_pred.clone().requires_grad_(True)
    ref(pred_ref, y_true).backward()
    assert torch.allclose(pred.grad, pred_ref.grad, atol=1e-6)
    assert not y_true.requires_grad and y_true.grad is None


# Symmetric in their two arguments (the order cannot change the value): the others must differ.
SYMMETRIC = ("mse", "mae", "huber", "log_cosh", "cosine", "msle", "hinge_signed")
ASYMMETRIC = [c for c in CASES if c[0] not in SYMMETRIC]


@pytest.mark.parametrize(
    ("name", "loss", "y_true", "y_pred", "ref"), ASYMMETRIC, ids=[c[0] for c in ASYMMETRIC]
)
def test_swapped_call_differs(name, loss, y_true, y_pred, ref):
    """The old (y_pred, y_true) reading gives another value or an error: never silently the same."""
    expected = ref(y_pred, y_true)
    try:
        swapped = loss(y_pred, y_true)
    except (ValueError, RuntimeError, IndexError):
        return  # e.g. float logits as class indices
    assert not torch.allclose(swapped.to(expected.dtype), expected, atol=1e-4)


def test_issue_example_bce_from_logits():
    """The issue's report: loss_fn(y_true, y_pred) silently gave another value with gradients."""
    loss_fn = L.BinaryCrossentropy(from_logits=True)
    y_true = torch.tensor([[1.0], [0.0], [1.0]])
    y_pred = torch.tensor([[2.0], [-1.0], [-3.0]], requires_grad=True)
    value = loss_fn(y_true, y_pred)
    assert torch.allclose(value, F.binary_cross_entropy_with_logits(y_pred, y_true))
    value.backward()
    expected = (torch.sigmoid(y_pred.detach()) - y_true) / 3
    assert torch.allclose(y_pred.grad, expected)


# ----------------------------------------------------------------- Keras reductions


def test_keras_reductions_are_per_sample():
    g = _gen(1)
    y, p = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    per = F.mse_loss(p, y, reduction="none").mean(-1)  # Keras: mean over the last axis
    assert torch.allclose(L.MeanSquaredError(reduction=None)(y, p), per)
    assert torch.allclose(L.MeanSquaredError(reduction="none")(y, p), per)
    assert torch.allclose(L.MeanSquaredError(reduction="sum")(y, p), per.sum())
    mean = L.MeanSquaredError(reduction="sum_over_batch_size")
    assert torch.allclose(mean(y, p), per.mean()) and mean.get_config()["reduction"] == "mean"
    assert L.MeanSquaredError(reduction="auto").reduction == "mean"
    w = torch.rand(6, generator=g)
    assert torch.allclose(L.MeanSquaredError()(y, p, sample_weight=w), (per * w).mean())
    assert torch.allclose(L.MeanSquaredError()(y, p, sample_weight=w[:, None]), (per * w).mean())
    bce = L.BinaryCrossentropy(from_logits=True, reduction="sum")
    yb = (y > 0).float()
    ref = F.binary_cross_entropy_with_logits(p, yb, reduction="none").mean(-1).sum()
    assert torch.allclose(bce(yb, p), ref)
    # cross-entropies are per sample already: torch's "none"
    labels = torch.randint(0, 5, (6,), generator=g)
    sparse = L.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    assert torch.allclose(sparse(labels, p), F.cross_entropy(p, labels, reduction="none"))


def test_image_targets_reduce_the_channel_axis():
    """NCHW inside deepfuse: Keras' last axis (channels) is dim 1, so per-sample maps are (N, H, W)."""
    g = _gen(2)
    y, p = torch.rand(2, 3, 4, 5, generator=g), torch.rand(2, 3, 4, 5, generator=g)
    per = L.mean_squared_error(y, p)
    assert per.shape == (2, 4, 5)
    assert torch.allclose(per, F.mse_loss(p, y, reduction="none").mean(1))
    cos = L.cosine_similarity(y, p)
    assert torch.allclose(cos, -F.cosine_similarity(p, y, dim=1))


def test_bad_reduction_lists_keras_and_torch_spellings():
    with pytest.raises(ConfigError) as err:
        L.MeanSquaredError(reduction="batch")
    assert "sum_over_batch_size" in str(err.value) and "'mean'" in str(err.value)


# ----------------------------------------------------------------- Keras functions


def test_keras_functions_return_per_sample_values_in_keras_order():
    g = _gen(3)
    y, p = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    yb = (y > 0).float()
    labels = torch.randint(0, 3, (5,), generator=g)
    none = {"reduction": "none"}
    pairs = [
        (L.mse(y, p), F.mse_loss(p, y, **none).mean(-1)),
        (L.mean_squared_error(y, p), F.mse_loss(p, y, **none).mean(-1)),
        (L.mae(y, p), F.l1_loss(p, y, **none).mean(-1)),
        (L.mean_absolute_error(y, p), F.l1_loss(p, y, **none).mean(-1)),
        (L.huber(y, p, delta=0.5), F.huber_loss(p, y, delta=0.5, **none).mean(-1)),
        (
            L.binary_crossentropy(yb, p, from_logits=True),
            F.binary_cross_entropy_with_logits(p, yb, **none).mean(-1),
        ),
        (
            L.binary_crossentropy(yb, p.sigmoid()),
            F.binary_cross_entropy(p.sigmoid(), yb, **none).mean(-1),
        ),
        (
            L.sparse_categorical_crossentropy(labels, p, from_logits=True),
            F.cross_entropy(p, labels, **none),
        ),
        (
            L.categorical_crossentropy(F.one_hot(labels, 3).float(), p.softmax(-1)),
            F.cross_entropy(p, labels, **none),
        ),
        (
            L.kld(p.softmax(-1), y.softmax(-1)),
            F.kl_div(y.log_softmax(-1), p.softmax(-1), **none).sum(-1),
        ),
        (L.logcosh(y, p), torch.log(torch.cosh(p - y)).mean(-1)),
        (
            L.poisson(y.abs(), p.exp()),
            F.poisson_nll_loss(p.exp(), y.abs(), log_input=False, **none).mean(-1),
        ),
    ]
    for got, expected in pairs:
        assert got.shape == (5,)
        assert torch.allclose(got, expected, atol=1e-5)
    masked = L.sparse_categorical_crossentropy(
        labels, p, from_logits=True, ignore_class=labels[0].item()
    )
    assert masked[0] == 0


def test_sparse_ignore_class_is_torch_ignore_index():
    g = _gen(5)
    logits, labels = torch.randn(6, 3, generator=g), torch.randint(0, 3, (6,), generator=g)
    labels[:2] = 2
    loss = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2)
    assert torch.allclose(loss(labels, logits), F.cross_entropy(logits, labels, ignore_index=2))
    assert L.get(L.serialize(loss)).ignore_index == 2  # saved as ignore_index


def test_torch_named_losses_keep_torch_order():
    g = _gen(4)
    logits, labels = torch.randn(6, 3, generator=g), torch.randint(0, 3, (6,), generator=g)
    assert torch.allclose(L.CrossEntropy()(logits, labels), F.cross_entropy(logits, labels))
    assert torch.allclose(L.cross_entropy(logits, labels), F.cross_entropy(logits, labels))
    z, y = torch.randn(6, generator=g), torch.randint(0, 2, (6,), generator=g).float()
    assert torch.allclose(L.BinaryCrossEntropy()(z, y), F.binary_cross_entropy_with_logits(z, y))
    assert torch.allclose(L.binary_cross_entropy(z, y), F.binary_cross_entropy_with_logits(z, y))
    assert torch.allclose(L.functional.mse(z, y), F.mse_loss(z, y))


def test_as_logits_keeps_keras_order():
    y, z = torch.tensor([1.0, 0.0]), torch.tensor([0.3, -2.0])
    fused = L.BinaryCrossentropy().as_logits()
    assert isinstance(fused, L.BinaryCrossentropy) and fused.from_logits
    assert torch.allclose(fused(y, z), F.binary_cross_entropy_with_logits(z, y))
    assert torch.allclose(fused.compute(z, y), F.binary_cross_entropy_with_logits(z, y))
