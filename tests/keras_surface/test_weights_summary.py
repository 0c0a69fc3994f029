"""summary() counts Keras' weights: BatchNormalization's moving statistics as non-trainable
params (as Keras does), recurrent layers with torch's real parameters (two bias vectors)."""

from __future__ import annotations

import re

import torch
from torch import nn

import deepfuse as keras
from deepfuse import layers
from deepfuse.models.summary import keras_weights_of


def _summary(model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    return "\n".join(lines)


def _row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(name))


def test_batchnorm_moving_statistics_count_as_non_trainable_params():
    model = keras.Sequential(
        [layers.Dense(4, input_shape=(3,)), layers.BatchNormalization(name="norm")]
    )
    text = _summary(model)
    # real Keras: Dense 3*4+4 = 16, BatchNormalization(4) 16 params of which 8 non-trainable
    assert "Total params: 32" in text
    assert "Trainable params: 24" in text
    assert "Non-trainable params: 8" in text
    assert _row(text, "norm").split()[-1] == "16"


def test_functional_summary_counts_batchnorm_statistics_per_layer():
    inputs = keras.Input(shape=(3,))
    outputs = layers.BatchNormalization(name="norm")(layers.Dense(4)(inputs))
    text = _summary(keras.Model(inputs, outputs))
    assert re.search(r"^norm \(BatchNorm\w*\) .* 16 ", text, re.M)
    assert "Total params: 32" in text and "Non-trainable params: 8" in text


def test_tutorial_generator_matches_keras_count():
    # the TensorFlow DCGAN tutorial's generator: Keras prints 2,330,944 (25,472 non-trainable)
    model = keras.Sequential(
        [
            layers.Dense(7 * 7 * 256, use_bias=False, input_shape=(100,)),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Reshape((7, 7, 256)),
            layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False),
        ]
    )
    text = _summary(model)
    assert "Total params: 2,330,944" in text
    assert "Non-trainable params: 25,472" in text


def test_lstm_counts_torchs_real_parameters():
    model = keras.Sequential([layers.LSTM(2, input_shape=(5, 3), name="rnn")])
    reference = nn.LSTM(3, 2)  # torch: weight_ih, weight_hh, bias_ih, bias_hh
    real = sum(p.numel() for p in reference.parameters())
    assert real == 56  # Keras prints 48: it keeps one bias vector (4*2 fewer)
    text = _summary(model)
    assert f"Total params: {real}" in text
    assert _row(text, "rnn").split()[-1] == str(real)


def test_keras_weights_of_skips_non_persistent_and_integer_buffers():
    module = nn.Module()
    module.register_buffer("class_weights", torch.ones(3), persistent=False)
    module.register_buffer("steps", torch.zeros((), dtype=torch.long))
    module.register_buffer("stat", torch.ones(2))
    module.w = nn.Parameter(torch.ones(4))
    assert [tuple(t.shape) for t in keras_weights_of(module)] == [(4,), (2,)]
