"""TimeBudget: stops within one step of the budget, keeps the spent seconds across a resume."""

from __future__ import annotations

import time

import pytest
import torch

from deepfuse import layers
from deepfuse._utils.errors import ConfigError
from deepfuse.models import Sequential
from deepfuse.training.callbacks import Callback, TimeBudget


class _Slow(Callback):
    """Each step takes at least 20 ms, so the budget is reached after a known number of steps."""

    def on_train_batch_end(self, step, logs):
        time.sleep(0.02)


def _model():
    torch.manual_seed(0)
    model = Sequential([layers.Dense(4, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_budget_stops_training_mid_run_and_says_why(capsys):
    x, y = torch.randn(640, 3), torch.randn(640, 1)
    budget = TimeBudget(0.3)
    history = _model().fit(x, y, epochs=50, batch_size=32, callbacks=[_Slow(), budget], verbose=0)
    # 20 steps per epoch at >= 20 ms each: the budget ends the run in the first epoch
    assert budget.stopped_at_epoch == 0
    assert len(history.history["loss"]) == 1
    assert budget.elapsed() == pytest.approx(0.3, abs=0.25)
    assert "time budget of 0.3 s" in capsys.readouterr().out


def test_budget_not_reached_leaves_training_alone():
    x, y = torch.randn(64, 3), torch.randn(64, 1)
    budget = TimeBudget(600)
    history = _model().fit(x, y, epochs=3, batch_size=32, callbacks=[budget], verbose=0)
    assert budget.stopped_at_epoch is None and budget.message == ""
    assert len(history.history["loss"]) == 3


def test_resumed_budget_counts_the_seconds_already_spent():
    budget = TimeBudget(10)
    budget.load_state_dict({"seconds": 10, "spent": 9.5, "stopped_at_epoch": None})
    assert budget.remaining() == pytest.approx(0.5)
    budget.on_train_begin({})
    assert budget.state_dict()["spent"] >= 9.5


@pytest.mark.parametrize("bad", [0, -1, "1h", True])
def test_bad_budget_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="time_budget"):
        TimeBudget(bad)


def test_early_stopping_remembers_its_stopping_epoch_across_a_resume():
    """Regression: a run resumed after early stopping fired reported 'ran all epochs' in
    metrics.json (the stopping epoch was not part of the callback's state)."""
    from deepfuse.training.callbacks import EarlyStopping

    stop = EarlyStopping(monitor="val_loss", patience=1)
    stop.stopped_epoch, stop.wait = 4, 1
    state = stop.state_dict()
    resumed = EarlyStopping(monitor="val_loss", patience=1)
    resumed.load_state_dict(state)
    resumed.on_train_begin({})
    assert resumed.stopped_epoch == 4
    resumed.on_train_begin({})  # a later, fresh fit() starts clean
    assert resumed.stopped_epoch is None
