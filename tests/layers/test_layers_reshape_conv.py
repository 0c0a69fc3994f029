"""Keras layout rules (Flatten/Reshape/Permute), Conv2DTranspose and the spatial layers.

References: numpy on the NHWC array Keras computes on, torch.nn counterparts with copied
weights, Keras' documented output-size formulas, and the adjoint of TF-"same" Conv2D.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deepfuse import Sequential
from deepfuse import layers as L
from deepfuse._utils.errors import ConfigError, DataError

RNG = np.random.default_rng(0)


def _nchw(nhwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(nhwc).permute(0, 3, 1, 2)


# ------------------------------------------------------------------ silent problem 1: Reshape
def test_keras_gan_generator_head_gives_keras_shape():
    # Issue 12, silent problem 1: Reshape((7, 7, 256)) was read as C=7, H=7, W=256.
    gen = Sequential(
        [
            L.Dense(7 * 7 * 256, input_shape=(100,)),
            L.Reshape((7, 7, 256)),
            L.Conv2DTranspose(128, 5, padding="same"),
        ]
    )
    out = gen(torch.randn(3, 100))
    assert tuple(out.shape) == (3, 128, 7, 7)  # NCHW of Keras' (3, 7, 7, 128)


def test_reshape_hwc_of_a_flat_nhwc_array_is_the_nchw_tensor():
    n, h, w, c = 2, 3, 4, 5
    arr = RNG.standard_normal((n, h * w * c)).astype(np.float32)
    out = L.Reshape((h, w, c))(torch.from_numpy(arr))
    torch.testing.assert_close(out, torch.from_numpy(arr.reshape(n, h, w, c)).permute(0, 3, 1, 2))


def test_reshape_channels_first_is_torch_reshape():
    arr = torch.randn(2, 60)
    out = L.Reshape((5, 3, 4), data_format="channels_first")(arr)
    torch.testing.assert_close(out, arr.reshape(2, 5, 3, 4))


def test_reshape_of_an_image_reads_the_keras_nhwc_view():
    nhwc = RNG.standard_normal((2, 4, 6, 3)).astype(np.float32)
    out = L.Reshape((24, 3))(_nchw(nhwc))
    torch.testing.assert_close(out, torch.from_numpy(nhwc.reshape(2, 24, 3)))


def test_flatten_channels_last_matches_numpy_nhwc_order():
    nhwc = RNG.standard_normal((3, 5, 4, 2)).astype(np.float32)
    x = _nchw(nhwc)
    torch.testing.assert_close(L.Flatten()(x), torch.from_numpy(nhwc.reshape(3, -1)))
    torch.testing.assert_close(L.Flatten(data_format="channels_first")(x), nn.Flatten()(x))
    seq = torch.randn(2, 3, 4)  # not an image: flattened as it is
    torch.testing.assert_close(L.Flatten()(seq), seq.reshape(2, -1))


def test_flatten_then_reshape_round_trips_images():
    x = torch.randn(2, 3, 5, 4)
    torch.testing.assert_close(L.Reshape((5, 4, 3))(L.Flatten()(x)), x)


def test_legacy_configs_without_data_format_load_channels_first():
    for cls, cfg in ((L.Flatten, {}), (L.Reshape, {"target_shape": [3, 4, 5]})):
        layer = L.deserialize({"class_name": cls.__name__, "config": cfg})
        assert layer.data_format == "channels_first"
        assert cls.from_config(dict(cfg)).data_format == "channels_first"
        assert cls(**cfg).get_config()["data_format"] == "channels_last"  # new default written
    x = torch.randn(2, 3, 4, 5)
    old = L.deserialize({"class_name": "Flatten", "config": {"name": "f"}})
    torch.testing.assert_close(old(x), x.flatten(1))


def test_zoo_models_keep_channels_first_flatten():
    from deepfuse.models import zoo

    for name in ("mlp", "cnn"):
        model = zoo.get(name)
        flats = [m for m in model.modules() if isinstance(m, L.Flatten)]
        assert flats and all(f.data_format == "channels_first" for f in flats)


def test_permute_image_axes_are_keras_axes():
    nhwc = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    out = L.Permute((2, 1, 3))(_nchw(nhwc))  # swap H and W in Keras' view
    torch.testing.assert_close(out, _nchw(np.ascontiguousarray(nhwc.transpose(0, 2, 1, 3))))
    seq = torch.randn(2, 3, 4)
    torch.testing.assert_close(L.Permute((2, 1))(seq), seq.transpose(1, 2))
    with pytest.raises(ConfigError, match=r"permutation of 1\.\.2"):
        L.Permute((0, 1))
    with pytest.raises(DataError, match="expects samples with 2 axes"):
        L.Permute((2, 1))(torch.randn(2, 3, 4, 5))


def test_repeat_vector_matches_numpy():
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    out = L.RepeatVector(4)(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), np.repeat(x[:, None, :], 4, axis=1))
    with pytest.raises(DataError, match=r"expected a 2-D input \(batch, features\)"):
        L.RepeatVector(2)(torch.randn(2, 3, 4))


# ------------------------------------------------------------------ Conv2DTranspose
def keras_length(size, k, s, padding, output_padding=None, d=1):
    """keras.src.utils.conv_utils.deconv_output_length, written from its documented formula."""
    k = k + (k - 1) * (d - 1)
    if output_padding is None:
        if padding == "valid":
            return size * s + max(k - s, 0)
        return size * s
    pad = k // 2 if padding == "same" else 0
    return (size - 1) * s + k - 2 * pad + output_padding


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize(
    ("k", "s"), [(1, 1), (2, 2), (3, 1), (3, 2), (4, 2), (5, 2), (2, 3), (5, 3)]
)
def test_conv2d_transpose_output_size_is_keras(padding, k, s):
    layer = L.Conv2DTranspose(2, k, strides=s, padding=padding)
    out = layer(torch.randn(1, 3, 7, 5))
    assert tuple(out.shape) == (
        1,
        2,
        keras_length(7, k, s, padding),
        keras_length(5, k, s, padding),
    )


@pytest.mark.parametrize(
    ("k", "s", "padding", "op", "d"),
    [(3, 2, "same", 1, 1), (3, 2, "valid", 1, 1), (4, 3, "same", 2, 1), (3, 1, "same", None, 2)],
)
def test_conv2d_transpose_output_padding_and_dilation_sizes(k, s, padding, op, d):
    layer = L.Conv2DTranspose(2, k, strides=s, padding=padding, output_padding=op, dilation_rate=d)
    out = layer(torch.randn(1, 3, 6, 6))
    assert out.shape[-1] == keras_length(6, k, s, padding, op, d)


@pytest.mark.parametrize(("k", "s"), [(3, 1), (3, 2), (5, 2), (2, 3)])
def test_conv2d_transpose_valid_matches_nn_conv_transpose(k, s):
    layer = L.Conv2DTranspose(4, k, strides=s, activation="relu")
    x = torch.randn(2, 3, 6, 5)
    y = layer(x)
    ref = nn.ConvTranspose2d(3, 4, k, stride=s)
    with torch.no_grad():
        ref.weight.copy_(layer.weight)
        ref.bias.copy_(layer.bias)
    expected = torch.relu(ref(x))
    # Keras pads the end with zeros (bias only) when k < s; torch stops earlier.
    h, w = expected.shape[2:]
    torch.testing.assert_close(y[:, :, :h, :w], expected)
    if k < s:
        torch.testing.assert_close(
            y[:, :, h:, :], torch.relu(layer.bias)[None, :, None, None].expand_as(y[:, :, h:, :])
        )


def test_conv2d_transpose_same_stride1_matches_nn_conv_transpose():
    layer = L.Conv2DTranspose(4, 5, padding="same")
    x = torch.randn(2, 3, 6, 6)
    y = layer(x)
    ref = nn.ConvTranspose2d(3, 4, 5, padding=2)
    with torch.no_grad():
        ref.weight.copy_(layer.weight)
        ref.bias.copy_(layer.bias)
    torch.testing.assert_close(y, ref(x))


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize(("k", "s"), [(3, 2), (4, 2), (5, 2), (3, 3), (1, 2)])
def test_conv2d_transpose_is_the_adjoint_of_tf_conv2d(padding, k, s):
    # TF defines conv2d_transpose as the gradient of conv2d with the same padding; deepfuse's
    # Conv2D implements TF padding (tested against TF-"same" sizes elsewhere).
    layer = L.Conv2DTranspose(3, k, strides=s, padding=padding, use_bias=False)
    g = torch.randn(2, 4, 5, 6)
    y = layer(g)
    conv = L.Conv2D(4, k, strides=s, padding=padding, use_bias=False)
    x = torch.zeros(2, 3, *y.shape[2:], requires_grad=True)
    conv(x.detach())
    with torch.no_grad():
        conv.weight.copy_(layer.weight)  # (out=4, in=3, k, k): the transposed layer's layout
    out = conv(x)
    assert out.shape == g.shape
    (grad,) = torch.autograd.grad((out * g).sum(), x)
    torch.testing.assert_close(y, grad)


def test_conv1d_transpose_channels_last_matches_torch():
    layer = L.Conv1DTranspose(4, 3, strides=2)
    x = torch.randn(2, 7, 3)  # (N, steps, channels)
    y = layer(x)
    ref = F.conv_transpose1d(x.transpose(1, 2), layer.weight, layer.bias, stride=2)
    torch.testing.assert_close(y, ref.transpose(1, 2))
    assert y.shape == (2, keras_length(7, 3, 2, "valid"), 4)


def test_conv2d_transpose_config_and_errors():
    layer = L.get("Conv2DTranspose", filters=8, kernel_size=3, strides=2, padding="same")
    assert isinstance(layer, L.Conv2DTranspose)
    cfg = layer.get_config()
    assert cfg["filters"] == 8 and cfg["padding"] == "same" and cfg["output_padding"] is None
    assert L.Conv2DTranspose.from_config(cfg).get_config() == cfg
    assert L.Conv2DTranspose(2, 3, input_shape=(8, 8, 3)).torch_input_shape == (3, 8, 8)
    L.Conv2DTranspose(2, 3, data_format="channels_last")
    with pytest.raises(ConfigError, match="'output_padding' argument of Conv2DTranspose"):
        L.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ConfigError, match="Unknown 'padding' value for Conv2DTranspose"):
        L.Conv2DTranspose(2, 3, padding="full")
    layer = L.Conv2DTranspose(2, 3)
    layer(torch.randn(1, 3, 4, 4))
    with pytest.raises(DataError, match="built for 3 channels"):
        layer(torch.randn(1, 2, 4, 4))


# ------------------------------------------------------------------ data_format on 2-D layers
def test_keras_channels_last_data_format_is_accepted_on_2d_layers():
    x = torch.randn(2, 3, 8, 8)
    a = L.Conv2D(4, 3, data_format="channels_last")
    b = L.Conv2D(4, 3)
    b(x)
    a(x)
    a.load_state_dict(b.state_dict())
    torch.testing.assert_close(a(x), b(x))
    for cls in (L.MaxPool2D, L.AveragePooling2D):
        torch.testing.assert_close(cls(2, data_format="channels_last")(x), cls(2)(x))
    torch.testing.assert_close(
        L.GlobalAveragePooling2D(data_format="channels_last")(x), x.mean((2, 3))
    )
    assert L.Conv2D(4, 3, data_format="channels_first")(x).shape == (2, 4, 6, 6)


# ------------------------------------------------------------------ spatial layers
def test_upsampling2d_nearest_and_bilinear():
    x = torch.randn(2, 3, 4, 5)
    expected = np.repeat(np.repeat(x.numpy(), 2, axis=2), 3, axis=3)
    np.testing.assert_allclose(L.UpSampling2D((2, 3))(x).numpy(), expected)
    # tf.image.resize bilinear (half-pixel centres): [0, 1] -> [0, .25, .75, 1]
    row = torch.tensor([[[[0.0, 1.0]]]])
    out = L.UpSampling2D((1, 2), interpolation="bilinear")(row)
    torch.testing.assert_close(out.flatten(), torch.tensor([0.0, 0.25, 0.75, 1.0]))


def test_upsampling1d_repeats_steps():
    x = torch.randn(2, 4, 3)
    np.testing.assert_allclose(L.UpSampling1D(2)(x).numpy(), np.repeat(x.numpy(), 2, axis=1))


@pytest.mark.parametrize(
    ("padding", "np_pad"),
    [(1, ((1, 1), (1, 1))), ((1, 2), ((1, 1), (2, 2))), (((0, 1), (2, 3)), ((0, 1), (2, 3)))],
)
def test_zero_padding2d_matches_numpy(padding, np_pad):
    x = torch.randn(2, 3, 4, 5)
    expected = np.pad(x.numpy(), ((0, 0), (0, 0), *np_pad))
    np.testing.assert_allclose(L.ZeroPadding2D(padding)(x).numpy(), expected)


@pytest.mark.parametrize(
    ("cropping", "rows", "cols"),
    [
        (1, slice(1, -1), slice(1, -1)),
        ((1, 2), slice(1, -1), slice(2, -2)),
        (((0, 1), (2, 0)), slice(0, -1), slice(2, None)),
    ],
)
def test_cropping2d_matches_numpy(cropping, rows, cols):
    x = torch.randn(2, 3, 6, 7)
    np.testing.assert_allclose(L.Cropping2D(cropping)(x).numpy(), x.numpy()[:, :, rows, cols])


def test_1d_padding_and_cropping_on_steps():
    x = torch.randn(2, 6, 3)
    np.testing.assert_allclose(
        L.ZeroPadding1D((1, 2))(x).numpy(), np.pad(x.numpy(), ((0, 0), (1, 2), (0, 0)))
    )
    np.testing.assert_allclose(L.Cropping1D((2, 1))(x).numpy(), x.numpy()[:, 2:-1])
    with pytest.raises(DataError, match="leaving nothing"):
        L.Cropping1D(3)(x)
    with pytest.raises(ConfigError, match="'padding' argument of ZeroPadding2D"):
        L.ZeroPadding2D((1, 2, 3))
    with pytest.raises(DataError, match="expected a 4-D input"):
        L.UpSampling2D()(x)


def test_declared_keras_image_shapes_feed_channels_last_arrays():
    nhwc = RNG.standard_normal((5, 6, 5, 3)).astype(np.float32)
    model = Sequential([L.Flatten(input_shape=(6, 5, 3)), L.Dense(3)])
    dense = model.layers[1]
    expected = nhwc.reshape(5, -1) @ dense.weight.detach().numpy().T + dense.bias.detach().numpy()
    np.testing.assert_allclose(model.predict(nhwc), expected, rtol=1e-5, atol=1e-5)

    images = RNG.integers(0, 256, (3, 6, 6, 3)).astype(np.float32)
    model = Sequential(
        [L.Rescaling(1 / 255, input_shape=(6, 6, 3)), L.Conv2D(2, 3), L.Flatten(), L.Dense(2)]
    )
    conv, dense = model.layers[1], model.layers[3]
    x = torch.from_numpy(images).permute(0, 3, 1, 2) / 255
    maps = F.conv2d(x, conv.weight, conv.bias).permute(0, 2, 3, 1).flatten(1)  # Keras order
    np.testing.assert_allclose(
        model.predict(images), dense(maps).detach().numpy(), rtol=1e-5, atol=1e-5
    )
