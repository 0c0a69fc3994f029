"""StepLog makes a run's progress visible while it trains (what the dashboard's live page reads)."""

from __future__ import annotations

import torch

import deepfuse as df
from deepfuse.training.callbacks import steplog
from deepfuse.training.callbacks.base import Callback
from deepfuse.training.callbacks.steplog import StepLog


class _Reader(Callback):
    """Counts the complete step rows on disk after every step, as a reader process would."""

    def __init__(self, path):
        self.path = path
        self.seen: list[int] = []

    def on_train_batch_end(self, step, logs):
        text = self.path.read_text() if self.path.exists() else ""
        self.seen.append(max(0, text.count("\n") - 1))


def _fit(tmp_path, callbacks):
    torch.manual_seed(0)
    model = df.Sequential([df.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = torch.randn(24, 3), torch.randn(24, 1)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=callbacks)


def test_rows_reach_the_file_during_training(tmp_path, monkeypatch):
    monkeypatch.setattr(steplog, "FLUSH_EVERY_S", 0.0)  # flush after every step
    path = tmp_path / "steps.csv"
    reader = _Reader(path)
    _fit(tmp_path, [StepLog(path), reader])
    assert reader.seen == list(range(1, 13))  # each step's row is readable right after it


def test_flushing_leaves_the_file_unchanged(tmp_path, monkeypatch):
    _fit(tmp_path, [StepLog(tmp_path / "buffered.csv")])
    monkeypatch.setattr(steplog, "FLUSH_EVERY_S", 0.0)
    _fit(tmp_path, [StepLog(tmp_path / "flushed.csv")])
    assert (tmp_path / "flushed.csv").read_bytes() == (tmp_path / "buffered.csv").read_bytes()


def test_rows_wait_for_the_interval(tmp_path, monkeypatch):
    monkeypatch.setattr(steplog, "FLUSH_EVERY_S", 3600.0)  # never within this short fit
    path = tmp_path / "steps.csv"
    reader = _Reader(path)
    _fit(tmp_path, [StepLog(path), reader])
    assert reader.seen == [0] * 12  # buffered: at most one flush per interval
