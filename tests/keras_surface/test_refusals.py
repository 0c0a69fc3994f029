"""What stays unsupported says so in one line naming the Keras feature and the alternative
(docs/guide.md "What is refused"), never with a torch AttributeError or TypeError."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepfuse as keras
from deepfuse import layers, ops
from deepfuse._utils.errors import ConfigError, UserError


def _model():
    model = keras.Sequential([layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


X, Y = np.zeros((4, 3), "float32"), np.array([0, 1, 0, 1])

CASES = [
    (
        "class_weight with sample_weight",
        lambda: _model().fit(X, Y, sample_weight=np.ones(4), class_weight={0: 2.0}, verbose=0),
        "Multiply the class weights into sample_weight",
    ),
    (
        "sample_weight with a DataLoader",
        lambda: _model().fit(
            torch.utils.data.DataLoader(
                torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(Y))
            ),
            sample_weight=np.ones(4),
            verbose=0,
        ),
        "needs in-memory arrays",
    ),
    ("workers", lambda: _model().fit(X, Y, workers=4, verbose=0), "DataLoader"),
    (
        "steps_per_execution",
        lambda: _model().compile(loss="mse", steps_per_execution=8),
        "one step",
    ),
    ("schedules", lambda: keras.optimizers.schedules.ExponentialDecay(0.1, 100, 0.9), "schedule"),
    ("sparse input", lambda: keras.Input(shape=(3,), sparse=True), "dense input"),
    (
        "torch on symbolic",
        lambda: torch.cat([keras.Input(shape=(2,)), keras.Input(shape=(2,))]),
        "Lambda",
    ),
    ("constraint", lambda: layers.Dense(2, kernel_constraint="max_norm"), "kernel_constraint"),
    ("lambda saved", lambda: layers.Lambda(lambda t: t).get_config(), "cannot be saved"),
    ("missing op", lambda: ops.fft, "use torch"),
    (
        "shape mismatch",
        lambda: layers.Dense(2)(keras.Input(shape=(3,))) + keras.Input(shape=(4,)),
        "cannot be called",
    ),
]


@pytest.mark.parametrize(("make", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_unsupported_keras_feature_is_one_line_naming_the_alternative(make, words):
    with pytest.raises((UserError, ConfigError, AttributeError)) as info:
        make()
    message = str(info.value)
    assert words in message
    assert "\n" not in message.strip()
    assert type(info.value).__module__.startswith("deepfuse") or "deepfuse" in message
