"""Callbacks driven by a tiny fake trainer (the contract in docs/internals.md, "Callbacks")."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from deepfuse._utils.errors import ConfigError, MissingDependencyError, NaNLossError
from deepfuse.training import callbacks as cbs
from deepfuse.training.callbacks import (
    HOOKS,
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LRScheduler,
    ModelCheckpoint,
    ProgressBar,
    TensorBoard,
    TerminateOnNaN,
)


class FakeTrainer:
    """The attributes the callback contract promises, and a loop that drives the hooks."""

    def __init__(self, *, epochs: int = 3, steps_per_epoch: int | None = 4, lr: float = 0.1):
        torch.manual_seed(0)
        self.model = torch.nn.Linear(3, 2)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.stop_training = False
        self.epoch = 0
        self.global_step = 0
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.history: list[dict[str, float]] = []
        self.running_calls = 0

    def running_logs(self) -> dict[str, float]:
        self.running_calls += 1
        return {"loss": 0.5, "accuracy": 0.75}

    def fit(
        self,
        callbacks: list[Callback],
        epoch_logs: Callable[[int], dict[str, float]] = lambda e: {"loss": 1.0 / (e + 1)},
        batch_loss: Callable[[int], float] = lambda gs: 1.0,
        on_epoch: Callable[[int], None] | None = None,
    ) -> list[dict[str, float]]:
        for cb in callbacks:
            cb.set_trainer(self)
        for cb in callbacks:
            cb.on_train_begin({})
        for epoch in range(self.epochs):
            self.epoch = epoch
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            if on_epoch is not None:
                on_epoch(epoch)  # e.g. change the weights, as training would
            for step in range(self.steps_per_epoch or 5):
                self.optimizer.step()
                self.global_step += 1
                for cb in callbacks:
                    cb.on_train_batch_end(step, {"loss": batch_loss(self.global_step)})
                if self.stop_training:
                    break
            logs = {**epoch_logs(epoch), "lr": self.optimizer.param_groups[0]["lr"], "time": 0.5}
            for cb in callbacks:
                cb.on_validation_end(logs)
            self.history.append(logs)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end(self.history[-1])
        return self.history


def _set_weights(trainer: FakeTrainer, value: float) -> None:
    with torch.no_grad():
        for p in trainer.model.parameters():
            p.fill_(value)


# --------------------------------------------------------------------------- Keras' self.model


def test_keras_callback_has_self_model_before_train_begin_and_stops_the_real_loop():
    import numpy as np

    import deepfuse as keras
    from deepfuse.training.trainer import Trainer

    seen: list[Any] = []

    class KerasStyle(Callback):
        def on_train_begin(self, logs):
            seen.append((self.model, self.model.optimizer))

        def on_epoch_end(self, epoch, logs):
            self.model.stop_training = True  # Keras' way: stop after this epoch

    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    hist = model.fit(
        np.zeros((4, 2), "float32"),
        np.zeros((4, 1), "float32"),
        epochs=5,
        callbacks=[KerasStyle()],
        verbose=0,
    )
    assert seen == [(model, model.optimizer)] and len(hist.history["loss"]) == 1
    plain = Callback()
    plain.set_model(model)  # Keras' hook; the trainer calls it before on_train_begin
    assert plain.model is model
    trainer = Trainer(model, callbacks=[KerasStyle()])
    assert trainer.callbacks[0].model is model and not trainer.stop_training


# --------------------------------------------------------------------------- base, History


def test_base_hooks_are_no_ops_and_state_is_json():
    cb = Callback()
    trainer = FakeTrainer()
    trainer.fit([cb])
    assert cb.trainer is trainer
    assert cb.state_dict() == {}


def test_history_records_like_keras():
    h = History()
    FakeTrainer(epochs=3).fit([h], lambda e: {"loss": 1.0 / (e + 1), "val_loss": 2.0})
    assert h.history["loss"] == pytest.approx([1.0, 0.5, 1 / 3])
    assert h.history["val_loss"] == [2.0, 2.0, 2.0]
    assert h.epoch == [0, 1, 2]
    h2 = History()
    h2.load_state_dict(json.loads(json.dumps(h.state_dict())))
    assert h2.history == h.history and h2.epoch == h.epoch


def test_lambda_callback_overrides_only_given_hooks():
    seen = []
    cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, logs["loss"])))
    assert isinstance(cb, LambdaCallback)
    overridden = [h for h in HOOKS if h in type(cb).__dict__]
    assert overridden == ["on_epoch_end"]
    FakeTrainer(epochs=2).fit([cb])
    assert seen == [(0, 1.0), (1, 0.5)]
    with pytest.raises(ConfigError, match=r"Did you mean 'on_epoch_end'\?"):
        LambdaCallback(on_epoch_ends=print)


# --------------------------------------------------------------------------- EarlyStopping


def test_early_stopping_stops_at_the_right_epoch_and_restores_best(capsys):
    val = [1.0, 0.8, 0.9, 0.85, 0.95, 0.7, 0.6]
    stop = EarlyStopping(monitor="val_loss", patience=3)
    trainer = FakeTrainer(epochs=len(val))
    trainer.fit(
        [stop],
        lambda e: {"loss": 0.1, "val_loss": val[e]},
        on_epoch=lambda e: _set_weights(trainer, float(e)),
    )
    # best at epoch 1 (0.8); epochs 2, 3, 4 do not improve → stop after epoch 4 (0-based)
    assert len(trainer.history) == 5
    assert stop.stopped_epoch == 4 and stop.best_epoch == 1 and stop.best == 0.8
    assert all(torch.all(p == 1.0) for p in trainer.model.parameters())
    out = capsys.readouterr().out
    assert "stopped after epoch 5" in out and "restored the weights of epoch 2" in out
    assert stop.message in out


def test_early_stopping_keeps_last_weights_without_restore_and_mode_max():
    acc = [0.5, 0.6, 0.6, 0.605]
    stop = EarlyStopping(
        monitor="val_accuracy", patience=2, min_delta=0.01, restore_best_weights=False
    )
    trainer = FakeTrainer(epochs=len(acc))
    trainer.fit(
        [stop], lambda e: {"val_accuracy": acc[e]}, on_epoch=lambda e: _set_weights(trainer, e)
    )
    assert stop._monitor.mode == "max"
    assert stop.stopped_epoch == 3  # 0.6 and 0.605 are not better than 0.6 + 0.01
    assert all(torch.all(p == 3.0) for p in trainer.model.parameters())


def test_early_stopping_restores_even_when_training_ran_to_the_end(capsys):
    val = [0.5, 0.4, 0.45]
    stop = EarlyStopping(patience=5)
    trainer = FakeTrainer(epochs=3)
    trainer.fit([stop], lambda e: {"val_loss": val[e]}, on_epoch=lambda e: _set_weights(trainer, e))
    assert stop.stopped_epoch is None
    assert all(torch.all(p == 1.0) for p in trainer.model.parameters())
    assert "restored the weights of epoch 2" in capsys.readouterr().out


def test_early_stopping_missing_monitor_says_which_keys_exist():
    with pytest.raises(ConfigError, match=r"'val_loss'.*keys: loss, lr, time.*validation_split"):
        FakeTrainer().fit([EarlyStopping()])


def test_early_stopping_state_round_trip():
    stop = EarlyStopping(patience=4, verbose=False)
    FakeTrainer(epochs=3).fit([stop], lambda e: {"val_loss": [1.0, 0.5, 0.7][e]})
    state = json.loads(json.dumps(stop.state_dict()))
    assert state == {
        "monitor": "val_loss",
        "patience": 4,
        "wait": 1,
        "best": 0.5,
        "best_epoch": 1,
        "stopped_epoch": None,
    }
    resumed = EarlyStopping(patience=4)
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state


# --------------------------------------------------------------------------- ModelCheckpoint


def _no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


def test_checkpoint_best_only_writes_best_and_last(tmp_path):
    val = [1.0, 0.5, 0.7]
    ckpt = ModelCheckpoint(tmp_path / "ckpt", monitor="val_loss", save_best_only=True)
    trainer = FakeTrainer(epochs=3)
    trainer.fit(
        [ckpt],
        lambda e: {"loss": 0.1, "val_loss": val[e]},
        lambda gs: 1.0,
        lambda e: _set_weights(trainer, e),
    )
    directory = tmp_path / "ckpt"
    assert sorted(p.name for p in directory.iterdir()) == [
        "best.json",
        "best.safetensors",
        "last.json",
        "last.safetensors",
    ]
    best = json.loads((directory / "best.json").read_text())
    assert best["epoch"] == 2 and best["value"] == 0.5 and best["mode"] == "min"
    assert best["global_step"] == 8 and best["logs"]["val_loss"] == 0.5
    assert torch.all(load_file(directory / "best.safetensors")["weight"] == 1.0)
    assert json.loads((directory / "last.json").read_text())["epoch"] == 3
    assert torch.all(load_file(directory / "last.safetensors")["weight"] == 2.0)
    assert ckpt.state_dict() == {"monitor": "val_loss", "best": 0.5, "best_epoch": 1}


def test_checkpoint_every_epoch_and_without_monitor(tmp_path):
    ckpt = ModelCheckpoint(tmp_path, save_last=False)
    FakeTrainer(epochs=2).fit([ckpt])  # no val_loss in logs: per-epoch files only
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "epoch_001.json",
        "epoch_001.safetensors",
        "epoch_002.json",
        "epoch_002.safetensors",
    ]
    assert json.loads((tmp_path / "epoch_002.json").read_text())["value"] is None
    with pytest.raises(ConfigError, match="ModelCheckpoint monitors 'val_acc'"):
        FakeTrainer(epochs=1).fit([ModelCheckpoint(tmp_path, "val_acc", save_best_only=True)])


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    ckpt = ModelCheckpoint(tmp_path, save_best_only=True)
    trainer = FakeTrainer(epochs=1)
    trainer.fit([ckpt], lambda e: {"val_loss": 1.0})
    before = (tmp_path / "best.safetensors").read_bytes()

    import safetensors.torch

    def crash(model, filename, metadata=None):
        Path(filename).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_model", crash)
    trainer2 = FakeTrainer(epochs=1)
    _set_weights(trainer2, 5.0)
    ckpt._monitor.best = 2.0  # so epoch 0 below is an improvement
    with pytest.raises(OSError, match="disk full"):
        trainer2.fit([ckpt], lambda e: {"val_loss": 0.5})
    assert (tmp_path / "best.safetensors").read_bytes() == before
    assert _no_temp_files(tmp_path)


# --------------------------------------------------------------------------- CSVLogger


def test_csv_logger_content_header_union_and_append(tmp_path):
    path = tmp_path / "logs" / "history.csv"
    log = CSVLogger(path)
    FakeTrainer(epochs=3).fit(
        [log], lambda e: {"loss": 0.5 - 0.1 * e, **({"val_loss": 0.9} if e == 2 else {})}
    )
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["epoch", "loss", "lr", "time", "val_loss"]
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert [float(r["loss"]) for r in rows] == pytest.approx([0.5, 0.4, 0.3])
    assert [r["val_loss"] for r in rows] == ["", "", "0.9"]
    # a resumed run keeps the old rows
    resumed = FakeTrainer(epochs=1)
    CSVLogger(path, append=True).on_train_begin({})
    resumed.fit([CSVLogger(path, append=True)], lambda e: {"loss": 0.1})
    assert len(list(csv.DictReader(path.open()))) == 4
    FakeTrainer(epochs=1).fit([CSVLogger(path)])  # append=False starts over
    assert len(list(csv.DictReader(path.open()))) == 1
    assert _no_temp_files(path.parent)


# --------------------------------------------------------------------------- ProgressBar


def test_progress_plain_lines_under_ci(capsys, monkeypatch):
    monkeypatch.setenv("CI", "true")
    trainer = FakeTrainer(epochs=2, steps_per_epoch=50)
    trainer.fit(
        [ProgressBar()],
        lambda e: {"loss": 0.25, "accuracy": 0.9, "val_loss": 0.3, "val_accuracy": 0.8},
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "Epoch 1/2 - 50 steps - 0.5s - loss: 0.2500 - accuracy: 0.9000 - val_loss: 0.3000 "
        "- val_accuracy: 0.8000 - lr: 0.1",
        "Epoch 2/2 - 50 steps - 0.5s - loss: 0.2500 - accuracy: 0.9000 - val_loss: 0.3000 "
        "- val_accuracy: 0.8000 - lr: 0.1",
    ]
    assert trainer.running_calls == 0  # fast epochs: no mid-epoch line, no running_logs call


def test_progress_plain_mid_epoch_lines_are_throttled(capsys):
    trainer = FakeTrainer(epochs=1, steps_per_epoch=2000)
    bar = ProgressBar(plain=True, plain_interval=0.01)
    orig = trainer.optimizer.step
    trainer.optimizer.step = lambda: (orig(), time.sleep(0.0001))  # ~0.1 ms steps
    trainer.fit([bar])
    lines = capsys.readouterr().out.splitlines()
    progress = [line for line in lines if " - step " in line]
    assert progress, lines
    assert "step" in progress[0] and "/2000" in progress[0] and "ETA" in progress[0]
    assert "loss: 0.5000 - accuracy: 0.7500" in progress[0]
    # at most one line per plain_interval (plus slack for the clock), never one per step
    assert len(progress) < 2000 / 10
    assert lines[-1].startswith("Epoch 1/1 - 2000 steps")


def test_progress_plain_interval_inf_prints_only_epoch_lines(capsys):
    trainer = FakeTrainer(epochs=1, steps_per_epoch=300)
    trainer.fit([ProgressBar(plain=True, plain_interval=math.inf)])
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 1/1 - 300 steps - 0.5s - loss: 1.0000 - lr: 0.1"
    ]


def test_progress_tqdm_mode_refreshes_rarely():
    out = io.StringIO()
    trainer = FakeTrainer(epochs=2, steps_per_epoch=20000)
    trainer.fit([ProgressBar(plain=False, file=out)], lambda e: {"loss": 0.2, "val_loss": 0.3})
    text = out.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "20000/20000" in text
    assert "val_loss: 0.3000" in text and "step/s" in text
    assert trainer.running_calls < 50  # not per step: at most ~7 per second


def test_progress_per_step_cost_is_tiny():
    trainer = FakeTrainer(steps_per_epoch=None)
    bar = ProgressBar(plain=False, file=io.StringIO())
    bar.set_trainer(trainer)
    bar.on_train_begin({})
    bar.on_epoch_begin(0, {})
    logs = {"loss": 1.0}
    n = 200_000
    hook = bar.on_train_batch_end
    start = time.perf_counter()
    for step in range(n):
        hook(step, logs)
    per_step = (time.perf_counter() - start) / n
    bar.on_epoch_end(0, {"loss": 1.0})
    assert per_step < 2e-6, f"{per_step * 1e9:.0f} ns per step"  # 1% of a 1 ms step is 10 µs


# --------------------------------------------------------------------------- TerminateOnNaN


def test_terminate_on_nan_message():
    trainer = FakeTrainer(epochs=3, steps_per_epoch=4)
    with pytest.raises(NaNLossError) as err:
        trainer.fit([TerminateOnNaN()], batch_loss=lambda gs: math.nan if gs == 6 else 0.5 / gs)
    msg = str(err.value)
    assert "became nan at epoch 2, step 2 (global step 6)" in msg
    assert "last finite loss was 0.1" in msg  # 0.5 / 5
    assert "Lower the learning rate" in msg and "grad_clip" in msg
    assert trainer.stop_training


def test_terminate_on_nan_checks_epoch_val_loss():
    with pytest.raises(NaNLossError, match=r"end of the epoch \(val_loss\)"):
        FakeTrainer().fit([TerminateOnNaN()], lambda e: {"loss": 1.0, "val_loss": math.inf})


# --------------------------------------------------------------------------- LRScheduler


def test_lr_scheduler_per_step_and_state():
    trainer = FakeTrainer(epochs=2, steps_per_epoch=5, lr=0.1)
    seen = []
    record = LambdaCallback(
        on_train_batch_end=lambda step, logs: seen.append(trainer.optimizer.param_groups[0]["lr"])
    )
    cb = LRScheduler({"name": "cosine", "warmup_steps": 2})
    trainer.fit([record, cb])
    assert cb.schedule.interval == "step"
    want = [0.05, 0.1] + [0.05 * (1 + math.cos(math.pi * t / 8)) for t in range(8)]
    assert seen == pytest.approx(want)
    state = json.loads(json.dumps(cb.state_dict()))
    fresh = LRScheduler({"name": "cosine", "warmup_steps": 2})
    fresh.load_state_dict(state)  # applied when the schedule is built
    fresh.set_trainer(FakeTrainer(epochs=2, steps_per_epoch=5, lr=0.1))
    fresh.on_train_begin({})
    assert fresh.schedule.state_dict() == cb.schedule.state_dict()


def test_lr_scheduler_plateau_reads_epoch_logs():
    trainer = FakeTrainer(epochs=4, lr=1.0)
    cb = LRScheduler({"name": "reduce_on_plateau", "patience": 0, "factor": 0.5})
    trainer.fit([cb], lambda e: {"val_loss": [1.0, 1.0, 0.5, 0.6][e]})
    assert [h["lr"] for h in trainer.history] == [1.0, 1.0, 0.5, 0.5]
    assert trainer.optimizer.param_groups[0]["lr"] == 0.25


# --------------------------------------------------------------------------- TensorBoard, get


def test_tensorboard_needs_the_extra(tmp_path, monkeypatch):
    import deepfuse.training.callbacks.loggers as loggers

    def missing(module, *, extra, purpose=""):
        from deepfuse._utils.optional import require

        return require("deepfuse_no_such_module", extra=extra, purpose=purpose)

    monkeypatch.setattr(loggers, "require", missing)
    with pytest.raises(MissingDependencyError, match=r"deepfuse\[tensorboard\]"):
        FakeTrainer().fit([TensorBoard(tmp_path)])


def test_tensorboard_writes_events(tmp_path):
    pytest.importorskip("tensorboard")
    FakeTrainer(epochs=2).fit(
        [TensorBoard(tmp_path, update_freq=2)], lambda e: {"loss": 1.0, "val_loss": 2.0}
    )
    assert list(tmp_path.glob("events.out.tfevents.*"))


def test_get_registry_forms(tmp_path):
    assert type(cbs.get("early_stopping")) is EarlyStopping
    assert type(cbs.get("EarlyStopping")) is EarlyStopping
    assert type(cbs.get("CSVLogger", path=tmp_path / "h.csv")) is CSVLogger
    stop = cbs.get({"name": "early_stopping", "patience": 2})
    assert stop.patience == 2
    assert cbs.get({"early_stopping": {"patience": 7}}).patience == 7
    assert cbs.get({"class_name": "EarlyStopping", "config": {"patience": 9}}).patience == 9
    assert cbs.get(stop) is stop
    built = cbs.get_list({"model_checkpoint": {"directory": str(tmp_path)}, "history": None})
    assert [type(c) for c in built] == [ModelCheckpoint, History]
    assert cbs.get_list(None) == []


@pytest.mark.parametrize(
    "name", ["TerminateOnNaN", "terminate-on-nan", "TERMINATE_ON_NAN", "terminate_on_nan"]
)
def test_class_names_and_spellings_find_the_callback(name):
    # Regression: "TerminateOnNaN" and "TensorBoard" (class names) were unknown names.
    assert type(cbs.get(name)) is TerminateOnNaN
    assert cbs.CALLBACKS.get("TensorBoard") is cbs.TensorBoard
    assert cbs.CALLBACKS.get("HistogramLog") is cbs.HistogramLog


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("early_stoping", r"Unknown callback 'early_stoping'.*Did you mean 'early_stopping'\?"),
        ({"early_stopping": {"patiense": 3}}, r"Unknown option 'patiense'.*'patience'\?"),
        ("csv_logger", "missing 1 required positional argument: 'path'"),
        (42, "Cannot build a callback"),
    ],
)
def test_get_errors(spec, pattern):
    with pytest.raises(ConfigError, match=pattern):
        cbs.get(spec)


@pytest.mark.parametrize(
    "cb",
    [
        History(),
        EarlyStopping(),
        ModelCheckpoint("x"),
        CSVLogger("x.csv"),
        TerminateOnNaN(),
        ProgressBar(),
        LRScheduler("cosine"),
        TensorBoard("tb"),
    ],
    ids=lambda c: type(c).__name__,
)
def test_every_state_dict_is_json(cb: Any):
    json.dumps(cb.state_dict())
    cb.load_state_dict(json.loads(json.dumps(cb.state_dict())))
