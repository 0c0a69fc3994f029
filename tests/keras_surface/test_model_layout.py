"""Targets and outputs in Keras' channels-last layout (issue 12, silent problem 5): image targets
are converted like the images, ``predict`` returns NHWC, shapes read in Keras' layout, and a
``Model`` subclass's layout does not depend on the order its layers were assigned."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

import deepfuse as keras
from deepfuse import layers


def images(n: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 8, 8, 1), dtype=np.float32)  # NHWC


def test_autoencoder_targets_are_converted_like_the_images_and_predict_is_nhwc():
    torch.manual_seed(0)
    x = images()
    model = keras.Sequential(
        [
            layers.Conv2D(4, 3, padding="same", activation="relu", input_shape=(8, 8, 1)),
            layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x, epochs=1, batch_size=8, verbose=0)
    out = model.predict(x)
    assert out.shape == (16, 8, 8, 1)  # Keras: channels-last, like the input
    # The loss is the MSE between the image and its reconstruction, pixel by pixel (numpy).
    assert model.evaluate(x, x) == pytest.approx(float(((out - x) ** 2).mean()), rel=1e-5)
    conv = model.layers[0]  # predict agrees with torch's conv on the NCHW image
    nchw = torch.as_tensor(x).permute(0, 3, 1, 2)
    hidden = torch.relu(torch.nn.functional.conv2d(nchw, conv.weight, conv.bias, padding=1))
    assert torch.as_tensor(model.predict_on_batch(x)).shape == (16, 8, 8, 1)
    assert hidden.shape == (16, 4, 8, 8)


def test_input_and_output_shape_in_keras_layout():
    model = keras.Sequential([layers.Conv2D(4, 3, input_shape=(28, 28, 1)), layers.MaxPooling2D(2)])
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == (None, 13, 13, 4)  # Keras: (28 - 3 + 1) // 2
    dense = keras.Sequential([layers.Dense(3, input_shape=(5,))])
    assert (dense.input_shape, dense.output_shape) == ((None, 5), (None, 3))


@pytest.mark.skipif(
    "data_format" not in inspect.signature(layers.Reshape).parameters,
    reason="needs the channels-last Reshape of issue 12 (layers/core.py)",
)
def test_dcgan_generator_output_shape_and_predict_are_channels_last():
    generator = keras.Sequential(
        [
            layers.Dense(7 * 7 * 8, input_shape=(16,)),
            layers.Reshape((7, 7, 8)),
            layers.Conv2D(1, 3, padding="same", activation="tanh"),
        ]
    )
    assert generator.output_shape == (None, 7, 7, 1)
    assert generator.predict(np.zeros((2, 16), "float32")).shape == (2, 7, 7, 1)


class ConvFirst(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.conv = layers.Conv2D(2, 3)
        self.head = layers.Dense(1)

    def forward(self, x):
        return self.head(self.conv(x).flatten(1))


class HeadFirst(keras.Model):  # the same network; only the attribute order differs
    def __init__(self) -> None:
        super().__init__()
        self.head = layers.Dense(1)
        self.conv = layers.Conv2D(2, 3)

    def forward(self, x):
        return self.head(self.conv(x).flatten(1))


def test_subclass_layout_does_not_depend_on_attribute_order():
    x, y = images()[..., 0], np.zeros((16, 1), "float32")  # (N, H, W) grayscale
    layouts = []
    for cls in (ConvFirst, HeadFirst):
        torch.manual_seed(0)
        model = cls()
        model.compile(optimizer="sgd", loss="mse")
        model.evaluate(x, y)
        assert model.conv.weight.shape == (2, 1, 3, 3)  # the channel axis was added
        conv = torch.nn.functional.conv2d(
            torch.as_tensor(x).unsqueeze(1), model.conv.weight, model.conv.bias
        )
        expected = torch.nn.functional.linear(conv.flatten(1), model.head.weight, model.head.bias)
        np.testing.assert_allclose(
            model.predict(x), expected.detach().numpy(), rtol=1e-5, atol=1e-6
        )
        layouts.append(model.input_layout)
    assert layouts == ["add_channel", "add_channel"]
