"""The Keras Layer-subclass API: build/call/add_weight, weight properties, saving.

Written the way keras.io's "Making new layers and models via subclassing" guide writes layers,
with ``import deepfuse as keras``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepfuse as keras
from deepfuse import layers as L
from deepfuse._utils.errors import ConfigError, DataError


class Linear(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.builds = 0

    def build(self, input_shape):
        self.builds += 1
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return torch.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Noisy(keras.layers.Layer):
    """Uses ``training`` like keras.io's custom dropout example."""

    def call(self, inputs, training=None):
        self.seen = training
        return inputs + 1.0 if training else inputs


def test_keras_linear_layer_builds_once_and_computes():
    layer = Linear(4)
    x = torch.randn(5, 3)
    y = layer(x)
    torch.testing.assert_close(y, x @ layer.w + layer.b)
    layer(x)
    assert layer.builds == 1 and layer.built and layer.build_shape == [None, 3]
    assert [tuple(w.shape) for w in layer.weights] == [(3, 4), (4,)]
    assert list(layer.state_dict()) == ["w", "b"]  # attribute names, no duplicates
    assert layer.count_params() == 16
    assert layer.trainable_weights == layer.trainable_variables == [layer.w, layer.b]
    assert layer.non_trainable_weights == []


def test_weights_land_on_the_inputs_dtype_and_loader_build_keywords_work():
    layer = Linear(2)
    layer(torch.randn(2, 3, dtype=torch.float64))
    assert layer.w.dtype == torch.float64
    other = Linear(2)
    other.build([None, 3], device="cpu", dtype=torch.float32)  # what deepfuse's loaders call
    assert other.built and tuple(other.w.shape) == (3, 2)
    dense = L.Dense(2)
    dense.build([None, 5], device="cpu", dtype=torch.float32)  # deepfuse's own layers too
    assert tuple(dense.weight.shape) == (2, 5)


def test_training_is_passed_to_call_only_when_it_accepts_it():
    layer = Noisy()
    x = torch.zeros(2)
    assert layer.train()(x).tolist() == [1.0, 1.0] and layer.seen is True
    assert layer(x, training=False).tolist() == [0.0, 0.0] and layer.seen is False
    assert layer.eval()(x).tolist() == [0.0, 0.0]
    assert layer(x, training=True).tolist() == [1.0, 1.0] and not layer.training
    plain = Linear(2)
    plain(torch.zeros(1, 3), training=True)  # call() takes no training: still fine


