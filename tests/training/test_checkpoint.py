"""Checkpoints: exact round trips (optimizers, RNG, loaders, callbacks), resume after an
interruption, damaged checkpoints, retention. The SIGKILL tests are in test_resume_sigkill.py."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch

import deepfuse as df
from deepfuse.data.memory import InMemoryLoader
from deepfuse.training.callbacks import EarlyStopping
from deepfuse.training.callbacks.steplog import StepLog
from deepfuse.training.checkpoint import (
    CheckpointManager,
    capture_rng,
    load_checkpoint,
    restore_rng,
)
from run_helpers import Interrupt

OPTIMIZERS = {
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
    "adamw_amsgrad": lambda p: torch.optim.AdamW(p, lr=0.01, amsgrad=True),
    "adam_fused": lambda p: torch.optim.Adam(p, lr=0.01, fused=True),
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5),
}


def _steps(net, opt, n, seed):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x = torch.randn(8, 4, generator=g)
        loss = net(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_state_round_trips_exactly(name, tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = OPTIMIZERS[name](net.parameters())
    _steps(net, opt, 3, seed=1)
    path = CheckpointManager(tmp_path).save(
        {"model": net.state_dict(), "optimizer": opt.state_dict(), "trainer": {"global_step": 3}}
    )
    state = load_checkpoint(path)
    twin = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    twin.load_state_dict(state["model"])
    twin_opt = OPTIMIZERS[name](twin.parameters())
    twin_opt.load_state_dict(state["optimizer"])
    assert twin_opt.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    _steps(net, opt, 4, seed=2)
    _steps(twin, twin_opt, 4, seed=2)
    for a, b in zip(net.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_rng_states_round_trip(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.normal()  # leaves a cached gaussian in numpy's legacy state
    path = CheckpointManager(tmp_path).save({"rng": capture_rng(), "trainer": {"global_step": 0}})
    want = (random.random(), np.random.normal(), torch.rand(3))
    restore_rng(load_checkpoint(path)["rng"])
    got = (random.random(), np.random.normal(), torch.rand(3))
    assert got[:2] == want[:2] and torch.equal(got[2], want[2])


def test_in_memory_loader_resumes_mid_epoch_including_the_next_epochs():
    data = {"y": torch.arange(10)}
    ref = InMemoryLoader(data, batch_size=3, generator=torch.Generator().manual_seed(0))
    want = [[b["y"].tolist() for b in ref] for _ in range(3)]
    run = InMemoryLoader(data, batch_size=3, generator=torch.Generator().manual_seed(0))
    it = iter(run)
    first = [next(it)["y"].tolist(), next(it)["y"].tolist()]
    fresh = InMemoryLoader(data, batch_size=3, generator=torch.Generator().manual_seed(99))
    fresh.load_state_dict(run.state_dict())
    got = [first + [b["y"].tolist() for b in fresh]]  # the rest of the interrupted epoch
    got += [[b["y"].tolist() for b in fresh] for _ in range(2)]  # then the same next epochs
    assert got == want


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 5, generator=g)
    return x, (x[:, 0] - x[:, 1] > 0).long()


def _fit(tmp_path, *, callbacks=(), resume=False, every=3):
    torch.manual_seed(0)
    model = df.Sequential(
        [df.layers.Dense(8, activation="relu"), df.layers.Dropout(0.3), df.layers.Dense(2)]
    )
    model.compile(
        optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9},
        loss="cross_entropy",
        metrics=["accuracy", "auc"],
        schedule="cosine",
    )
    stop = EarlyStopping(monitor="val_loss", patience=10, verbose=False)
    x, y = _data()
    history = model.fit(
        x, y, epochs=4, batch_size=16, seed=5, verbose=0, validation_split=0.2,
        callbacks=[stop, StepLog(tmp_path / "steps.csv"), *callbacks],
        checkpoint_dir=None if tmp_path.name == "plain" else tmp_path / "ckpt",
        checkpoint_every=every, resume=resume,
    )  # fmt: skip
    return model, history.history


def _same(a, b):
    return all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())


def _without_time(history):
    return {k: v for k, v in history.items() if k != "time"}


@pytest.mark.parametrize("at", [4, 6, 12, 23])  # mid-epoch, at a checkpoint, epoch end, last step
def test_fit_resumes_bit_identically(tmp_path, at):
    (tmp_path / "plain").mkdir()
    want_model, want = _fit(tmp_path / "plain")
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, callbacks=[Interrupt(at)])
    got_model, got = _fit(tmp_path, resume=True)
    assert _same(got_model, want_model)
    assert _without_time(got) == _without_time(want)
    steps = (tmp_path / "steps.csv").read_text().splitlines()
    assert steps[1:] == (tmp_path / "plain" / "steps.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[2]) for r in steps[1:]] == list(range(1, 25))


def test_damaged_latest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    (tmp_path / "plain").mkdir()
    want_model, want = _fit(tmp_path / "plain")
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, callbacks=[Interrupt(10)])
    manager = CheckpointManager(tmp_path / "ckpt")
    latest = manager.checkpoints()[-1]
    weights = latest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])  # a torn write
    with pytest.warns(RuntimeWarning, match=f"Skipping damaged checkpoint {latest.name}"):
        assert manager.latest_valid() == manager.checkpoints()[-2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got_model, got = _fit(tmp_path, resume=True)
    assert _same(got_model, want_model)
    assert _without_time(got) == _without_time(want)


def test_manager_keeps_the_newest_and_drops_unpublished_temp_folders(tmp_path):
    (tmp_path / ".tmp-step-00000009-123").mkdir()  # left by a run killed mid-save
    manager = CheckpointManager(tmp_path, keep=2)
    assert not (tmp_path / ".tmp-step-00000009-123").exists()
    for step in (1, 2, 3):
        manager.save({"trainer": {"global_step": step}, "model": {"w": torch.full((2,), step)}})
    assert [p.name for p in manager.checkpoints()] == ["step-00000002", "step-00000003"]
    assert load_checkpoint(manager.latest_valid())["model"]["w"].tolist() == [3, 3]


def test_resume_without_any_checkpoint_starts_over_with_a_warning(tmp_path):
    (tmp_path / "plain").mkdir()
    want_model, _ = _fit(tmp_path / "plain")
    with pytest.warns(RuntimeWarning, match="No valid checkpoint"):
        got_model, _ = _fit(tmp_path, resume=True)
    assert _same(got_model, want_model)
