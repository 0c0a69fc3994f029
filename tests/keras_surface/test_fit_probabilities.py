"""Classification metrics of models whose outputs are probabilities that deepfuse cannot locate as
a final layer (a functional graph, Keras ``Layer`` subclasses), and custom layers that train.

The silent wrong result (issue 12, program f): a functional model ending in a sigmoid, compiled
with Keras' ``binary_crossentropy`` (which takes probabilities) and ``metrics=["accuracy"]``,
learnt (predictions 99% right) while ``fit`` and ``evaluate`` reported chance accuracy: the
metric read the probabilities as logits (threshold 0 instead of 0.5). The reference here is the
accuracy computed with numpy from ``predict`` (Keras' ``binary_accuracy``: ``y_pred > 0.5``).
"""

from __future__ import annotations

import numpy as np
import pytest

import deepfuse as keras
from deepfuse import layers, ops


def _data(rows: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 20)).astype("float32")
    return x, (x[:, :5].sum(axis=1) > 0).astype("float32")


def _numpy_accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((model.predict(x, verbose=0)[:, 0] > 0.5) == y))


class Linear(keras.layers.Layer):
    """keras.io's subclassing-guide layer: build / call / add_weight."""

    def __init__(self, units: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="random_normal", name="kernel"
        )
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_functional_sigmoid_model_reports_its_real_accuracy():
    x, y = _data()
    inputs = keras.Input(shape=(20,))
    hidden = layers.Dense(16, activation="relu")(inputs)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    reference = _numpy_accuracy(model, x, y)
    assert reference > 0.9  # it learnt
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx(reference)  # was 0.497


def test_custom_layer_model_trains_every_add_weight_and_reports_accuracy(tmp_path):
    x, y = _data()
    inputs = keras.Input(shape=(20,))
    hidden = Linear(16, name="hidden")(inputs)
    score = Linear(1, name="score")(layers.Activation("relu")(hidden))
    model = keras.Model(inputs, layers.Activation("sigmoid")(score))
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    weights = model.trainable_weights
    assert [tuple(w.shape) for w in weights] == [(20, 16), (16,), (16, 1), (1,)]
    before = [w.detach().clone() for w in weights]
    history = model.fit(x, y, batch_size=32, epochs=4, verbose=0)
    assert all(not np.allclose(b.numpy(), w.detach().numpy()) for b, w in zip(before, weights))
    reference = _numpy_accuracy(model, x, y)
    assert reference > 0.9
    assert history.history["accuracy"][-1] > 0.85  # running value over the last epoch
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx(reference)

    path = tmp_path / "custom.keras"
    model.save(str(path))
    reloaded = keras.models.load_model(str(path), custom_objects={"Linear": Linear})
    np.testing.assert_allclose(
        reloaded.predict(x[:8], verbose=0), model.predict(x[:8], verbose=0), atol=1e-6
    )
    assert reloaded.evaluate(x, y, verbose=0)[1] == pytest.approx(reference)


def test_deepfuse_logits_losses_keep_reading_logits():
    x, y = _data()
    inputs = keras.Input(shape=(20,))
    model = keras.Model(inputs, layers.Dense(1)(inputs))  # logits
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="bce", metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    logits = model.predict(x, verbose=0)[:, 0]
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx(float(np.mean((logits > 0) == y)))
