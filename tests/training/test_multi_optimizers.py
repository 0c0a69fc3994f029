"""Every optimizer a model really trains with is found, checkpointed, restored and logged.

The model under test is the Keras-style GAN of ``tests/keras_programs/test_programs_gan.py``
(``super().compile()``, then its own ``d_optimizer`` / ``g_optimizer`` and a ``SeedGenerator``),
smaller: a resumed run must give the same bits as an uninterrupted one for both networks, both
optimizers and the logged epoch values.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch

import deepfuse as keras
from deepfuse import layers, ops
from deepfuse.training.callbacks.base import History
from deepfuse.training.callbacks.progress import ProgressBar, format_logs
from deepfuse.training.callbacks.steplog import StepLog
from deepfuse.training.optimizers_in_use import OptimizersInUse
from run_helpers import Interrupt

LATENT = 8


def _gan(seed: int = 0):
    keras.utils.set_random_seed(seed)
    discriminator = keras.Sequential(
        [
            keras.Input(shape=(12, 12, 1)),
            layers.Conv2D(4, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.GlobalMaxPooling2D(),
            layers.Dense(1),
        ]
    )
    generator = keras.Sequential(
        [
            keras.Input(shape=(LATENT,)),
            layers.Dense(6 * 6 * 4),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Reshape((6, 6, 4)),
            layers.Conv2DTranspose(4, (4, 4), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(1, (3, 3), padding="same", activation="sigmoid"),
        ]
    )

    class GAN(keras.Model):
        def __init__(self, discriminator, generator):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
            self.seed_generator = keras.random.SeedGenerator(1337)

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def call(self, images):
            return self.discriminator(images)

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn

        def train_step(self, real_images):
            if isinstance(real_images, tuple):
                real_images = real_images[0]
            n = ops.shape(real_images)[0]
            z = keras.random.normal(shape=(n, LATENT), seed=self.seed_generator)
            combined = ops.concatenate([self.generator(z), real_images], axis=0)
            labels = ops.concatenate([ops.ones((n, 1)), ops.zeros((n, 1))], axis=0)
            labels += 0.05 * keras.random.uniform(ops.shape(labels), seed=self.seed_generator)
            d_weights = self.discriminator.trainable_weights
            d_loss = self.loss_fn(labels, self.discriminator(combined))
            grads = torch.autograd.grad(d_loss, [ops.convert_to_tensor(v) for v in d_weights])
            with torch.no_grad():
                self.d_optimizer.apply_gradients(zip(grads, d_weights))
            z = keras.random.normal(shape=(n, LATENT), seed=self.seed_generator)
            g_weights = self.generator.trainable_weights
            g_loss = self.loss_fn(ops.zeros((n, 1)), self.discriminator(self.generator(z)))
            grads = torch.autograd.grad(g_loss, [ops.convert_to_tensor(v) for v in g_weights])
            with torch.no_grad():
                self.g_optimizer.apply_gradients(zip(grads, g_weights))
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    gan = GAN(discriminator, generator)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=3e-4),
        g_optimizer=keras.optimizers.Adam(learning_rate=1e-4),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    return gan


def _images(n: int = 96) -> np.ndarray:
    return np.random.default_rng(0).random((n, 12, 12, 1), dtype=np.float32)


def _fit(gan, folder, *, callbacks=(), resume=False):
    return gan.fit(
        _images(), epochs=2, batch_size=16, seed=3, verbose=0, callbacks=list(callbacks),
        checkpoint_dir=folder, checkpoint_every=2, resume=resume,
    )  # fmt: skip


def _tensors(state):
    """Every tensor of a (nested) state dict, by path."""
    out = {}

    def walk(value, path):
        if isinstance(value, torch.Tensor):
            out[path] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}")
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, f"{path}.{i}")

    walk(state, "")
    return out


def _same_state(a, b) -> bool:
    ta, tb = _tensors(a), _tensors(b)
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


def test_optimizers_in_use_are_found_in_a_fixed_order():
    gan = _gan()
    assert OptimizersInUse(gan).names() == ["d_optimizer", "g_optimizer"]  # before setup
    gan.fit(_images(16), epochs=1, batch_size=16, verbose=0)
    assert gan.trainer.optimizers_in_use.names() == ["optimizer", "d_optimizer", "g_optimizer"]


def test_the_learning_rate_of_each_optimizer_used_is_logged_apart_from_keras_history(tmp_path):
    gan = _gan()
    history = gan.fit(_images(), epochs=2, batch_size=16, seed=3, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss"}  # as Keras: no learning rates there
    assert history.lr == []  # compile()'s optimizer never stepped: not logged
    assert history.optimizer_lr == {"d_optimizer_lr": [3e-4, 3e-4], "g_optimizer_lr": [1e-4, 1e-4]}
    run = history.run_history()  # what history.csv holds
    assert {"d_loss", "g_loss", "d_optimizer_lr", "g_optimizer_lr", "time"} <= set(run)
    assert "lr" not in run
    line = format_logs(gan.trainer.history[-1])  # the progress bar's epoch line
    assert "d_loss: " in line and "g_loss: " in line
    assert "d_optimizer_lr: 0.0003" in line and "g_optimizer_lr: 0.0001" in line


def test_progress_bar_and_step_log_show_a_step_without_loss(tmp_path):
    gan = _gan()
    out = io.StringIO()
    gan.fit(
        _images(32), epochs=1, batch_size=16, verbose=0,
        callbacks=[ProgressBar(plain=True, file=out), StepLog(tmp_path / "steps.csv")],
    )  # fmt: skip
    assert "d_loss: " in out.getvalue() and "g_optimizer_lr: " in out.getvalue()
    rows = (tmp_path / "steps.csv").read_text().splitlines()
    # the main optimizer's lr (compile's, still listed), an empty loss cell: no crash
    assert rows[1].startswith("1,1,1,,")
    # every loss the step returns gets its own column: the dashboard draws them per step
    assert rows[0] == "epoch,step,global_step,loss,lr,d_loss,g_loss"
    d_loss, g_loss = (float(v) for v in rows[1].split(",")[5:])
    assert np.isfinite(d_loss) and np.isfinite(g_loss)


def test_history_csv_keeps_the_step_losses_of_a_custom_step(tmp_path):
    from deepfuse.run.writer import history_csv

    gan = _gan()
    history = gan.fit(
        _images(32), epochs=1, batch_size=16, verbose=0, callbacks=[StepLog(tmp_path / "s.csv")]
    )
    history_csv(history.history, tmp_path / "h.csv", steps=tmp_path / "s.csv")
    first, last = list(csv.DictReader((tmp_path / "h.csv").open()))
    steps = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert first["d_loss"] == steps[0]["d_loss"] != ""  # a step's running value
    assert float(last["d_loss"]) == history.history["d_loss"][-1]  # the epoch's value


def test_a_plain_run_still_logs_lr_only():
    model = keras.Sequential([layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=1, batch_size=4, verbose=0)
    assert history.lr == [0.01] and history.optimizer_lr == {}
    assert set(model.trainer.history[-1]) == {"loss", "lr", "time"}


@pytest.mark.parametrize("at", [3, 8])  # mid-epoch (a checkpoint at step 2), at an epoch end
def test_resume_restores_both_networks_and_both_optimizers_bit_identically(tmp_path, at):
    want = _gan()
    want_history = _fit(want, tmp_path / "plain")
    got = _gan()
    with pytest.raises(KeyboardInterrupt):
        _fit(got, tmp_path / "cut", callbacks=[Interrupt(at)])
    got = _gan()  # a new process: fresh model, optimizers not built yet
    got_history = _fit(got, tmp_path / "cut", resume=True)
    for net in ("generator", "discriminator"):
        assert _same_state(getattr(got, net).state_dict(), getattr(want, net).state_dict()), net
    for name in ("d_optimizer", "g_optimizer"):
        a, b = getattr(got, name).state_dict(), getattr(want, name).state_dict()
        assert a["state"] and _same_state(a, b), name
        assert getattr(got, name).iterations == getattr(want, name).iterations == 12  # 2 x 6
    assert got_history.history == want_history.history  # epoch means of the trackers too
    assert got_history.optimizer_lr == want_history.optimizer_lr


def test_a_checkpoint_without_the_new_parts_still_loads(tmp_path):
    model = keras.Sequential([layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer="adam", loss="mse")
    x, y = np.ones((8, 3)), np.ones((8, 1))
    model.fit(x, y, epochs=1, batch_size=4, verbose=0, checkpoint_dir=tmp_path)
    state = model.trainer.state_dict()
    for key in ("optimizers", "generators", "trackers"):
        del state[key]  # what a checkpoint written before them holds
    del state["trainer"]["step_logs"]
    fresh = keras.Sequential([layers.Dense(1, input_shape=(3,))])
    fresh.compile(optimizer="adam", loss="mse")
    fresh.fit(x, y, epochs=1, batch_size=4, verbose=0)
    fresh.trainer.load_state_dict(state)
    assert _same_state(fresh.optimizer.state_dict(), model.optimizer.state_dict())


def test_history_keeps_optimizer_rates_through_its_state():
    h = History()
    h.on_epoch_end(0, {"d_loss": 0.5, "d_optimizer_lr": 0.1, "time": 1.0})
    again = History()
    again.load_state_dict(h.state_dict())
    assert again.optimizer_lr == {"d_optimizer_lr": [0.1]} and again.history == {"d_loss": [0.5]}
