"""Activation layers, merge layers, string activations and the preprocessing/noise layers.

References: torch.nn.functional / torch.nn modules and Keras' documented formulas.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deepfuse import layers as L
from deepfuse._utils.errors import ConfigError, DataError

X = torch.linspace(-3, 3, 13)


# ------------------------------------------------------------------ activation layers
def test_leaky_relu_keras_defaults_and_alpha():
    torch.testing.assert_close(L.LeakyReLU()(X), F.leaky_relu(X, 0.3))  # Keras 3 default
    torch.testing.assert_close(L.LeakyReLU(alpha=0.1)(X), F.leaky_relu(X, 0.1))  # Keras 2 name
    torch.testing.assert_close(L.LeakyReLU(negative_slope=0.2)(X), F.leaky_relu(X, 0.2))
    assert L.LeakyReLU(alpha=0.1).get_config()["negative_slope"] == 0.1


@pytest.mark.parametrize(
    ("kwargs", "formula"),
    [
        ({}, lambda x: np.maximum(x, 0)),
        ({"max_value": 1.5}, lambda x: np.clip(x, 0, 1.5)),
        ({"negative_slope": 0.1}, lambda x: np.where(x >= 0, x, 0.1 * x)),
        (
            {"max_value": 2.0, "negative_slope": 0.5, "threshold": 1.0},
            lambda x: np.where(x >= 2.0, 2.0, np.where(x >= 1.0, x, 0.5 * (x - 1.0))),
        ),
    ],
)
def test_relu_matches_keras_formula(kwargs, formula):
    # keras.layers.ReLU: max_value if x >= max_value; x if threshold <= x < max_value;
    # negative_slope * (x - threshold) otherwise.
    np.testing.assert_allclose(L.ReLU(**kwargs)(X).numpy(), formula(X.numpy()), rtol=1e-6)


def test_elu_and_prelu_match_torch():
    torch.testing.assert_close(L.ELU(0.7)(X), F.elu(X, 0.7))
    x = torch.randn(2, 3, 4, 5)
    layer = L.PReLU(alpha_initializer="random_uniform", shared_axes=[1, 2])  # one slope per channel
    y = layer(x)
    assert tuple(layer.alpha.shape) == (3, 1, 1)
    ref = nn.PReLU(3)
    with torch.no_grad():
        ref.weight.copy_(layer.alpha.flatten())
    torch.testing.assert_close(y, ref(x))
    full = L.PReLU()
    full(torch.randn(2, 6))
    assert tuple(full.alpha.shape) == (6,) and float(full.alpha.detach().abs().sum()) == 0.0


def test_prelu_regularizer_counts():
    layer = L.PReLU(alpha_initializer="ones", alpha_regularizer="l2")
    layer(torch.randn(2, 4))
    torch.testing.assert_close(layer.regularization_loss(), torch.tensor(0.01 * 4))


def test_softmax_axis_rule_on_images():
    nhwc = torch.randn(2, 4, 5, 3)
    x = nhwc.permute(0, 3, 1, 2)
    torch.testing.assert_close(L.Softmax()(x), nhwc.softmax(-1).permute(0, 3, 1, 2))
    torch.testing.assert_close(L.Softmax(axis=1)(x), nhwc.softmax(1).permute(0, 3, 1, 2))
    torch.testing.assert_close(L.Softmax(axis=2, data_format="channels_first")(x), x.softmax(2))
    seq = torch.randn(2, 3, 4)
    torch.testing.assert_close(L.Softmax(axis=1)(seq), seq.softmax(1))


@pytest.mark.parametrize(
    ("name", "ref"),
    [
        ("leaky_relu", lambda x: F.leaky_relu(x, 0.2)),  # keras.activations.leaky_relu slope
        ("gelu", F.gelu),
        ("swish", F.silu),
        ("silu", F.silu),
        ("selu", torch.selu),
        ("elu", F.elu),
        ("softplus", F.softplus),
        ("softsign", F.softsign),
        ("hard_sigmoid", lambda x: torch.clamp(x / 6 + 0.5, 0, 1)),  # Keras 3 formula
        ("exponential", torch.exp),
        ("linear", lambda x: x),
    ],
)
def test_string_activations_keras_programs_use(name, ref):
    torch.testing.assert_close(L.Activation(name)(X), ref(X))


# ------------------------------------------------------------------ merge layers
A, B, C = torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4)


@pytest.mark.parametrize(
    ("layer", "fn", "ref"),
    [
        (L.Add, L.add, A + B + C),
        (L.Multiply, L.multiply, A * B * C),
        (L.Average, L.average, (A + B + C) / 3),
        (L.Maximum, L.maximum, torch.maximum(torch.maximum(A, B), C)),
        (L.Minimum, L.minimum, torch.minimum(torch.minimum(A, B), C)),
    ],
)
def test_elementwise_merges(layer, fn, ref):
    torch.testing.assert_close(layer()([A, B, C]), ref)
    torch.testing.assert_close(fn([A, B, C]), ref)


def test_subtract_takes_two():
    torch.testing.assert_close(L.subtract([A, B]), A - B)
    with pytest.raises(DataError, match=r"Subtract '.*' takes 2 tensors; got 3"):
        L.Subtract()([A, B, C])


def test_merge_shape_mismatch_is_one_line_data_error():
    with pytest.raises(DataError) as info:
        L.Add(name="join")([torch.zeros(2, 3), torch.zeros(2, 4)])
    msg = str(info.value)
    assert "Add 'join'" in msg and "(2, 3)" in msg and "(2, 4)" in msg and "\n" not in msg
    with pytest.raises(DataError, match="takes a list of tensors"):
        L.Add()(torch.zeros(2, 3))
    with pytest.raises(DataError, match="match on every other axis"):
        L.Concatenate()([torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 5, 4)])


def test_concatenate_axis_rule():
    a, b = np.random.rand(2, 4, 5, 3), np.random.rand(2, 4, 5, 2)  # NHWC as Keras sees them
    ta, tb = (torch.from_numpy(v).permute(0, 3, 1, 2) for v in (a, b))
    out = L.concatenate([ta, tb])  # axis=-1: channels
    np.testing.assert_allclose(out.permute(0, 2, 3, 1).numpy(), np.concatenate([a, b], -1))
    c = np.random.rand(2, 4, 2, 3)
    tc = torch.from_numpy(c).permute(0, 3, 1, 2)
    out = L.Concatenate(axis=2)([ta, tc])  # Keras axis 2 = width
    np.testing.assert_allclose(out.permute(0, 2, 3, 1).numpy(), np.concatenate([a, c], 2))
    out = L.Concatenate(axis=1, data_format="channels_first")([ta, tb])
    torch.testing.assert_close(out, torch.cat([ta, tb], 1))
    torch.testing.assert_close(L.concatenate([A, B], axis=0), torch.cat([A, B], 0))


def test_dot_matches_einsum():
    a, b = np.random.rand(3, 4, 5), np.random.rand(3, 6, 5)
    out = L.Dot(axes=(2, 2))([torch.from_numpy(a), torch.from_numpy(b)])
    np.testing.assert_allclose(out.numpy(), np.einsum("nik,njk->nij", a, b))
    u, v = np.random.rand(3, 5), np.random.rand(3, 5)
    out = L.dot([torch.from_numpy(u), torch.from_numpy(v)], axes=1)
    np.testing.assert_allclose(out.numpy(), (u * v).sum(1, keepdims=True))
    cos = L.Dot(axes=1, normalize=True)([torch.from_numpy(u), torch.from_numpy(v)])
    ref = F.cosine_similarity(torch.from_numpy(u), torch.from_numpy(v))[:, None]
    torch.testing.assert_close(cos, ref)
    out = L.Dot(axes=(1, 2))([torch.from_numpy(u), torch.from_numpy(b)])
    np.testing.assert_allclose(out.numpy(), np.einsum("nk,njk->nj", u, b))


def test_merge_layers_resolve_by_name():
    assert isinstance(L.get("Concatenate", axis=1), L.Concatenate)
    assert L.get("concatenate", axis=1).axis == 1
    assert isinstance(L.get("Add"), L.Add)


# ------------------------------------------------------------------ misc / preprocessing
def test_lambda_runs_and_refuses_to_serialize():
    layer = L.Lambda(lambda t: t * 3)
    torch.testing.assert_close(layer(X), X * 3)
    with pytest.raises(ConfigError, match="cannot be saved") as info:
        L.serialize(layer)
    assert "Layer subclass" in str(info.value) and "\n" not in str(info.value)
    assert "lambda" in repr(layer)


def test_identity_rescaling_resizing():
    torch.testing.assert_close(L.Identity()(X), X)
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    torch.testing.assert_close(L.Rescaling(1 / 127.5, offset=-1)(x), x.float() / 127.5 - 1)
    img = torch.randn(2, 3, 8, 6)
    ref = F.interpolate(img, size=(4, 9), mode="bilinear", align_corners=False)
    torch.testing.assert_close(L.Resizing(4, 9)(img), ref)
    # tf.image.resize nearest with half-pixel centres: 4 -> 2 picks source pixels 1 and 3
    row = torch.arange(4.0).reshape(1, 1, 1, 4)
    assert L.Resizing(1, 2, interpolation="nearest")(row).flatten().tolist() == [1.0, 3.0]


def test_random_flip_is_identity_in_eval_and_flips_whole_images_in_training():
    x = torch.randn(64, 2, 3, 5)
    layer = L.RandomFlip("horizontal")
    torch.testing.assert_close(layer.eval()(x), x)
    torch.manual_seed(0)
    y = layer.train()(x)
    same = (y == x).flatten(1).all(1)
    flipped = (y == x.flip(3)).flatten(1).all(1)
    assert bool((same | flipped).all()) and 10 < int(flipped.sum()) < 54
    y = L.RandomFlip("vertical")(x)
    assert bool(((y == x) | (y == x.flip(2))).flatten(1).all(1).all())
    assert L.RandomFlip()(x, training=False) is x


def test_random_rotation_quarter_turn_is_counter_clockwise():
    x = torch.randn(2, 3, 6, 6)
    layer = L.RandomRotation((0.25, 0.25))  # exactly +90 degrees
    torch.testing.assert_close(layer.eval()(x), x)
    y = layer.train()(x)
    ref = torch.from_numpy(np.rot90(x.numpy(), 1, axes=(2, 3)).copy())  # CCW as displayed
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)


def test_noise_layers_act_only_in_training():
    x = torch.ones(20000)
    layer = L.GaussianNoise(0.5)
    torch.testing.assert_close(layer.eval()(x), x)
    torch.manual_seed(1)
    noise = layer.train()(x) - x
    assert abs(float(noise.std()) - 0.5) < 0.02 and abs(float(noise.mean())) < 0.02
    img = torch.ones(200, 4, 3, 3)
    y = L.SpatialDropout2D(0.5).train()(img)
    per_channel = y.flatten(2)
    assert bool(((per_channel == 0).all(2) | (per_channel == 2).all(2)).all())
    seq = torch.ones(200, 5, 4)
    y = L.SpatialDropout1D(0.5).train()(seq)
    assert bool(((y == 0).all(1) | (y == 2).all(1)).all())  # whole feature channels
    torch.testing.assert_close(L.SpatialDropout1D(0.5).eval()(seq), seq)


def test_random_zoom_in_by_two_on_a_ramp():
    w = 8
    ramp = torch.arange(float(w)).expand(2, 1, w, w).contiguous()  # value = column index
    layer = L.RandomZoom((-0.5, -0.5))  # Keras: negative = zoom in; here exactly 2x
    torch.testing.assert_close(layer.eval()(ramp), ramp)
    out = layer.train()(ramp)
    centre = (w - 1) / 2  # bilinear is exact on a ramp: slope halves around the centre
    expected = centre + (torch.arange(float(w)) - centre) * 0.5
    torch.testing.assert_close(out[0, 0, 3], expected)
    out = L.RandomZoom((1.0, 1.0), fill_mode="constant").train()(torch.ones(1, 1, 8, 8))
    assert float(out[0, 0, 0, 0]) == 0.0 and float(out[0, 0, 4, 4]) == 1.0  # zoom out pads
