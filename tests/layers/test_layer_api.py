"""Layer API: lazy build, config, registry, regularizers, activations, errors."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from deepfuse import layers as L
from deepfuse._utils.errors import ConfigError, DataError


def test_lazy_build_infers_input_sizes():
    net = nn.Sequential(L.Conv2D(4, 3, activation="relu"), L.MaxPool2D(2), L.Flatten(), L.Dense(10))
    assert not any(True for _ in net.parameters())
    y = net(torch.randn(2, 1, 28, 28))
    assert y.shape == (2, 10)
    assert net[0].weight.shape == (4, 1, 3, 3)
    assert net[3].weight.shape == (10, 4 * 13 * 13)
    assert net[3].build_shape == [None, 4 * 13 * 13]


def test_keras_text_pipeline_embedding_conv1d_globalmaxpool():
    net = nn.Sequential(
        L.Embedding(100, 16),
        L.Conv1D(8, 5, activation="relu"),
        L.GlobalMaxPool1D(),
        L.Dense(1, activation="sigmoid"),
    )
    assert net(torch.randint(0, 100, (4, 30))).shape == (4, 1)


def test_build_follows_input_device_and_dtype():
    layer = L.Dense(3)
    layer(torch.randn(2, 4, dtype=torch.float64))
    assert layer.weight.dtype == torch.float64


def test_input_shape_is_stored_and_channels_last_images_are_translated():
    conv = L.Conv2D(32, 3, input_shape=(28, 28, 1))
    assert conv.input_shape == (28, 28, 1)
    assert conv.torch_input_shape == (1, 28, 28)
    assert L.Conv2D(8, 3, input_shape=(3, 32, 32)).torch_input_shape == (3, 32, 32)
    assert L.Dense(4, input_dim=784).input_shape == (784,)
    assert L.Embedding(10, 2).input_dtype == torch.long
    assert L.Dense(2, input_shape=(5,)).get_config()["input_shape"] == [5]


def test_detach_output_activation_fuses_into_the_loss():
    layer = L.Dense(3, activation="softmax")
    x = torch.randn(4, 2)
    probs = layer(x)
    torch.testing.assert_close(probs.sum(-1), torch.ones(4))
    assert layer.activation_name == "softmax"
    assert layer.detach_output_activation() == "softmax"
    assert layer.activation_name is None
    torch.testing.assert_close(layer(x).softmax(-1), probs)
    assert layer.get_config()["activation"] == "softmax"  # constructor args are kept
    assert L.Activation("sigmoid").detach_output_activation() == "sigmoid"
    assert L.Dense(2).detach_output_activation() is None
    assert L.LSTM(2).activation_name is None


@pytest.mark.parametrize(
    "name", ["relu", "sigmoid", "tanh", "softmax", "gelu", "leaky_relu", "elu", "linear", None]
)
def test_activation_names(name):
    x = torch.randn(3, 4)
    y = L.Dense(4, activation=name)(x)
    assert y.shape == (3, 4)
    assert L.Activation(name)(x).shape == (3, 4)


def test_activation_callable_and_known_function():
    layer = L.Dense(2, activation=torch.relu)
    assert layer.activation_name == "relu" and layer.get_config()["activation"] == "relu"
    custom = L.Dense(2, activation=lambda t: t * 2)
    assert custom(torch.ones(1, 3)).shape == (1, 2)


def test_conv2d_softmax_activation_normalises_channels():
    y = L.Conv2D(5, 1, activation="softmax")(torch.randn(2, 3, 4, 4))
    torch.testing.assert_close(y.sum(1), torch.ones(2, 4, 4))


def test_regularization_loss_values():
    layer = L.Dense(3, kernel_regularizer={"l1": 0.1, "l2": 0.2}, bias_regularizer="l2")
    assert L.Dense(3).regularization_loss() is None
    layer(torch.randn(2, 4))
    with torch.no_grad():
        layer.bias.fill_(1.0)
    w = layer.weight
    expected = 0.1 * w.abs().sum() + 0.2 * w.square().sum() + 0.01 * 3
    torch.testing.assert_close(layer.regularization_loss(), expected)
    l1 = L.Conv2D(2, 3, kernel_regularizer="l1")
    l1(torch.randn(1, 1, 5, 5))
    torch.testing.assert_close(l1.regularization_loss(), 0.01 * l1.weight.abs().sum())
    fn = L.Dense(2, kernel_regularizer=lambda t: t.sum() * 0)
    fn(torch.randn(1, 2))
    assert fn.regularization_loss().item() == 0.0
    lstm = L.LSTM(3, recurrent_regularizer="l2")
    lstm(torch.randn(1, 2, 2))
    torch.testing.assert_close(
        lstm.regularization_loss(), 0.01 * lstm.rnn.weight_hh_l0.square().sum()
    )
    layer.regularization_loss().backward()
    assert layer.weight.grad is not None


def test_registry_get_serialize_deserialize():
    assert type(L.get("MaxPooling2D")) is L.MaxPool2D
    assert type(L.get("max_pool2d")) is L.MaxPool2D
    assert type(L.get("BatchNormalization")) is L.BatchNorm
    dense = L.get("Dense", units=4, activation="relu")
    spec = json.loads(json.dumps(L.serialize(dense)))
    assert spec["class_name"] == "Dense" and spec["config"]["units"] == 4
    clone = L.deserialize(spec)
    assert clone.get_config() == dense.get_config()
    assert L.get(spec).units == 4
    assert L.get({"type": "Dropout", "rate": 0.1}).rate == 0.1
    assert L.get(dense) is dense
    bi = L.Bidirectional(L.LSTM(4), input_shape=(10, 3))
    assert L.serialize(bi)["config"]["bidirectional"] is True
    assert bi.input_shape == (10, 3)


def test_custom_layers_register_themselves():
    class Scale(L.Layer):
        def __init__(self, factor: float = 2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor
            self.built = True

        def forward(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    layer = L.deserialize(L.serialize(Scale(3.0)))
    assert isinstance(layer, Scale) and layer.factor == 3.0


def test_trainable_false_freezes_weights():
    layer = L.Dense(2, trainable=False)
    layer(torch.randn(1, 3))
    assert not any(p.requires_grad for p in layer.parameters())
    layer.trainable = True
    assert all(p.requires_grad for p in layer.parameters())


def test_initializer_options():
    layer = L.Dense(
        4,
        kernel_initializer={"name": "random_normal", "stddev": 1e-6},
        bias_initializer={"class_name": "Constant", "config": {"value": 0.5}},
    )
    layer.build([None, 3])
    assert layer.weight.abs().max() < 1e-4
    assert torch.all(layer.bias == 0.5)


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: L.Dense(units=-1),
            "The 'units' argument of Dense must be a positive int; got -1.",
        ),
        (lambda: L.Dense(2.5), "The 'units' argument of Dense must be a positive int; got 2.5."),
        (lambda: L.Dense(3, activation="relux"), "Unknown activation 'relux'"),
        (lambda: L.Dense(3, kernel_initializer="glorot"), "Unknown initializer 'glorot'"),
        (lambda: L.Dense(3, kernel_regularizer="l3"), "Unknown regularizer 'l3'"),
        (lambda: L.Dropout(1.5), "The 'rate' argument of Dropout must be a float in [0, 1)"),
        (lambda: L.Conv2D(8, 0), "The 'kernel_size' argument of Conv2D"),
        (lambda: L.Conv2D(8, 3, padding="full"), "Unknown 'padding' value for Conv2D 'full'"),
        (lambda: L.Conv2D(8, 3, data_format="nhwc"), "Unknown 'data_format' value for Conv2D"),
        (lambda: L.MaxPool2D(2, data_format="nhwc"), "Unknown 'data_format' value for MaxPool2D"),
        (lambda: L.Conv1D(8, (3, 3)), "The 'kernel_size' argument of Conv1D"),
        (lambda: L.MaxPool2D(2, padding="causal"), "Unknown 'padding' value for MaxPool2D"),
        (lambda: L.Embedding(0, 4), "The 'input_dim' argument of Embedding"),
        (lambda: L.LSTM(4, activation="relu"), "The 'activation' argument of LSTM must be 'tanh'"),
        (lambda: L.BatchNorm(epsilon=0), "The 'epsilon' argument of BatchNorm"),
        (lambda: L.Reshape((2, -1, -1)), "The 'target_shape' argument of Reshape"),
        (lambda: L.Dense(2, input_shape=(0,)), "The 'input_shape' argument of Dense"),
        (lambda: L.Bidirectional(L.Dense(2)), "Bidirectional wraps a SimpleRNN, LSTM or GRU"),
        (lambda: L.get("Dens"), "Unknown layer 'Dens'. Allowed values:"),
    ],
)
def test_bad_arguments_raise_config_errors(make, message):
    with pytest.raises(ConfigError) as info:
        make()
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_did_you_mean_for_layer_names():
    with pytest.raises(ConfigError, match="Did you mean 'Dense'"):
        L.get("Dens")


@pytest.mark.parametrize(
    ("layer", "x", "message"),
    [
        (
            L.Conv2D(4, 3),
            torch.randn(2, 10),
            "expected a 4-D input (batch, channels, height, width)",
        ),
        (L.Conv1D(4, 3), torch.randn(2, 10), "expected a 3-D input (batch, steps, channels)"),
        (L.LSTM(4), torch.randn(2, 10), "expected a 3-D input (batch, steps, features)"),
        (L.GlobalMaxPool2D(), torch.randn(2, 10), "expected a 4-D input"),
        (L.MaxPool2D(2), torch.randn(2, 10), "expected a 4-D input"),
        (L.Embedding(5, 2), torch.tensor([[1, 7]]), "ids must be in [0, 5)"),
        (L.Reshape((7,)), torch.randn(2, 10), "cannot reshape samples of shape (10,)"),
    ],
)
def test_wrong_input_raises_data_error(layer, x, message):
    with pytest.raises(DataError) as info:
        layer(x)
    assert message in str(info.value)


def test_wrong_input_after_build_raises_data_error():
    dense = L.Dense(3)
    dense(torch.randn(2, 4))
    with pytest.raises(DataError, match="built for 4 input features"):
        dense(torch.randn(2, 5))
    conv = L.Conv2D(3, 3)
    conv(torch.randn(1, 3, 8, 8))
    with pytest.raises(DataError, match="built for 3 channels"):
        conv(torch.randn(1, 1, 8, 8))
    with pytest.raises(DataError, match="4-D"):
        conv(torch.randn(8, 8))
    bn = L.BatchNorm()
    bn(torch.randn(4, 3))
    with pytest.raises(DataError, match="built for 3 channels"):
        bn(torch.randn(4, 5))


def test_keras_base_layer_arguments():
    assert L.Dense(2, batch_input_shape=(None, 7)).input_shape == (7,)
    assert L.Conv2D(2, 3, batch_shape=(32, 28, 28, 1)).torch_input_shape == (1, 28, 28)
    assert L.Flatten(input_dim=5, batch_size=32).input_shape == (5,)
    L.Dense(2, kernel_constraint=None, activity_regularizer=None)  # Keras' defaults are fine
    for kwargs, alternative in (
        ({"kernel_constraint": "max_norm"}, "clamp the weights in a callback"),
        ({"activity_regularizer": "l2"}, "self.add_loss"),
    ):
        with pytest.raises(ConfigError) as info:
            L.Dense(2, **kwargs)
        msg = str(info.value)
        assert f"Dense({next(iter(kwargs))}=...) is not supported" in msg and alternative in msg
        assert "\n" not in msg
    with pytest.raises(ConfigError, match="Dense got an unknown argument 'unitz'"):
        L.Dense(2, unitz=3)


def test_auto_names_follow_keras_snake_case():
    # keras.src.utils.naming.to_snake_case
    for layer, base in (
        (L.Conv2D(1, 1), "conv2d"),
        (L.Conv2DTranspose(1, 1), "conv2d_transpose"),
        (L.LeakyReLU(), "leaky_re_lu"),
        (L.GlobalMaxPooling1D(), "global_max_pool1d"),
        (L.SimpleRNN(2), "simple_rnn"),
    ):
        assert layer.name.rsplit("_", 1)[0] == base
