"""What Keras converts silently and deepfuse therefore accepts: float ids, numpy arrays in losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import deepfuse as keras
from deepfuse import layers


def test_embedding_takes_float_ids_as_keras_casts_them():
    emb = layers.Embedding(10, 3)
    ids = torch.tensor([[1, 4, 9]])
    torch.testing.assert_close(emb(ids.float()), emb(ids))  # Input()'s default dtype is float32


def test_keras_loss_objects_take_numpy_arrays():
    y_true, y_pred = np.array([[0.0], [1.0]]), np.array([[0.2], [0.7]])
    expected = -(math.log(0.8) + math.log(0.7)) / 2  # binary cross-entropy by its formula
    assert float(keras.losses.BinaryCrossentropy()(y_true, y_pred)) == pytest.approx(
        expected, rel=1e-5
    )
    sparse = keras.losses.SparseCategoricalCrossentropy()(np.array([1]), np.array([[0.25, 0.75]]))
    assert float(sparse) == pytest.approx(-math.log(0.75), rel=1e-5)


def test_optimizers_take_keras_positional_arguments():
    assert keras.optimizers.Adam(2e-4, 0.5).get_config() == {
        "name": "adam",
        "lr": 2e-4,
        "beta_1": 0.5,
    }
    assert keras.optimizers.AdamW(1e-3, 0.01).get_config()["weight_decay"] == 0.01
    assert keras.optimizers.SGD(0.1, 0.9).get_config() == {
        "name": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
    }
    with pytest.raises(keras._utils.errors.ConfigError, match="twice"):
        keras.optimizers.Adam(1e-3, 0.5, beta_1=0.9)


def test_add_weight_gives_a_keras_variable():
    class Counter(layers.Layer):
        def build(self, input_shape):
            self.total = self.add_weight(shape=(), initializer="zeros", trainable=False)

        def call(self, inputs):
            self.total.assign_add(inputs.sum())
            return inputs

    counter = Counter()
    counter(torch.ones(2, 3))
    counter(torch.ones(1, 3))
    assert float(counter.total.numpy()) == 9.0
    assert counter.total.value is counter.total
