"""Keras model methods: ``train_on_batch`` and friends, weights as numpy, ``get_config``,
``evaluate``'s float, ``training=``, ``fit`` options (supported, ignored, refused)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepfuse as keras
from deepfuse import layers
from deepfuse._utils.errors import UserError


def blobs(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    return (rng.normal(size=(n, 4)) + y[:, None]).astype("float32"), y


def classifier(metrics=None) -> keras.Sequential:
    torch.manual_seed(0)
    model = keras.Sequential([layers.Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=metrics)
    return model


def test_train_test_predict_on_batch_match_the_reference():
    x, y = blobs()
    model = classifier()
    logits = torch.nn.functional.linear(torch.as_tensor(x), *model.layers[0].parameters())
    probs = torch.softmax(logits, 1).detach()
    expected = torch.nn.functional.nll_loss(probs.log(), torch.as_tensor(y))
    assert model.test_on_batch(x, y) == pytest.approx(float(expected), rel=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(x), probs.numpy(), rtol=1e-5)
    assert model.train_on_batch(x, y) == pytest.approx(
        float(expected), rel=1e-5
    )  # loss before the step
    assert model.test_on_batch(x, y) < float(expected)
    with_metrics = classifier(["accuracy"])
    _, acc = with_metrics.train_on_batch(x, y)
    assert acc == pytest.approx(float((probs.argmax(1).numpy() == y).mean()))
    assert set(with_metrics.train_on_batch(x, y, return_dict=True)) == {"loss", "accuracy"}


def test_evaluate_returns_a_float_without_metrics_and_a_list_with():
    x, y = blobs()
    assert isinstance(classifier().evaluate(x, y), float)
    loss, acc = classifier(["accuracy"]).evaluate(x, y)
    assert isinstance(loss, float) and 0 <= acc <= 1


def test_get_and_set_weights_round_trip_and_check_shapes():
    a, b = classifier(), keras.Sequential([layers.Dense(3, input_shape=(4,))])
    weights = a.get_weights()
    assert [w.shape for w in weights] == [(4, 3), (3,)]  # Keras' kernel (in, units)
    b.set_weights(weights)
    for wa, wb in zip(a.weights, b.weights, strict=True):
        assert torch.equal(wa, wb)
    with pytest.raises(UserError, match=r"Dense '.*weight 0 has shape \(4, 3\).*shape \(3, 4\)"):
        b.set_weights([weights[0].T, weights[1]])
    with pytest.raises(UserError, match="got 1 arrays but the model has 2"):
        b.set_weights(weights[:1])


def test_batchnorm_moving_statistics_are_non_trainable_weights():
    model = keras.Sequential([layers.Dense(2, input_shape=(3,)), layers.BatchNormalization()])
    names = [tuple(w.shape) for w in model.non_trainable_weights]
    assert names == [(2,), (2,)]  # moving mean and variance, as in Keras
    assert len(model.get_weights()) == 6


def test_sequential_config_round_trip_and_subclass_error():
    model = classifier()
    clone = keras.Sequential.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x, _ = blobs()
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))

    class Net(keras.Model):
        pass

    with pytest.raises(UserError, match=r"Net.get_config\(\) is not implemented"):
        Net(torch.nn.Linear(2, 2)).get_config()


def test_training_keyword_on_a_model_call():
    model = keras.Sequential([layers.Dropout(0.5, input_shape=(100,))])
    model.eval()
    x = torch.ones(4, 100)
    assert torch.equal(model(x, training=False), x)
    assert (model(x, training=True) == 0).any()
    assert not model.training and not model.layers[0].training  # mode restored
    model.zero_grad()  # nn.Module's, as Keras code calls it


def test_steps_per_epoch_and_ignored_or_refused_fit_options():
    x, y = blobs()
    calls = []

    class Net(keras.Sequential):
        def train_step(self, data):
            calls.append(1)
            return super().train_step(data)

    torch.manual_seed(0)
    model = Net([layers.Dense(3, input_shape=(4,))])
    model.compile(optimizer="sgd", loss="cross_entropy", run_eagerly=True, jit_compile=True)
    model.fit(x, y, epochs=2, batch_size=8, steps_per_epoch=3, verbose=0)
    assert len(calls) == 6  # 8 batches per epoch, stopped after 3
    for option, words in [
        ("sample_weight", "one weight per row"),  # weights are supported: shapes checked
        ("class_weight", "must be a dict"),
        ("workers", "DataLoader"),
        ("use_multiprocessing", "DataLoader"),
    ]:
        with pytest.raises(UserError, match=words):
            model.fit(x, y, verbose=0, **{option: np.ones(3)})
    with pytest.raises(UserError, match="unexpected keyword argument 'epoch'"):
        model.fit(x, y, epoch=3)
    with pytest.raises(UserError, match="both class_weight and sample_weight"):
        model.train_on_batch(x, y, sample_weight=np.ones(len(x)), class_weight={0: 1.0, 1: 2.0})
    model.fit(x, y, verbose=0, workers=1, use_multiprocessing=False)  # Keras 2's defaults