def test_training_flag_reaches_inner_layers():
    class Block(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.drop = L.Dropout(0.5)

        def call(self, inputs, training=None):
            return self.drop(inputs)

    block = Block().eval()
    x = torch.ones(1000)
    assert bool((block(x, training=True) == 0).any())
    torch.testing.assert_close(block(x), x)


def test_add_weight_uses_keras_layout_for_fans():
    layer = L.Layer()
    w = layer.add_weight(shape=(2000, 50), initializer="he_normal", name="kernel")
    # Keras kernel (in, out): fan_in = 2000, std = sqrt(2 / 2000) (truncated normal, rescaled)
    assert abs(float(w.detach().std()) - math.sqrt(2 / 2000)) < 0.003
    assert layer.kernel is w


def test_non_trainable_weights_and_trainable_toggle():
    layer = L.Layer()
    steps = layer.add_weight(shape=(), initializer="zeros", trainable=False, name="steps")
    scale = layer.add_weight(shape=(3,), initializer="ones", name="scale")
    assert not steps.requires_grad and scale.requires_grad
    assert layer.non_trainable_weights == [steps] and layer.trainable_weights == [scale]
    layer.trainable = False
    assert not scale.requires_grad
    layer.trainable = True
    assert scale.requires_grad and not steps.requires_grad


def test_add_weight_regularizer_and_add_loss_count_in_regularization_loss():
    class Reg(keras.layers.Layer):
        def build(self, input_shape):
            self.k = self.add_weight(shape=(input_shape[-1],), initializer="ones", regularizer="l2")

        def call(self, inputs):
            self.add_loss(inputs.abs().mean())
            return inputs * self.k

    layer = Reg()
    x = torch.tensor([[1.0, -3.0]])
    layer(x)
    expected = 0.01 * 2 + 2.0  # Keras l2 default 0.01 * sum(k^2), plus mean |x|
    torch.testing.assert_close(layer.regularization_loss(), torch.tensor(expected))
    assert len(layer.losses) == 1
    layer(torch.zeros(1, 2))  # losses are those of the latest call
    torch.testing.assert_close(layer.regularization_loss(), torch.tensor(0.02))


def test_add_weight_errors_and_custom_initializer():
    layer = L.Layer()
    with pytest.raises(ConfigError, match="needs a shape of non-negative ints"):
        layer.add_weight(shape=(None, 3))
    with pytest.raises(ConfigError, match="constraint"):
        layer.add_weight(shape=(2,), constraint=lambda w: w)
    w = layer.add_weight(shape=(2,), initializer=lambda t: torch.nn.init.constant_(t, 3.0))
    assert w.tolist() == [3.0, 3.0]

    def keras_style(shape, dtype=None):  # Keras' custom initializer signature
        return np.full(shape, 2.0)

    assert layer.add_weight(shape=(2, 2), initializer=keras_style).tolist() == [[2.0, 2.0]] * 2
    assert layer.add_weight(shape=(2,), dtype="float64").dtype == torch.float64


def test_get_and_set_weights():
    layer = L.Dense(3)
    layer.build([None, 2])
    values = [np.full((2, 3), 0.5, np.float32), np.arange(3, dtype=np.float32)]  # Keras (in, units)
    layer.set_weights(values)
    got = layer.get_weights()
    for a, b in zip(got, values):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(DataError, match=r"weight 0 has shape \(2, 3\) .*array has shape \(3, 2\)"):
        layer.set_weights([np.zeros((3, 2)), np.zeros(3)])
    with pytest.raises(DataError, match="got 1 arrays but the layer has 2 weights"):
        layer.set_weights([np.zeros((2, 3))])
    bn = L.BatchNormalization()
    bn(torch.randn(4, 3))
    assert len(bn.get_weights()) == 4  # gamma, beta, moving mean, moving variance (as Keras)
    with pytest.raises(DataError, match="not built yet"):
        L.Dense(2).count_params()


def test_layer_without_call_or_forward_says_so():
    class Empty(keras.layers.Layer):
        pass

    with pytest.raises(NotImplementedError, match="defines neither forward"):
        Empty()(torch.zeros(1))


def test_dtype_kwarg_is_accepted_and_kept_in_config():
    layer = L.Dense(2, dtype="float32")
    assert layer.get_config()["dtype"] == "float32"
    assert "dtype" not in L.Dense(2).get_config()
    with pytest.raises(ConfigError, match="dtype must be"):
        L.Dense(2, dtype="floaty")


def test_subclass_saves_and_loads_through_the_safe_format(tmp_path):
    model = keras.Sequential([Linear(4, input_shape=(3,)), L.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.rand(16, 3).astype("float32")
    model.fit(x, np.random.rand(16, 2).astype("float32"), epochs=1, verbose=0)
    model.save(str(tmp_path / "m"))
    # custom_objects as in Keras: other test modules define their own class named Linear too
    loaded = keras.load(str(tmp_path / "m"), custom_objects={"Linear": Linear})
    np.testing.assert_allclose(loaded.predict(x), model.predict(x))
    assert isinstance(loaded.module[0], Linear) and loaded.module[0].units == 4


def test_saving_a_subclass_whose_config_misses_arguments_is_refused():
    class NoConfig(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def call(self, inputs):
            return inputs

    with pytest.raises(ConfigError) as info:
        L.serialize(NoConfig(3))
    msg = str(info.value)
    assert "NoConfig" in msg and "'units'" in msg and "get_config" in msg and "\n" not in msg


def test_unknown_class_on_load_names_it_and_how_to_register():
    with pytest.raises(ConfigError) as info:
        L.deserialize({"class_name": "MyMissingLayer", "config": {}})
    msg = str(info.value)
    assert "MyMissingLayer" in msg and "register" in msg and "\n" not in msg
    layer = L.deserialize(
        {"class_name": "Other", "config": {"units": 2}}, custom_objects={"Other": Linear}
    )
    assert isinstance(layer, Linear) and layer.units == 2


def test_register_keras_serializable_and_build_calling_super():
    @keras.layers.register_keras_serializable(package="tests")
    class ScaledDense(L.Dense):
        def build(self, input_shape):
            super().build(input_shape)
            self.scale = self.add_weight(shape=(1,), initializer="ones")

        def forward(self, x):
            return super().forward(x) * self.scale

    layer = L.deserialize({"class_name": "tests>ScaledDense", "config": {"units": 3}})
    assert type(layer) is ScaledDense
    assert layer(torch.randn(2, 5)).shape == (2, 3)
    assert tuple(layer.weight.shape) == (3, 5) and tuple(layer.scale.shape) == (1,)


def test_keras_build_may_call_super_build_with_several_inputs():
    class Pair(keras.layers.Layer):
        def build(self, input_shape):
            a, b = input_shape
            self.k = self.add_weight(shape=(a[-1], b[-1]), initializer="ones")
            super().build(input_shape)

        def call(self, inputs):
            a, b = inputs
            return ((a @ self.k) * b).sum(-1)

    layer = Pair()
    out = layer([torch.ones(2, 3, dtype=torch.float64), torch.ones(2, 4, dtype=torch.float64)])
    assert out.tolist() == [12.0, 12.0] and layer.k.dtype == torch.float64 and layer.built


def test_add_loss_counts_in_fit():
    class Penalty(keras.layers.Layer):
        def call(self, inputs):
            self.add_loss(torch.tensor(5.0))  # Keras: added to the training loss
            return inputs

    model = keras.Sequential([L.Dense(1, input_shape=(3,)), Penalty()])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((8, 3), np.float32), np.zeros((8, 1), np.float32)
    history = model.fit(x, y, epochs=1, verbose=0)
    assert history.history["loss"][0] == pytest.approx(5.0, abs=1e-3)  # mse is 0 at bias 0


def test_call_override_of_a_deepfuse_layer_is_not_ignored():
    class Shifted(L.Conv2D):
        def call(self, inputs):
            return super().call(inputs) + 1.0

    layer = Shifted(2, 3)
    x = torch.randn(1, 3, 5, 5)
    y = layer(x)  # built lazily through Conv2D's own build
    torch.testing.assert_close(y, F.conv2d(x, layer.weight, layer.bias) + 1.0)

    class Plain(keras.layers.Layer):
        pass

    with pytest.raises(NotImplementedError, match="does not implement call"):
        Plain().call(x)


def test_two_classes_with_one_name_are_never_picked_silently_on_load(tmp_path):
    model = keras.Sequential([Linear(4, input_shape=(3,))])
    model.save(str(tmp_path / "m"))
    # another class under the same name, from another module
    type("Linear", (keras.layers.Layer,), {"call": lambda self, x: x, "__module__": "elsewhere"})

    with pytest.raises(ConfigError, match=r"Several layer classes are named 'Linear'"):
        keras.load(str(tmp_path / "m"))
    loaded = keras.load(str(tmp_path / "m"), custom_objects={"Linear": model.module[0].__class__})
    assert type(loaded.module[0]) is type(model.module[0])
