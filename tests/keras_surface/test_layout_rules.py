"""Keras' channels-last reading of shapes and axes where deepfuse computes NCHW inside.

Regressions: LayerNormalization on image tensors normalised the width axis (Keras: the channels),
and ``Input(shape=(4, 4, 512))`` was read as channels-first (4 channels of 4 x 512).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepfuse as keras
from deepfuse import layers
from deepfuse.layers import LayerNormalization


def test_layer_norm_on_images_normalises_each_pixels_channels_as_keras():
    x = torch.randn(2, 5, 6, 7)  # NCHW inside; Keras sees (2, 6, 7, 5)
    norm = LayerNormalization(epsilon=1e-3)
    y = norm(x)
    assert tuple(norm.weight.shape) == (5,)
    nhwc = x.permute(0, 2, 3, 1).numpy()
    mean, var = nhwc.mean(-1, keepdims=True), nhwc.var(-1, keepdims=True)
    expected = (nhwc - mean) / np.sqrt(var + 1e-3)
    np.testing.assert_allclose(y.permute(0, 2, 3, 1).detach().numpy(), expected, atol=1e-5)


def test_layer_norm_saved_before_keeps_normalising_the_last_axis():
    legacy = {k: v for k, v in LayerNormalization().get_config().items() if k != "data_format"}
    old = LayerNormalization.from_config(legacy)
    x = torch.randn(2, 5, 6, 7)
    torch.testing.assert_close(old(x), torch.nn.functional.layer_norm(x, (7,), eps=1e-3))


@pytest.mark.parametrize(
    ("shape", "out"),
    [
        ((4, 4, 512), (None, 4, 4, 8)),
        ((3, 3, 2), (None, 3, 3, 8)),
        ((28, 28, 1), (None, 28, 28, 8)),
    ],
)
def test_square_image_shapes_are_height_width_channels(shape, out):
    x = keras.Input(shape=shape)
    assert layers.Conv2D(8, 1)(x).shape == out
    model = keras.Sequential([layers.Conv2D(8, 1, input_shape=shape)])
    assert model.output_shape == out


def test_count_params_counts_batchnorm_statistics_as_keras():
    model = keras.Sequential([layers.Dense(4, input_shape=(3,)), layers.BatchNormalization()])
    assert model.count_params() == (3 * 4 + 4) + 4 * 4  # Keras: 16 + gamma, beta, mean, variance
    assert model.layers[1].count_params() == 16


def test_sequential_summary_shows_keras_shapes():
    model = keras.Sequential(
        [keras.Input(shape=(12, 12, 1)), layers.Conv2D(4, 3), layers.Flatten()]
    )
    text = model.summary(print_fn=None)
    assert "(None, 12, 12, 1)" in text and "(None, 10, 10, 4)" in text and "(None, 400)" in text
