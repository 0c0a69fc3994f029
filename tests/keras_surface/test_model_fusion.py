"""A compiled model's final sigmoid/softmax stays correct when the model is reused (issue 12,
silent problem 4): ``model(x)`` and ``predict`` give probabilities, alone and inside a GAN; only
the model's own compiled steps run from logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepfuse as keras
from deepfuse import layers


def discriminator() -> keras.Sequential:
    torch.manual_seed(0)
    d = keras.Sequential(
        [
            layers.Dense(16, activation="relu", input_shape=(8,)),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    with torch.no_grad():  # large weights: logits far outside [0, 1]
        d.layers[1].weight.mul_(20.0)
    return d


def reference_logits(d: keras.Sequential, x: torch.Tensor) -> torch.Tensor:
    """W2 relu(W1 x + b1) + b2, written from the weights with torch.nn.functional."""
    hidden = torch.relu(torch.nn.functional.linear(x, d.layers[0].weight, d.layers[0].bias))
    return torch.nn.functional.linear(hidden, d.layers[1].weight, d.layers[1].bias).detach()


def reference(d: keras.Sequential, x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(reference_logits(d, x))


def test_compiled_discriminator_gives_probabilities_alone_and_inside_the_gan():
    d = discriminator()
    d.compile(optimizer="adam", loss="binary_crossentropy")
    x = torch.randn(64, 8) * 3
    expected = reference(d, x).detach()
    torch.testing.assert_close(d(x).detach(), expected)
    np.testing.assert_allclose(d.predict(x), expected.numpy(), rtol=1e-5, atol=1e-6)
    d.trainable = False
    g = keras.Sequential([layers.Dense(8, input_shape=(4,))])
    gan = keras.Sequential([g, d])
    gan.compile(optimizer="adam", loss="binary_crossentropy")
    gan.train_on_batch(torch.randn(16, 4), torch.ones(16, 1))
    noise = torch.randn(32, 4)
    inner = reference(d, g(noise)).detach()
    np.testing.assert_allclose(gan.predict(noise), inner.numpy(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gan(noise).detach(), inner)
    torch.testing.assert_close(d(x).detach(), expected)  # d itself unchanged (frozen in gan)
    assert d.predict(x).min() >= 0.0 and d.predict(x).max() <= 1.0


def test_fit_trains_from_logits_without_computing_the_sigmoid():
    d = discriminator()
    d.compile(optimizer="adam", loss="binary_crossentropy")
    seen: list[torch.Tensor] = []
    d.layers[1].register_forward_hook(lambda m, i, out: seen.append(out.detach()))
    x, y = torch.randn(64, 8) * 3, torch.randint(0, 2, (64, 1)).float()
    d.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert len(seen) == 1 and (seen[0].min() < 0 or seen[0].max() > 1)  # logits: no sigmoid run
    seen.clear()
    d.predict(x)
    assert seen[0].min() >= 0 and seen[0].max() <= 1  # predict: the declared probabilities
    # The loss is the from-logits BCE of the same network: compare with torch's.
    expected = torch.nn.functional.binary_cross_entropy_with_logits(reference_logits(d, x), y)
    assert abs(d.evaluate(x, y) - float(expected)) < 1e-4


def test_a_custom_train_step_calling_self_gets_probabilities():
    outputs: list[torch.Tensor] = []

    class Net(keras.Sequential):
        def train_step(self, data):
            x, _ = data
            outputs.append(self(x).detach())
            return super().train_step(data)

    net = Net([layers.Dense(3, activation="softmax", input_shape=(5,))])
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    net.fit(torch.randn(20, 5), torch.randint(0, 3, (20,)), epochs=1, batch_size=10, verbose=0)
    assert len(outputs) == 2
    for out in outputs:
        torch.testing.assert_close(out.sum(1), torch.ones(len(out)))


def test_a_subclass_never_loses_an_inner_activation_to_fusion():
    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.out = layers.Dense(1, activation="sigmoid")
            self.hidden = layers.Dense(4, activation="sigmoid")  # assigned last, not the output

        def forward(self, x):
            return self.out(self.hidden(x))

    torch.manual_seed(0)
    net = Net()
    x, y = torch.randn(32, 3), torch.randint(0, 2, (32, 1)).float()
    net.compile(optimizer="sgd", loss="binary_crossentropy")
    net.evaluate(x, y)  # builds the layers
    hidden = torch.sigmoid(torch.nn.functional.linear(x, net.hidden.weight, net.hidden.bias))
    probs = torch.sigmoid(torch.nn.functional.linear(hidden, net.out.weight, net.out.bias))
    expected = torch.nn.functional.binary_cross_entropy(probs.detach(), y)
    assert net.evaluate(x, y) == pytest.approx(float(expected), rel=1e-4)
