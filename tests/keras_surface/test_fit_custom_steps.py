"""A custom ``train_step`` written as keras.io's "Customizing what happens in fit()" (torch) does:
the compiled model's loss tracker in ``self.metrics``, and the model's own ``self.loss_fn``.

References: Keras 3 lists a compiled model's metrics as ``[loss tracker (Mean, name "loss"),
compiled metrics...]``; ``fit`` logs what the step returns, so the epoch's ``"loss"`` is the
tracker's result, the mean of the batch losses given to ``update_state`` (computed here with
numpy from the losses the step saw).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepfuse as keras
from deepfuse import ops


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.random((96, 4)).astype("float32")
    return x, x[:, :2].sum(axis=1, keepdims=True).astype("float32")


class TrackerStep(keras.Model):
    """keras.io's train_step: compute_loss, apply_gradients, update every metric in self.metrics."""

    batch_losses: list[float]

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        weights = self.trainable_weights
        grads = torch.autograd.grad(loss, [ops.convert_to_tensor(v) for v in weights])
        with torch.no_grad():
            self.optimizer.apply_gradients(zip(grads, weights))
        self.batch_losses.append(float(loss.detach()))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_compiled_metrics_start_with_the_loss_tracker():
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    assert model.metrics == []  # not compiled
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    assert [m.name for m in model.metrics] == ["loss", "mae"]
    assert "loss_tracker" not in dir(model)  # the name keras.io programs use for their own


def test_loss_logged_is_the_trackers_mean_of_batch_losses():
    x, y = _data()
    inputs = keras.Input(shape=(4,))
    model = TrackerStep(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    model.batch_losses = []
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    assert set(history.history) == {"loss", "mae"}  # Keras' keys (was: no "loss" at all)
    last_epoch = model.batch_losses[3:]  # 96 rows / 32 = 3 batches per epoch
    assert history.history["loss"][-1] == pytest.approx(np.mean(last_epoch), rel=1e-6)
    assert history.history["loss"][0] == pytest.approx(np.mean(model.batch_losses[:3]), rel=1e-6)


def test_own_loss_fn_survives_compile_without_a_loss():
    class OwnLoss(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_fn = keras.losses.MeanSquaredError()
            self.loss_tracker = keras.metrics.Mean(name="loss")

        def train_step(self, data):
            x, y = data
            loss = self.loss_fn(y, self(x, training=True))
            weights = self.trainable_weights
            grads = torch.autograd.grad(loss, [ops.convert_to_tensor(v) for v in weights])
            with torch.no_grad():
                self.optimizer.apply_gradients(zip(grads, weights))
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}

        @property
        def metrics(self):
            return [self.loss_tracker]

    torch.manual_seed(0)
    x, y = _data()
    inputs = keras.Input(shape=(4,))
    model = OwnLoss(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.05))  # no loss: was setting self.loss_fn=None
    assert isinstance(model.loss_fn, keras.losses.MeanSquaredError)
    history = model.fit(x, y, batch_size=32, epochs=10, verbose=0)
    assert set(history.history) == {"loss"}
    assert history.history["loss"][-1] < history.history["loss"][0]
