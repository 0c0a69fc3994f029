"""get_weights / set_weights in Keras' order and layout, per layer and per model.

References: the shapes and outputs below were printed by real Keras 3.15.1 (torch backend,
/work/kerasvenv) for the same layers given the same weights (``_fill``), and numpy computations
of Keras' documented formulas (``x @ kernel + bias``, channels-last cross-correlation).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepfuse as keras
from deepfuse import layers
from deepfuse._utils.errors import UserError


def _fill(shapes):
    """Deterministic weights (the same formula fed to real Keras for the references below)."""
    out, k = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append((0.5 * np.sin(np.arange(k, k + n) * 0.7 + 0.3)).reshape(s).astype("float32"))
        k += n
    return out


X_SEQ = np.cos(np.arange(12) * 0.9).reshape(1, 4, 3).astype("float32")  # (N, steps, features)
X_IMG = np.cos(np.arange(18) * 0.9).reshape(1, 3, 3, 2).astype("float32")  # NHWC


def _nchw(x):
    return torch.tensor(x.transpose(0, 3, 1, 2))


# --------------------------------------------------------------- layouts printed by real Keras
def test_recurrent_weight_shapes_match_keras():
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            layers.GRU(4, return_sequences=True),
            layers.LSTM(2, return_sequences=True),
            layers.Bidirectional(layers.SimpleRNN(3)),
        ]
    )
    # real Keras: GRU [kernel, recurrent, bias (2, 3u)], LSTM, then forward + backward SimpleRNN
    assert [w.shape for w in model.get_weights()] == [
        (3, 12), (4, 12), (2, 12), (4, 8), (2, 8), (8,),
        (2, 3), (3, 3), (3,), (2, 3), (3, 3), (3,),
    ]  # fmt: skip


def test_conv_norm_and_dense_weight_shapes_match_keras():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            layers.Conv2D(4, 3),
            layers.Conv2D(4, 3, groups=2),
            layers.Conv2DTranspose(5, 3),
            layers.BatchNormalization(),
            layers.Flatten(),
            layers.Dense(2),
        ]
    )
    assert [w.shape for w in model.get_weights()] == [
        (3, 3, 3, 4), (4,), (3, 3, 2, 4), (4,), (3, 3, 5, 4), (5,),
        (5,), (5,), (5,), (5,), (180, 2), (2,),
    ]  # fmt: skip
    seq = keras.Sequential(
        [
            keras.Input((7, 3)),
            layers.Conv1D(4, 3),
            layers.Conv1DTranspose(5, 2),
            layers.BatchNormalization(center=False),
        ]
    )
    assert [w.shape for w in seq.get_weights()] == [
        (3, 3, 4), (4,), (2, 5, 4), (5,), (5,), (5,), (5,),
    ]  # fmt: skip
    dense = layers.Dense(3, trainable=False)
    emb = keras.Sequential([keras.Input((2,)), dense, layers.Embedding(10, 4)])
    assert [w.shape for w in emb.get_weights()] == [(2, 3), (3,), (10, 4)]


# --------------------------------------------------------------- outputs printed by real Keras
KERAS_RNN_OUTPUTS = {  # real Keras: Sequential([Input((4, 3)), layer]).predict(X_SEQ)
    "gru": (layers.GRU, [[-0.321086, -0.289157]]),
    "lstm": (layers.LSTM, [[-0.293119, 0.013557]]),
    "rnn": (layers.SimpleRNN, [[-0.579016, 0.09453]]),
}


@pytest.mark.parametrize("name", sorted(KERAS_RNN_OUTPUTS))
def test_recurrent_layer_given_keras_weights_computes_what_keras_computes(name):
    cls, expected = KERAS_RNN_OUTPUTS[name]
    layer = cls(2)
    layer(torch.tensor(X_SEQ))
    layer.set_weights(_fill([w.shape for w in layer.get_weights()]))
    np.testing.assert_allclose(layer(torch.tensor(X_SEQ)).detach(), expected, atol=2e-6)


def test_bidirectional_gru_weights_are_forward_then_backward_as_in_keras():
    layer = layers.Bidirectional(layers.GRU(2))
    layer(torch.tensor(X_SEQ))
    layer.set_weights(_fill([w.shape for w in layer.get_weights()]))
    expected = [[-0.321086, -0.289157, 0.341814, 0.26184]]  # real Keras, merge_mode="concat"
    np.testing.assert_allclose(layer(torch.tensor(X_SEQ)).detach(), expected, atol=2e-6)


def test_conv2d_transpose_given_keras_weights_computes_what_keras_computes():
    layer = layers.Conv2DTranspose(3, 2, strides=2)
    layer(_nchw(X_IMG))
    layer.set_weights(_fill([w.shape for w in layer.get_weights()]))
    got = layer(_nchw(X_IMG)).detach().numpy().transpose(0, 2, 3, 1)  # NHWC as Keras prints
    assert got.shape == (1, 6, 6, 3)
    expected = [  # real Keras: out[0, :2, :2, :]; sum of all -39.12577
        [[-0.082739, 0.272169, -0.340618], [-1.25538, -0.523711, 0.561475]],
        [[-0.152848, -1.051016, -0.720306], [-0.061264, 0.261898, -0.365585]],
    ]
    np.testing.assert_allclose(got[0, :2, :2], expected, atol=2e-6)
    assert got.sum() == pytest.approx(-39.12577, abs=1e-4)

    same = layers.Conv2DTranspose(2, 3, strides=2, padding="same")
    same(_nchw(X_IMG))
    same.set_weights(_fill([w.shape for w in same.get_weights()]))
    got = same(_nchw(X_IMG)).detach().numpy().transpose(0, 2, 3, 1)
    expected = [
        [[0.588823, 1.14371], [0.010151, -0.325407]],
        [[0.518714, -0.179475], [-0.369536, 0.86871]],
    ]
    np.testing.assert_allclose(got[0, :2, :2], expected, atol=2e-6)
    assert got.sum() == pytest.approx(23.48102, abs=1e-4)


# --------------------------------------------------------------- numpy formulas of Keras' docs
def test_dense_output_is_x_at_kernel_plus_bias_in_numpy():
    layer = layers.Dense(3)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    y = layer(torch.tensor(x)).detach().numpy()
    kernel, bias = layer.get_weights()
    assert kernel.shape == (4, 3)  # Keras (in, units); torch keeps (units, in)
    np.testing.assert_allclose(y, x @ kernel + bias, rtol=1e-5, atol=1e-6)


def test_conv2d_output_is_channels_last_cross_correlation_in_numpy():
    layer = layers.Conv2D(3, 2)
    layer(_nchw(X_IMG))
    layer.set_weights(_fill([w.shape for w in layer.get_weights()]))
    kernel, bias = layer.get_weights()  # (kh, kw, in, filters)
    expected = np.zeros((2, 2, 3), "float32")
    for i in range(2):
        for j in range(2):
            patch = X_IMG[0, i : i + 2, j : j + 2, :]  # (kh, kw, in)
            expected[i, j] = np.einsum("abc,abcf->f", patch, kernel) + bias
    got = layer(_nchw(X_IMG)).detach().numpy().transpose(0, 2, 3, 1)[0]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert got.sum() == pytest.approx(-4.72954, abs=1e-4)  # real Keras' output, summed


def test_conv1d_with_groups_matches_numpy_grouped_correlation():
    layer = layers.Conv1D(4, 2, groups=2)
    x = np.random.default_rng(1).normal(size=(1, 5, 6)).astype("float32")  # (N, steps, ch)
    y = layer(torch.tensor(x)).detach().numpy()[0]
    kernel, bias = layer.get_weights()
    assert kernel.shape == (2, 3, 4)  # (k, in/groups, filters)
    expected = np.zeros((4, 4), "float32")
    for t in range(4):
        for f in range(4):
            g = f // 2  # filters 0-1 read channels 0-2, filters 2-3 channels 3-5
            expected[t, f] = (x[0, t : t + 2, 3 * g : 3 * g + 3] * kernel[:, :, f]).sum() + bias[f]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------- round trips and errors
@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.Dense(3),
        lambda: layers.LSTM(3, bidirectional=True, num_layers=2),
        lambda: layers.GRU(3),
        lambda: layers.SimpleRNN(3, use_bias=False),
        lambda: layers.Embedding(10, 3),
        lambda: layers.LayerNormalization(),
        lambda: layers.BatchNormalization(),
    ],
)
def test_set_then_get_returns_the_arrays_and_the_function_is_kept(make):
    layer = make()
    x = (
        torch.arange(8).reshape(2, 4)
        if isinstance(layer, layers.Embedding)
        else torch.randn(2, 4, 5)
    )
    layer(x)
    values = [abs(v) + 0.1 for v in _fill([w.shape for w in layer.get_weights()])]  # variance > 0
    layer.set_weights(values)
    for got, want in zip(layer.get_weights(), values, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    layer.eval()
    clone = make()
    clone(x)
    clone.eval()
    clone.set_weights(layer.get_weights())
    torch.testing.assert_close(clone(x), layer(x))


def test_lstm_bias_is_the_sum_of_torchs_two_and_set_puts_it_in_bias_ih():
    layer = layers.LSTM(2)
    layer(torch.randn(1, 3, 4))
    with torch.no_grad():
        layer.rnn.bias_hh_l0.normal_()
    x = torch.randn(2, 3, 4)
    before = layer(x)
    kernel, recurrent, bias = layer.get_weights()
    np.testing.assert_allclose(
        bias, (layer.rnn.bias_ih_l0 + layer.rnn.bias_hh_l0).detach().numpy(), rtol=1e-6
    )
    np.testing.assert_array_equal(kernel, layer.rnn.weight_ih_l0.detach().numpy().T)
    layer.set_weights([kernel, recurrent, bias])
    assert torch.count_nonzero(layer.rnn.bias_hh_l0) == 0
    torch.testing.assert_close(layer(x), before)


def test_model_round_trip_and_errors_name_the_layer():
    def make():
        return keras.Sequential(
            [
                layers.Dense(4, input_shape=(3,), name="hidden"),
                layers.BatchNormalization(name="norm"),
                layers.Dense(2, name="probs"),
            ]
        )

    a, b = make(), make()
    b.set_weights(a.get_weights())
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.testing.assert_array_equal(b.predict(x, verbose=0), a.predict(x, verbose=0))
    weights = a.get_weights()
    assert [w.shape for w in weights] == [(3, 4), (4,), (4,), (4,), (4,), (4,), (4, 2), (2,)]
    bad = [*weights[:6], weights[6].T, weights[7]]
    with pytest.raises(UserError, match=r"Dense 'probs'.*weight 0 has shape \(4, 2\).*\(2, 4\)"):
        b.set_weights(bad)
    with pytest.raises(UserError, match=r"got 7 arrays but the model has 8 weights"):
        b.set_weights(weights[:7])


def test_a_shared_layer_counts_once_in_model_weights():
    shared = layers.Dense(2, name="shared")
    left, right = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    model = keras.Model([left, right], layers.add([shared(left), shared(right)]))
    assert [w.shape for w in model.get_weights()] == [(3, 2), (2,)]
