"""Adversarial training is a step extension (``deepfuse.adversarial``), not a branch in Model."""

from __future__ import annotations

import torch

import deepfuse as df
from deepfuse.adversarial import AdversarialTraining
from deepfuse.training.protocols import StepExtension


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 4, generator=g)
    return x, (x.sum(1) > 2).long()


def test_compile_adversarial_plugs_the_extension_and_equals_it_by_hand():
    x, y = _data()
    spec = {"attack": "fgsm", "eps": 0.1, "ratio": 0.5}
    torch.manual_seed(0)
    switched = df.Model(torch.nn.Linear(4, 2))
    switched.compile(optimizer="sgd", loss="cross_entropy", adversarial=spec)
    assert isinstance(switched.step_extension, AdversarialTraining)
    assert isinstance(switched.step_extension, StepExtension)
    switched.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)

    # The same steps written out: mix the batch, then the model's plain optimize_step.
    torch.manual_seed(0)
    by_hand = df.Model(torch.nn.Linear(4, 2))
    by_hand.compile(optimizer="sgd", loss="cross_entropy")
    by_hand.setup({"x": x[:2], "y": y[:2]})
    adv = AdversarialTraining.from_spec(spec)
    for _ in range(2):
        for i in range(0, 32, 8):
            by_hand.train(True)
            by_hand.optimize_step(adv.mix(by_hand, x[i : i + 8], y[i : i + 8]), y[i : i + 8])
    for a, b in zip(switched.parameters(), by_hand.parameters(), strict=True):
        assert torch.equal(a, b)


def test_any_step_extension_replaces_the_step():
    class Doubled:
        """Trains on each batch twice (a stand-in for GAN-like steps)."""

        def __init__(self) -> None:
            self.calls = 0

        def train_step(self, model, x, y):
            self.calls += 1
            model.optimize_step(x, y)
            return model.optimize_step(x, y)

    x, y = _data()
    model = df.Model(torch.nn.Linear(4, 2))
    model.compile(optimizer="sgd", loss="cross_entropy")
    model.step_extension = Doubled()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert model.step_extension.calls == 4
