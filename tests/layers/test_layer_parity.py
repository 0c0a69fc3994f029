"""Each layer matches its torch.nn counterpart on the same weights (outputs and gradients)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deepfuse import layers as L

torch.manual_seed(0)


def _copy(dst: nn.Module, src: nn.Module) -> None:
    dst.load_state_dict(src.state_dict(), strict=False)


def test_dense_matches_linear_outputs_and_gradients():
    x = torch.randn(8, 5, requires_grad=True)
    layer = L.Dense(3, activation="relu")
    layer(x)
    ref = nn.Linear(5, 3)
    _copy(ref, layer)
    y, y_ref = layer(x), torch.relu(ref(x))
    torch.testing.assert_close(y, y_ref)
    gx = torch.autograd.grad(y.sum(), (x, layer.weight, layer.bias))
    gx_ref = torch.autograd.grad(y_ref.sum(), (x, ref.weight, ref.bias))
    for a, b in zip(gx, gx_ref):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("kwargs", "torch_kwargs"),
    [
        ({"kernel_size": 3}, {"kernel_size": 3}),
        ({"kernel_size": 3, "padding": "same"}, {"kernel_size": 3, "padding": "same"}),
        (
            {"kernel_size": (3, 5), "strides": 2, "padding": 1},
            {"kernel_size": (3, 5), "stride": 2, "padding": 1},
        ),
        (
            {"kernel_size": 3, "dilation_rate": 2, "groups": 2},
            {"kernel_size": 3, "dilation": 2, "groups": 2},
        ),
    ],
)
def test_conv2d_matches_torch(kwargs, torch_kwargs):
    x = torch.randn(2, 4, 11, 11, requires_grad=True)
    layer = L.Conv2D(6, **kwargs)
    layer(x)
    ref = nn.Conv2d(4, 6, **torch_kwargs)
    _copy(ref, layer)
    y, y_ref = layer(x), ref(x)
    torch.testing.assert_close(y, y_ref)
    g = torch.autograd.grad(y.square().sum(), (x, layer.weight))
    g_ref = torch.autograd.grad(y_ref.square().sum(), (x, ref.weight))
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("size", "kernel", "stride"), [(9, 3, 2), (10, 3, 2), (8, 4, 3), (7, 2, 1)]
)
def test_conv2d_same_padding_follows_tensorflow(size, kernel, stride):
    x = torch.randn(1, 2, size, size)
    layer = L.Conv2D(3, kernel, strides=stride, padding="same")
    y = layer(x)
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    padded = F.pad(x, (total // 2, total - total // 2) * 2)
    torch.testing.assert_close(y, F.conv2d(padded, layer.weight, layer.bias, stride))
    assert y.shape[-1] == out


def test_conv1d_channels_last_and_first_match_torch():
    x = torch.randn(3, 12, 4)  # (N, steps, channels)
    layer = L.Conv1D(5, 3, strides=2)
    y = layer(x)
    ref = nn.Conv1d(4, 5, 3, stride=2)
    _copy(ref, layer)
    torch.testing.assert_close(y, ref(x.transpose(1, 2)).transpose(1, 2))
    first = L.Conv1D(5, 3, strides=2, data_format="channels_first")
    first.build([None, 4, 12])
    _copy(first, ref)
    torch.testing.assert_close(first(x.transpose(1, 2)), ref(x.transpose(1, 2)))


def test_conv1d_causal_does_not_see_the_future():
    x = torch.randn(1, 10, 2)
    layer = L.Conv1D(3, 3, padding="causal", dilation_rate=2)
    y = layer(x)
    x2 = x.clone()
    x2[:, 6:] += 1.0
    y2 = layer(x2)
    torch.testing.assert_close(y[:, :6], y2[:, :6])
    assert not torch.allclose(y[:, 6:], y2[:, 6:])


@pytest.mark.parametrize(
    ("layer", "ref"),
    [
        (L.MaxPool2D(2), nn.MaxPool2d(2)),
        (L.MaxPool2D(3, strides=2), nn.MaxPool2d(3, 2)),
        (L.AvgPool2D(2), nn.AvgPool2d(2)),
        (L.MaxPool2D(2, padding="same"), nn.MaxPool2d(2, ceil_mode=True)),
        (L.MaxPool2D(3, strides=1, padding="same"), nn.MaxPool2d(3, 1, padding=1)),
        (
            L.AvgPool2D(3, strides=1, padding="same"),
            nn.AvgPool2d(3, 1, padding=1, count_include_pad=False),
        ),
        (L.GlobalMaxPool2D(), nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())),
        (L.GlobalAvgPool2D(), nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())),
    ],
)
def test_pool2d_matches_torch(layer, ref):
    x = torch.randn(2, 3, 7, 7)
    torch.testing.assert_close(layer(x), ref(x))


def test_avgpool_same_with_asymmetric_padding_averages_real_values():
    x = torch.randn(1, 1, 5, 5)
    y = L.AvgPool2D(2, padding="same")(x)  # pads one row/column at the end
    assert y.shape == (1, 1, 3, 3)
    torch.testing.assert_close(y[0, 0, 2, 2], x[0, 0, 4, 4])
    torch.testing.assert_close(y[0, 0, 0, 2], x[0, 0, 0:2, 4].mean())


@pytest.mark.parametrize(
    ("layer", "ref"),
    [
        (L.MaxPool1D(2), nn.MaxPool1d(2)),
        (L.AvgPool1D(3, strides=2), nn.AvgPool1d(3, 2)),
        (L.GlobalMaxPool1D(), nn.Sequential(nn.AdaptiveMaxPool1d(1), nn.Flatten())),
        (L.GlobalAvgPool1D(), nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten())),
    ],
)
def test_pool1d_channels_last_matches_torch(layer, ref):
    x = torch.randn(2, 9, 4)  # (N, steps, channels)
    y_ref = ref(x.transpose(1, 2))
    y = layer(x)
    torch.testing.assert_close(y, y_ref if y_ref.dim() == 2 else y_ref.transpose(1, 2))


@pytest.mark.parametrize(
    ("make", "ref", "x", "to_ref"),
    [
        (lambda: L.BatchNorm(), nn.BatchNorm1d(6, 1e-3, 0.01), torch.randn(8, 6), None),
        (lambda: L.BatchNorm(axis=1), nn.BatchNorm1d(6, 1e-3, 0.01), torch.randn(8, 6, 5), None),
        (lambda: L.BatchNorm(), nn.BatchNorm1d(6, 1e-3, 0.01), torch.randn(8, 5, 6), "t"),
        (
            lambda: L.BatchNorm(momentum=0.9, epsilon=1e-5),
            nn.BatchNorm2d(6, 1e-5, 0.1),
            torch.randn(8, 6, 4, 4),
            None,
        ),
    ],
)
def test_batchnorm_matches_torch(make, ref, x, to_ref):
    layer = make()
    layer.build(x.shape)
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.uniform_(-0.5, 0.5)
    _copy(ref, layer)

    def run(m, inp):
        return m(inp.transpose(1, 2)).transpose(1, 2) if to_ref else m(inp)

    for mode in (True, True, False):  # two training steps update running stats, then eval
        layer.train(mode)
        ref.train(mode)
        torch.testing.assert_close(layer(x), run(ref, x))
    torch.testing.assert_close(layer.running_mean, ref.running_mean)
    torch.testing.assert_close(layer.running_var, ref.running_var)


def test_layernorm_matches_torch():
    x = torch.randn(4, 7, 6, requires_grad=True)
    layer = L.LayerNorm()
    layer(x)
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
    ref = nn.LayerNorm(6, eps=1e-3)
    _copy(ref, layer)
    y, y_ref = layer(x), ref(x)
    torch.testing.assert_close(y, y_ref)
    g = torch.autograd.grad((y * y_ref.detach()).sum(), (x, layer.weight))
    g_ref = torch.autograd.grad((y_ref * y_ref.detach()).sum(), (x, ref.weight))
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)


def test_embedding_matches_torch_and_keeps_padding_zero():
    layer = L.Embedding(10, 4, mask_zero=True)
    assert layer.padding_idx == 0 and layer.weight[0].abs().sum() == 0
    ref = nn.Embedding(10, 4, padding_idx=0)
    _copy(ref, layer)
    ids = torch.tensor([[1, 2, 0], [9, 0, 0]])
    torch.testing.assert_close(layer(ids), ref(ids))
    layer(ids).sum().backward()
    assert layer.weight.grad[0].abs().sum() == 0


RNNS = [(L.SimpleRNN, nn.RNN), (L.LSTM, nn.LSTM), (L.GRU, nn.GRU)]


@pytest.mark.parametrize(("cls", "torch_cls"), RNNS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_rnn_matches_torch_final_state_and_sequences(cls, torch_cls, bidirectional, num_layers):
    x = torch.randn(3, 7, 4)
    units = 5
    seq = cls(units, return_sequences=True, bidirectional=bidirectional, num_layers=num_layers)
    last = cls(units, bidirectional=bidirectional, num_layers=num_layers)
    seq(x)
    last.build(x.shape)
    last.load_state_dict(seq.state_dict())
    ref = torch_cls(4, units, num_layers, batch_first=True, bidirectional=bidirectional)
    ref.load_state_dict(seq.rnn.state_dict())
    out_ref, _ = ref(x)
    torch.testing.assert_close(seq(x), out_ref)
    # Keras: final state = forward output at the last step (++ backward output at step 0).
    expected = out_ref[:, -1, :units]
    if bidirectional:
        expected = torch.cat([expected, out_ref[:, 0, units:]], dim=1)
    y = last(x)
    assert y.shape == (3, units * (2 if bidirectional else 1))
    torch.testing.assert_close(y, expected)


def test_lstm_gradients_match_torch():
    x = torch.randn(2, 5, 3, requires_grad=True)
    layer = L.LSTM(4)
    y = layer(x)
    ref = nn.LSTM(3, 4, batch_first=True)
    ref.load_state_dict(layer.rnn.state_dict())
    y_ref = ref(x)[0][:, -1]
    g = torch.autograd.grad(y.square().sum(), (x, layer.rnn.weight_hh_l0))
    g_ref = torch.autograd.grad(y_ref.square().sum(), (x, ref.weight_hh_l0))
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("cls", [L.LSTM, L.GRU])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_lengths_ignore_right_padding(cls, bidirectional):
    layer = cls(6, bidirectional=bidirectional).eval()
    x = torch.randn(3, 8, 4)
    lengths = torch.tensor([8, 5, 2])
    padded = x.clone()
    for i, n in enumerate(lengths):
        padded[i, n:] = 0.0
    y = layer(padded, lengths=lengths)
    for i, n in enumerate(lengths):
        torch.testing.assert_close(y[i], layer(x[i : i + 1, :n])[0])
    seqs = cls(6, bidirectional=bidirectional, return_sequences=True)
    out = seqs(padded, lengths=lengths)
    assert out.shape == (3, 8, 6 * (2 if bidirectional else 1))
    assert out[2, 2:].abs().sum() == 0


@pytest.mark.parametrize(("cls", "torch_cls"), RNNS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_rnn_lengths_match_torch_packed_sequences(cls, torch_cls, bidirectional, num_layers):
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    x = torch.randn(4, 7, 3, requires_grad=True)
    lengths = torch.tensor([7, 3, 1, 5])
    seq = cls(4, return_sequences=True, bidirectional=bidirectional, num_layers=num_layers)
    last = cls(4, bidirectional=bidirectional, num_layers=num_layers)
    seq.build(x.shape)
    last.build(x.shape)
    last.load_state_dict(seq.state_dict())
    ref = torch_cls(3, 4, num_layers, batch_first=True, bidirectional=bidirectional)
    ref.load_state_dict(seq.rnn.state_dict())
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, h = ref(packed)
    out = pad_packed_sequence(out, batch_first=True, total_length=7)[0]
    h = h[0] if isinstance(h, tuple) else h
    final = torch.cat([h[-2], h[-1]], 1) if bidirectional else h[-1]
    y_seq, y_last = seq(x, lengths=lengths), last(x, lengths=lengths)
    torch.testing.assert_close(y_seq, out)
    torch.testing.assert_close(y_last, final)
    g = torch.autograd.grad(y_last.square().sum(), (x, last.rnn.weight_ih_l0))
    g_ref = torch.autograd.grad(final.square().sum(), (x, ref.weight_ih_l0))
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)


def test_keras_default_initialisation():
    dense = L.Dense(50)
    dense.build([None, 30])
    limit = (6 / 80) ** 0.5
    assert dense.weight.abs().max() <= limit and dense.weight.abs().max() > 0.8 * limit
    assert dense.bias.abs().sum() == 0
    lstm = L.LSTM(8)
    lstm.build([None, None, 3])
    assert torch.all(lstm.rnn.bias_ih_l0[8:16] == 1) and lstm.rnn.bias_hh_l0.abs().sum() == 0
    w = lstm.rnn.weight_hh_l0  # (4*units, units) with orthonormal columns
    torch.testing.assert_close(w.T @ w, torch.eye(8), atol=1e-5, rtol=0)
    emb = L.Embedding(100, 8)
    assert emb.weight.abs().max() <= 0.05
    he = L.Conv2D(4, 3, kernel_initializer="he_normal")
    he.build([None, 16, 8, 8])
    assert 0.5 < he.weight.std().item() / (2 / (16 * 9)) ** 0.5 < 1.5
