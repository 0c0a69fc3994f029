"""Keras' "Customizing what happens in fit()" surface: ``train_step(data)``, ``compile()`` without
a loss, a subclass with its own ``compile(d_optimizer=, g_optimizer=, loss_fn=)``, logs of any
keys, ``model.metrics`` reset per epoch, callbacks with ``self.model``, ``compute_loss``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepfuse as keras
from deepfuse import layers
from deepfuse._utils.errors import UserError


class Mean:
    """A Keras-style running-mean tracker (update_state / result / reset_state)."""

    def __init__(self, name: str) -> None:
        self.name, self.resets = name, 0
        self.reset_state()
        self.resets = 0

    def update_state(self, value: torch.Tensor) -> None:
        self.total += float(value.detach())
        self.count += 1

    def result(self) -> float:
        return self.total / max(self.count, 1)

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0
        self.resets += 1


def test_train_step_receives_keras_data():
    received = []

    class Net(keras.Model):
        def train_step(self, data):
            received.append(data)
            return {"n": float(len(data[0]) if isinstance(data, tuple) else len(data))}

    model = Net(torch.nn.Linear(3, 1))
    model.compile()
    x, y = np.random.rand(8, 3).astype("float32"), np.random.rand(8, 1).astype("float32")
    model.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    xs, ys = received[0]
    assert isinstance(received[0], tuple) and torch.equal(xs, torch.as_tensor(x[:4]))
    assert torch.equal(ys, torch.as_tensor(y[:4]))
    received.clear()
    model.fit(x, epochs=1, batch_size=4, verbose=0, shuffle=False)  # no y: x alone
    assert isinstance(received[0], torch.Tensor) and received[0].shape == (4, 3)


def test_several_inputs_reach_train_step_as_a_dict_and_split_batch_reads_both_forms():
    received = []

    class TwoInputs(keras.Model):
        def forward(self, x):
            return self.module(torch.cat([x["a"], x["b"]], 1))

        def train_step(self, data):
            received.append(data)
            inputs, target = self.split_batch(data)
            return {"loss": torch.nn.functional.mse_loss(self(inputs), target)}

    model = TwoInputs(torch.nn.Linear(3, 1))
    model.compile()
    xa, xb = np.ones((4, 1), "float32"), np.zeros((4, 2), "float32")
    model.fit({"a": xa, "b": xb}, np.ones((4, 1), "float32"), batch_size=4, verbose=0)
    ((x, y),) = received
    assert set(x) == {"a", "b"} and x["b"].shape == (4, 2) and y.shape == (4, 1)


def test_gan_subclass_with_its_own_compile_logs_d_and_g_losses():
    class GAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator, self.generator, self.latent_dim = (
                discriminator,
                generator,
                latent_dim,
            )
            self.d_loss_tracker, self.g_loss_tracker = Mean("d_loss"), Mean("g_loss")

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

        def train_step(self, real):
            n = real.shape[0]
            fake = self.generator(torch.randn(n, self.latent_dim)).detach()
            labels = torch.cat([torch.ones(n, 1), torch.zeros(n, 1)])
            d_loss = self.loss_fn(self.discriminator(torch.cat([fake, real])), labels)
            self.d_optimizer.zero_grad()
            d_loss.backward()
            self.d_optimizer.step()
            g_loss = self.loss_fn(
                self.discriminator(self.generator(torch.randn(n, self.latent_dim))),
                torch.zeros(n, 1),
            )
            self.g_optimizer.zero_grad()
            g_loss.backward()
            self.g_optimizer.step()
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    disc = keras.Sequential([layers.Dense(1, input_shape=(6,))])
    gen = keras.Sequential([layers.Dense(6, input_shape=(2,))])
    gan = GAN(disc, gen, latent_dim=2)
    gan.compile(
        d_optimizer=torch.optim.SGD(disc.parameters(), lr=0.01),
        g_optimizer=torch.optim.SGD(gen.parameters(), lr=0.01),
        loss_fn=torch.nn.BCEWithLogitsLoss(),
    )
    history = gan.fit(np.random.rand(32, 6).astype("float32"), epochs=3, batch_size=8, verbose=2)
    assert set(history.history) >= {"d_loss", "g_loss"} and "loss" not in history.history
    assert len(history.history["d_loss"]) == 3
    # Keras shows a tracker's last result(): the mean over the epoch's 4 steps.
    assert history.history["d_loss"][-1] == pytest.approx(gan.d_loss_tracker.result())
    assert gan.d_loss_tracker.resets == 3  # reset_state() at each epoch start


def test_raw_per_batch_values_are_averaged_over_the_epoch():
    values = iter([1.0, 2.0, 3.0, 6.0])

    class Net(keras.Model):
        def train_step(self, data):
            return {"loss": torch.tensor(next(values)), "extra": 10.0}

    model = Net(torch.nn.Linear(2, 1))
    model.compile()
    hist = model.fit(np.zeros((8, 2), "float32"), epochs=1, batch_size=2, verbose=0)
    assert hist.history["loss"] == [3.0] and hist.history["extra"] == [10.0]


def test_built_in_step_without_a_loss_names_the_fix():
    model = keras.Sequential([layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd")
    with pytest.raises(UserError, match=r"needs a loss.*override train_step"):
        model.fit(np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32"), verbose=0)


def test_compute_loss_with_keras_keywords_inside_train_step():
    class Net(keras.Sequential):
        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            return {"loss": loss}

    torch.manual_seed(0)
    model = Net([layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer={"name": "sgd", "lr": 0.1}, loss="mse")
    x = np.random.rand(64, 3).astype("float32")
    y = x.sum(1, keepdims=True)
    hist = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    pred = torch.as_tensor(model.predict(x))
    expected = torch.nn.functional.mse_loss(pred, torch.as_tensor(y))
    assert model.evaluate(x, y) == pytest.approx(float(expected), rel=1e-5)


def test_callback_reads_self_model_and_stops_training():
    seen = []

    class Stopper(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append(self.model.optimizer)
            if epoch == 1:
                self.model.stop_training = True

    model = keras.Sequential([layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    hist = model.fit(
        np.zeros((8, 2), "float32"),
        np.zeros((8, 1), "float32"),
        epochs=10,
        callbacks=[Stopper()],
        verbose=0,
    )
    assert len(hist.history["loss"]) == 2 and seen[0] is model.optimizer
