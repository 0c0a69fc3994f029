"""``deepfuse.ops`` (Keras 3 ``keras.ops``) and ``deepfuse.random`` against numpy / scipy / torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deepfuse import ops
from deepfuse import random as krandom

RNG = np.random.default_rng(0)
A = RNG.normal(size=(3, 4)).astype(np.float32)
B = RNG.normal(size=(3, 4)).astype(np.float32)
M = RNG.normal(size=(4, 5)).astype(np.float32)
P = RNG.uniform(0.05, 0.95, size=(6,)).astype(np.float32)


def close(tensor, expected, atol=1e-5):
    assert isinstance(tensor, torch.Tensor)
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=1e-5, atol=atol)


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("add", (A, B), A + B),
        ("subtract", (A, B), A - B),
        ("multiply", (A, B), A * B),
        ("divide", (A, B), A / B),
        ("negative", (A,), -A),
        ("square", (A,), A * A),
        ("sqrt", (np.abs(A),), np.sqrt(np.abs(A))),
        ("exp", (A,), np.exp(A)),
        ("log", (np.abs(A),), np.log(np.abs(A))),
        ("abs", (A,), np.abs(A)),
        ("maximum", (A, B), np.maximum(A, B)),
        ("minimum", (A, B), np.minimum(A, B)),
        ("matmul", (A, M), A @ M),
        ("dot", (A, M), np.dot(A, M)),
        ("relu", (A,), np.maximum(A, 0)),
        ("sigmoid", (A,), 1 / (1 + np.exp(-A))),
        ("tanh", (A,), np.tanh(A)),
        ("erf", (A,), np.vectorize(math.erf)(A)),
    ],
)
def test_elementwise_and_products_match_numpy(name, args, expected):
    close(getattr(ops, name)(*args), expected)


def test_dot_follows_numpy_for_nd_arrays():
    x, y = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(5, 4, 6))
    close(ops.dot(x, y), np.dot(x, y))
    close(ops.dot(2.0, A), 2.0 * A)


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(axis, keepdims):
    for name in ("sum", "mean", "max", "min", "std", "var"):
        expected = getattr(np, name)(A, axis=axis, keepdims=keepdims)  # numpy std/var: ddof=0
        close(getattr(ops, name)(A, axis=axis, keepdims=keepdims), expected)


def test_argmax_argmin_match_numpy():
    assert ops.argmax(A).item() == np.argmax(A)
    assert ops.argmin(A, axis=1).tolist() == np.argmin(A, axis=1).tolist()
    assert tuple(ops.argmax(A, axis=0, keepdims=True).shape) == (1, 4)


def test_shape_functions_match_numpy():
    close(ops.concatenate([A, B], axis=1), np.concatenate([A, B], axis=1))
    close(ops.stack([A, B], axis=1), np.stack([A, B], axis=1))
    close(ops.reshape(A, (2, -1)), A.reshape(2, -1))
    close(ops.transpose(A), A.T)
    x = RNG.normal(size=(2, 3, 4))
    close(ops.transpose(x), np.transpose(x))  # None reverses every axis (torch's .T would not)
    close(ops.transpose(x, (1, 0, 2)), np.transpose(x, (1, 0, 2)))
    assert ops.shape(ops.expand_dims(A, 1)) == np.expand_dims(A, 1).shape
    assert ops.shape(ops.squeeze(np.zeros((1, 3, 1)))) == (3,)
    assert ops.shape(ops.squeeze(np.zeros((1, 3, 1)), axis=0)) == (3, 1)


def test_creation_and_casts():
    assert ops.ones((2, 3)).dtype == torch.float32 and ops.ones((2, 3)).sum().item() == 6
    assert ops.zeros(3).tolist() == [0.0, 0.0, 0.0]
    assert ops.full((2,), 1.5).tolist() == [1.5, 1.5]
    assert (
        ops.ones_like(A).shape == A.shape and ops.zeros_like(A, dtype="int32").dtype == torch.int32
    )
    assert (
        ops.cast([1.9, -1.9], "int64").tolist() == np.array([1.9, -1.9]).astype(np.int64).tolist()
    )
    assert ops.cast(A, "float16").dtype == torch.float16
    close(ops.linspace(0, 2, 7), np.linspace(0, 2, 7))
    close(ops.linspace(0, 2, 7, endpoint=False), np.linspace(0, 2, 7, endpoint=False))
    assert ops.arange(1, 10, 3).tolist() == np.arange(1, 10, 3).tolist()
    assert ops.convert_to_tensor([1.0, 2.0]).dtype == torch.float32  # Keras' floatx
    assert ops.convert_to_tensor(np.zeros(2)).dtype == torch.float64  # arrays keep their dtype
    np.testing.assert_array_equal(ops.convert_to_numpy(torch.tensor([1, 2])), np.array([1, 2]))
    with pytest.raises(ValueError, match="dtype"):
        ops.cast(A, "float8")


def test_where_clip_softmax_one_hot():
    close(ops.where(A > 0, A, 0.0), np.where(A > 0, A, 0.0))
    assert [t.tolist() for t in ops.where(np.array([0, 1, 1]))] == [
        t.tolist() for t in np.where(np.array([0, 1, 1]))
    ]
    close(ops.clip(A, -0.5, 0.5), np.clip(A, -0.5, 0.5))
    e = np.exp(A - A.max(axis=0, keepdims=True))
    close(ops.softmax(A, axis=0), e / e.sum(axis=0, keepdims=True))
    close(ops.log_softmax(A), np.log(np.exp(A) / np.exp(A).sum(-1, keepdims=True)))
    close(ops.one_hot([1, 0, 2], 3), np.eye(3)[[1, 0, 2]])
    close(ops.one_hot([1, 0], 3, axis=0), np.eye(3)[[1, 0]].T)


def test_crossentropies_match_torch():
    target = (RNG.uniform(size=6) > 0.5).astype(np.float32)
    expected = torch.nn.functional.binary_cross_entropy(
        torch.tensor(P), torch.tensor(target), reduction="none"
    )
    close(ops.binary_crossentropy(target, P), expected.numpy())
    close(
        ops.binary_crossentropy(target, np.log(P / (1 - P)), from_logits=True),
        expected.numpy(),
        atol=1e-4,
    )
    labels = np.array([0, 3, 1])
    onehot = np.eye(4)[labels]
    logits = RNG.normal(size=(3, 4)).astype(np.float32)
    ce = torch.nn.functional.cross_entropy(
        torch.tensor(logits), torch.tensor(labels), reduction="none"
    )
    close(ops.categorical_crossentropy(onehot, logits, from_logits=True), ce.numpy())
    probs = torch.softmax(torch.tensor(logits), 1).numpy()
    close(ops.categorical_crossentropy(onehot, probs), ce.numpy(), atol=1e-5)


def test_stop_gradient_blocks_the_gradient():
    w = torch.ones(2, requires_grad=True)
    (ops.stop_gradient(w * 3) * w).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]  # only the un-stopped factor carries a gradient


def test_unknown_op_names_torch():
    with pytest.raises(AttributeError) as err:
        ops.searchsorted  # noqa: B018
    assert str(err.value) == (
        "keras.ops.searchsorted is not provided by deepfuse; use torch.searchsorted (tensors are torch tensors)"
    )
    with pytest.raises(AttributeError, match=r"keras\.random\.gamma is not provided by deepfuse"):
        krandom.gamma  # noqa: B018


def test_random_seeds_follow_keras():
    # An int seed: the same numbers at every call; a SeedGenerator: a new draw every call,
    # the same sequence from the same starting seed.
    assert torch.equal(krandom.normal((3,), seed=5), krandom.normal((3,), seed=5))
    g1, g2 = krandom.SeedGenerator(9), krandom.SeedGenerator(9)
    a1, b1 = krandom.uniform((4,), seed=g1), krandom.uniform((4,), seed=g1)
    assert torch.equal(a1, krandom.uniform((4,), seed=g2)) and not torch.equal(a1, b1)
    assert torch.equal(b1, krandom.uniform((4,), seed=g2))
    # seed=None draws from torch's global generator: keras.utils.set_random_seed makes it repeat
    import deepfuse as keras

    keras.utils.set_random_seed(4)
    first = krandom.normal((3,))
    keras.utils.set_random_seed(4)
    assert torch.equal(first, krandom.normal((3,)))


def test_random_distributions():
    x = krandom.normal((40000,), mean=1.0, stddev=2.0, seed=0)
    assert abs(x.mean().item() - 1.0) < 0.05 and abs(x.std().item() - 2.0) < 0.05
    u = krandom.uniform((40000,), minval=2.0, maxval=4.0, seed=0, dtype="float64")
    assert u.dtype == torch.float64 and u.min().item() >= 2.0 and u.max().item() < 4.0
    assert abs(u.mean().item() - 3.0) < 0.02
    r = krandom.randint((5000,), 3, 6, seed=0)
    assert r.dtype == torch.int32 and set(r.tolist()) == {3, 4, 5}  # maxval excluded
    s = krandom.shuffle(np.arange(10), seed=1)
    assert sorted(s.tolist()) == list(range(10)) and s.tolist() != list(range(10))
    cols = krandom.shuffle(np.arange(12).reshape(3, 4), axis=1, seed=2)
    assert sorted(cols[0].tolist()) == [0, 1, 2, 3] and (cols[1] - cols[0]).tolist() == [4] * 4


def test_comparisons_logic_and_rounding_match_numpy():
    x = np.array([-1.5, -0.5, 0.5, 1.5, 2.5])  # halves: round goes to even, as numpy
    for name in ("floor", "ceil", "round", "logical_not"):
        np.testing.assert_array_equal(getattr(ops, name)(x).numpy(), getattr(np, name)(x))
    close(ops.power(np.abs(A), B), np.power(np.abs(A), B))
    for name in ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal"):
        np.testing.assert_array_equal(getattr(ops, name)(A, B).numpy(), getattr(np, name)(A, B))
    for name in ("logical_and", "logical_or"):
        np.testing.assert_array_equal(
            getattr(ops, name)(A > 0, B > 0).numpy(), getattr(np, name)(A > 0, B > 0)
        )


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_prod_all_any_match_numpy(axis):
    for keepdims in (False, True):
        close(ops.prod(A, axis=axis, keepdims=keepdims), np.prod(A, axis=axis, keepdims=keepdims))
        for name in ("all", "any"):
            got = getattr(ops, name)(A > 0, axis=axis, keepdims=keepdims).numpy()
            np.testing.assert_array_equal(
                got, getattr(np, name)(A > 0, axis=axis, keepdims=keepdims)
            )


def test_cumsum_tile_repeat_broadcast_einsum_match_numpy():
    close(ops.cumsum(A), np.cumsum(A))
    close(ops.cumsum(A, axis=1), np.cumsum(A, axis=1))
    close(ops.tile(A, (2, 1)), np.tile(A, (2, 1)))
    close(ops.repeat(A, 2), np.repeat(A, 2))
    close(ops.repeat(A, 3, axis=1), np.repeat(A, 3, axis=1))
    close(ops.broadcast_to(A[:1], (3, 4)), np.broadcast_to(A[:1], (3, 4)))
    close(ops.einsum("ij,jk->ik", A, M), np.einsum("ij,jk->ik", A, M))


def test_arrays_join_the_tensor_operand_device():
    # "meta" stands in for a GPU: an array or number operand moves to the tensor's device
    x = torch.ones(2, device="meta")
    for name in ("add", "multiply", "maximum", "greater", "matmul"):
        assert getattr(ops, name)(x, np.ones(2, np.float32)).device.type == "meta"
        assert getattr(ops, name)(np.ones(2, np.float32), x).device.type == "meta"
    assert ops.where(np.array([True, False]), x, np.zeros(2)).device.type == "meta"


def test_products_promote_dtypes_like_numpy():
    a32, m64 = A, M.astype(np.float64)
    assert ops.matmul(a32, m64).dtype == torch.float64  # numpy: float32 @ float64 -> float64
    close(ops.matmul(torch.tensor(a32), m64), a32.astype(np.float64) @ m64)
    close(ops.dot(m64.T, torch.tensor(a32).T), np.dot(m64.T, a32.T.astype(np.float64)))
