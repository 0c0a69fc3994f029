"""FGSM/PGD against hand computations and their guarantees; adversarial training hook + config."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import deepfuse as df
from deepfuse._utils.errors import ConfigError, UserError
from deepfuse.adversarial import AdversarialTraining, fgsm, pgd, robust_accuracy
from deepfuse.api.training import resolve_config


def _linear(seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(4, 3)


def test_fgsm_equals_hand_computation_on_linear_model() -> None:
    net = _linear()
    torch.manual_seed(1)
    x, y = torch.rand(5, 4), torch.tensor([0, 1, 2, 1, 0])
    eps = 0.1
    # d CE / d x for logits z = W x + b, averaged over the batch: W^T (softmax(z) - onehot) / B
    with torch.no_grad():
        probs = torch.softmax(net(x), dim=1)
        grad = (probs - F.one_hot(y, 3).float()) @ net.weight / len(x)
    expected = (x + eps * grad.sign()).clamp(0, 1)
    torch.testing.assert_close(fgsm(net, x, y, eps), expected, rtol=0, atol=1e-7)
    # without clamping, every coordinate moved by exactly eps
    unclamped = fgsm(net, x, y, eps, clamp=None)
    torch.testing.assert_close((unclamped - x).abs(), torch.full_like(x, eps))


def test_attacks_keep_mode_and_parameter_gradients() -> None:
    net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    net.train(True)
    x, y = torch.rand(6, 4), torch.randint(0, 3, (6,))
    fgsm(net, x, y, 0.1)
    pgd(net, x, y, 0.1, steps=2)
    assert net.training
    assert all(p.grad is None for p in net.parameters())


def test_pgd_stays_in_ball_and_raises_loss() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 3))
    x, y = torch.rand(64, 10), torch.randint(0, 3, (64,))
    eps = 0.05
    gen = torch.Generator().manual_seed(0)
    x_adv = pgd(net, x, y, eps, alpha=0.01, steps=10, generator=gen)
    assert (x_adv - x).abs().max() <= eps + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    with torch.no_grad():
        clean, attacked = F.cross_entropy(net(x), y), F.cross_entropy(net(x_adv), y)
        random_point = F.cross_entropy(net((x + eps * (2 * torch.rand_like(x) - 1)).clamp(0, 1)), y)
    assert attacked > clean + 1e-3
    assert attacked > random_point  # the gradient steps matter, not just the noise


def test_robust_accuracy_eps0_is_clean_accuracy_and_bad_eps_raises() -> None:
    net = _linear()
    x, y = torch.rand(50, 4), torch.randint(0, 3, (50,))
    curve = robust_accuracy(net, (x, y), [0, 0.2, 1.0], batch_size=16)
    with torch.no_grad():
        clean = (net(x).argmax(1) == y).float().mean().item()
    assert curve[0.0] == pytest.approx(clean)
    assert curve[1.0] <= curve[0.0]
    with pytest.raises(UserError, match="eps"):
        robust_accuracy(net, (x, y), [-0.1])
    with pytest.raises(UserError, match="Unknown attack 'fsgm'"):
        robust_accuracy(net, (x, y), [0.1], attack="fsgm")


def test_robust_accuracy_of_uint8_channels_last_arrays_follows_the_tensor_rule() -> None:
    """Regression (issue 10): (x, y) arrays went in as they were (uint8 NHWC), unlike fit."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    gen = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (12, 8, 8, 3), dtype=torch.uint8, generator=gen).numpy()
    labels = (np.arange(12) % 3).astype(np.int32)
    x = torch.from_numpy(pixels.astype(np.float32) / np.float32(255.0)).permute(0, 3, 1, 2)
    want = robust_accuracy(net, (x.contiguous(), torch.from_numpy(labels).long()), [0, 0.1])
    assert robust_accuracy(net, (pixels, labels), [0, 0.1]) == want


class _Recorder(nn.Module):
    """Flatten + linear that records the inputs it sees in training mode."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.seen.append(x.detach().clone())
        return self.fc(x.flatten(1))


def test_adversarial_training_replaces_ratio_of_each_batch() -> None:
    torch.manual_seed(0)
    x = torch.rand(16, 1, 2, 2)
    y = (x.flatten(1).sum(1) > 2).long()
    rec = _Recorder()
    model = df.Model(rec)
    model.compile(
        optimizer="sgd",
        loss="cross_entropy",
        adversarial={"attack": "fgsm", "eps": 0.1, "ratio": 0.25},
    )
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert len(rec.seen) == 2  # the attack's own forward passes run in eval mode
    for i, seen in enumerate(rec.seen):
        clean = x[8 * i : 8 * (i + 1)]
        # 2 of 8 rows attacked (inside the eps-ball, in [0, 1], moved); the rest untouched
        assert torch.equal(seen[2:], clean[2:])
        assert (seen[:2] - clean[:2]).abs().max() <= 0.1 + 1e-6
        assert (seen[:2] != clean[:2]).any()
        assert seen.min() >= 0 and seen.max() <= 1

    plain = _Recorder()
    model = df.Model(plain)
    model.compile(optimizer="sgd", loss="cross_entropy")
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert torch.equal(plain.seen[0], x[:8])


def test_adversarial_spec_validation() -> None:
    assert AdversarialTraining.from_spec(None) is None
    pgd_spec = AdversarialTraining.from_spec({"attack": "pgd", "eps": 0.3})
    assert pgd_spec.steps == 7 and pgd_spec.ratio == 0.5
    model = df.Model(nn.Linear(4, 2))
    with pytest.raises(ConfigError, match=r"adversarial\.attack"):
        model.compile(loss="cross_entropy", adversarial={"attack": "deepfool"})
    with pytest.raises(ConfigError, match=r"adversarial\.eps"):
        model.compile(loss="cross_entropy", adversarial={"eps": -1})
    with pytest.raises(ConfigError, match=r"adversarial\.ratio"):
        model.compile(loss="cross_entropy", adversarial={"ratio": 1.5})
    with pytest.raises(ConfigError, match="Did you mean 'ratio'"):
        model.compile(loss="cross_entropy", adversarial={"ration": 0.5})


def test_adversarial_is_a_trainer_config_key() -> None:
    spec = {"attack": "fgsm", "eps": 0.1, "ratio": 0.5}
    cfg = resolve_config({"data": {"dataset": "mnist"}, "trainer": {"adversarial": spec}})
    assert cfg["trainer"]["adversarial"] == spec
    assert resolve_config({"data": {"dataset": "mnist"}})["trainer"]["adversarial"] is None
    with pytest.raises(ConfigError, match=r"Did you mean .trainer\.adversarial."):
        resolve_config({"data": {"dataset": "mnist"}, "trainer": {"adversarail": spec}})
