"""Keras' ``trainable`` really freezes (issue 12, silent problem 3), with Keras 2's compile-time
capture that the classic GAN recipe relies on."""

from __future__ import annotations

import json

import numpy as np
import torch

import deepfuse as keras
from deepfuse import layers


def snapshot(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def changed(before: list[torch.Tensor], model: torch.nn.Module) -> list[bool]:
    return [not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True)]


def discriminator() -> keras.Sequential:
    return keras.Sequential(
        [
            layers.Dense(16, activation="relu", input_shape=(8,)),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def generator() -> keras.Sequential:
    return keras.Sequential([layers.Dense(8, activation="tanh", input_shape=(4,))])


def test_trainable_false_on_a_sequential_freezes_fit_and_reads_back():
    torch.manual_seed(0)
    x, y = np.random.rand(64, 8).astype("float32"), np.random.rand(64, 1).astype("float32")
    model = keras.Sequential([layers.Dense(4, input_shape=(8,)), layers.Dense(1)])
    model.trainable = False
    assert model.trainable is False
    model.compile(optimizer="sgd", loss="mse")
    before = snapshot(model)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert not any(changed(before, model))
    assert model.trainable_weights == []
    model.trainable = True
    model.layers[0].trainable = False  # one layer frozen inside a trainable model
    model.compile(optimizer="sgd", loss="mse")  # Keras: recompile after changing trainable
    before = snapshot(model)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert changed(before, model) == [False, False, True, True]
    assert [tuple(w.shape) for w in model.trainable_weights] == [(1, 4), (1,)]
    assert model.trainable_variables == model.trainable_weights
    assert [tuple(w.shape) for w in model.non_trainable_weights] == [(4, 8), (4,)]


def test_classic_gan_recipe_freezes_the_discriminator_only_inside_the_gan():
    torch.manual_seed(0)
    d = discriminator()
    d.compile(optimizer={"name": "sgd", "lr": 0.5}, loss="binary_crossentropy")
    d.trainable = False
    g = generator()
    gan = keras.Sequential([g, d])
    gan.compile(optimizer={"name": "sgd", "lr": 0.5}, loss="binary_crossentropy")
    noise, real = torch.randn(16, 4), torch.randn(16, 8)
    ones, zeros = torch.ones(16, 1), torch.zeros(16, 1)
    for _ in range(2):  # alternate as the tutorial loop does
        d_before, g_before = snapshot(d), snapshot(g)
        fake = torch.as_tensor(g.predict(noise))
        d.train_on_batch(torch.cat([fake, real]), torch.cat([zeros, ones]))
        assert all(changed(d_before, d)) and not any(changed(g_before, g))
        d_before, g_before = snapshot(d), snapshot(g)
        loss = gan.train_on_batch(noise, ones)
        assert isinstance(loss, float)
        assert not any(changed(d_before, d)) and all(changed(g_before, g))


def test_trainable_of_a_layer_inside_a_model_subclass_freezes_it():
    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.body = layers.Dense(4)
            self.head = layers.Dense(1)

        def forward(self, x):
            return self.head(self.body(x))

    net = Net()
    net(torch.zeros(2, 3))
    net.body.trainable = False
    net.compile(optimizer="sgd", loss="mse")
    before = snapshot(net)
    net.fit(np.random.rand(32, 3), np.random.rand(32, 1), epochs=1, verbose=0)
    assert changed(before, net) == [False, False, True, True]


def test_trainable_is_saved_and_restored(tmp_path):
    model = keras.Sequential([layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    model.trainable = False
    model.save(tmp_path)
    assert json.loads((tmp_path / "model.json").read_text())["trainable"] is False
    loaded = keras.load(tmp_path)
    assert loaded.trainable is False
    assert not any(p.requires_grad for p in loaded.parameters())
    assert loaded.trainable_weights == []
