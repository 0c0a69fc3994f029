"""``fit``'s History and Keras' ``LearningRateScheduler``, against what real Keras 3 does.

Reference (keras 3.15.1, torch backend, /work/kerasvenv): a functional ``Dense(1, sigmoid)``
model compiled with ``SGD(0.1)``, ``binary_crossentropy`` and ``metrics=["accuracy"]``, fitted
3 epochs with ``validation_split=0.25`` and ``LearningRateScheduler(lambda e, lr: lr * 0.5)``:
``sorted(history.history) == ['accuracy', 'learning_rate', 'loss', 'val_accuracy', 'val_loss']``,
``history.history["learning_rate"] == [0.05, 0.025, 0.0125]`` (float32 of those); without the
scheduler the keys are ``['accuracy', 'loss']``; a schedule returning ``1`` (an int) raises
``ValueError: The output of the `schedule` function should be a float. Got: 1``.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepfuse as keras
from deepfuse import layers


def _data(rows: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 3)).astype("float32")
    return x, (x.sum(axis=1) > 0).astype("float32")


def _model() -> keras.Model:
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(inputs))
    model.compile(
        optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=["accuracy"]
    )
    return model


def test_history_holds_only_keras_keys_and_keeps_lr_and_time_apart():
    x, y = _data()
    history = _model().fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss"]  # real Keras' keys
    assert history.lr == [pytest.approx(0.1)] * 2  # the rate at each epoch's end
    assert len(history.epoch_time) == 2 and all(t > 0 for t in history.epoch_time)
    # a run's history.csv keeps its lr and time columns
    assert list(history.run_history()) == ["loss", "accuracy", "lr", "time"]


def test_learning_rate_scheduler_matches_keras():
    x, y = _data()
    model = _model()
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5, verbose=0)
    history = model.fit(
        x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0, callbacks=[scheduler]
    )
    assert sorted(history.history) == [
        "accuracy",
        "learning_rate",
        "loss",
        "val_accuracy",
        "val_loss",
    ]
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0125)


def test_learning_rate_scheduler_applies_the_rate_at_epoch_begin():
    x, y = _data()
    model = _model()
    seen = []

    class Recorder(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate))

    schedule = keras.callbacks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))  # old form
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[schedule, Recorder()])
    assert seen == pytest.approx([0.1, 0.1, 0.05, 0.05])  # every step of epoch e uses rate e


def test_learning_rate_scheduler_refuses_a_non_float_like_keras():
    x, y = _data()
    bad = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 1)
    with pytest.raises(ValueError, match="must return a float"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[bad])
