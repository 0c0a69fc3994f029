"""The functional API: ``keras.Input``, layers called on symbolic tensors, ``Model(inputs, outputs)``.

The truth for a graph's outputs is the same layers called by hand on the same tensors; for losses,
torch's own functions; for saving, the outputs of the model before it was saved.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score

import deepfuse as keras
from deepfuse import layers
from deepfuse._utils.errors import ConfigError, DataError, UserError
from deepfuse.viz.model_graph import model_graph_text, plot_model


def test_input_and_layer_shapes_are_reported_as_keras_shows_them():
    x = keras.Input(shape=(28, 28, 1), name="image")
    assert x.shape == (None, 28, 28, 1) and x.dtype == "float32" and x.name == "image"
    y = layers.Conv2D(8, 3)(x)
    assert y.shape == (None, 26, 26, 8)  # Keras layout, although torch computes NCHW inside
    assert layers.Flatten()(y).shape == (None, 26 * 26 * 8)
    ids = keras.Input(shape=(None,), dtype="int32")
    assert ids.shape == (None, None) and ids.dtype == "int64"
    assert layers.Embedding(50, 4)(ids).shape == (None, None, 4)
    assert layers.LSTM(3)(layers.Embedding(50, 4)(ids)).shape == (None, 3)


def test_graph_output_equals_the_same_layers_called_by_hand():
    torch.manual_seed(0)
    a, b = keras.Input(shape=(4,), name="a"), keras.Input(shape=(3,), name="b")
    dense_a, dense_b, head = layers.Dense(5), layers.Dense(5), layers.Dense(2)
    out = head(dense_a(a) * 2.0 + dense_b(b) - 1.0)
    model = keras.Model([a, b], out)
    xa, xb = torch.randn(6, 4), torch.randn(6, 3)
    expected = head(dense_a(xa) * 2.0 + dense_b(xb) - 1.0)
    torch.testing.assert_close(model([xa, xb]), expected)
    torch.testing.assert_close(model({"b": xb, "a": xa}), expected)
    with pytest.raises(DataError, match="no \\['b'\\]"):
        model({"a": xa})
    with pytest.raises(DataError, match="takes 2 input"):
        model([xa])


def test_shared_layer_is_one_set_of_weights_and_nested_models_are_layers():
    shared = layers.Dense(3, name="shared")
    x1, x2 = keras.Input(shape=(2,)), keras.Input(shape=(2,))
    inner = keras.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(1)], name="inner")
    model = keras.Model([x1, x2], [inner(shared(x1)), inner(shared(x2))])
    keys = list(model.state_dict())
    assert sum(k.endswith("shared.weight") for k in keys) == 1
    a, b = torch.randn(5, 2), torch.randn(5, 2)
    out1, out2 = model([a, b])
    torch.testing.assert_close(out1, inner(shared(a)))
    torch.testing.assert_close(out2, inner(shared(b)))
    assert [type(m).__name__ for m in model.layers] == ["Dense", "Sequential"]


def test_graph_errors_are_one_line_user_errors():
    a, b = keras.Input(shape=(4,)), keras.Input(shape=(4,))
    with pytest.raises(UserError, match="disconnected"):
        keras.Model(a, layers.Dense(1)(layers.Concatenate()([a, b])))
    with pytest.raises(UserError, match=r"must be keras\.Input"):
        keras.Model(layers.Dense(2)(a), layers.Dense(1)(a))
    with pytest.raises(UserError, match=r"torch\.cat was called on a symbolic tensor"):
        torch.cat([a, b])
    with pytest.raises(UserError, match="cannot be called on inputs of shape"):
        layers.Dense(2)(a) + layers.Dense(3)(a)
    with pytest.raises(TypeError, match="no truth value"):
        bool(a)


def test_training_fixed_at_a_call_is_kept_by_the_graph():
    x = keras.Input(shape=(1000,))
    model = keras.Model(x, layers.Dropout(0.5)(x, training=True))  # Monte-Carlo dropout
    model.eval()
    out = model(torch.ones(2, 1000))
    assert 0.3 < float((out == 0).float().mean()) < 0.7


def test_channels_last_batch_given_directly_is_taken_as_keras_gives_it():
    x = keras.Input(shape=(12, 12, 3))
    model = keras.Model(x, layers.GlobalAveragePooling2D()(layers.Conv2D(2, 3)(x)))
    nhwc = torch.randn(4, 12, 12, 3)
    torch.testing.assert_close(model(nhwc), model(nhwc.permute(0, 3, 1, 2)))


def _ticket_model():
    title = keras.Input(shape=(None,), name="title", dtype="int32")
    tags = keras.Input(shape=(6,), name="tags")
    x = layers.Concatenate()(
        [layers.GlobalAveragePooling1D()(layers.Embedding(100, 8)(title)), tags]
    )
    priority = layers.Dense(1, name="priority")(x)
    department = layers.Dense(3, activation="softmax", name="department")(x)
    return keras.Model([title, tags], {"priority": priority, "department": department})


def _ticket_data(n=64, length=7):
    rng = np.random.default_rng(0)
    x = {
        "title": rng.integers(0, 100, (n, length)),
        "tags": rng.integers(0, 2, (n, 6)).astype("float32"),
    }
    y = {"priority": rng.random((n, 1)).astype("float32"), "department": rng.integers(0, 3, n)}
    return x, y


def test_several_outputs_loss_is_the_weighted_sum_of_torch_losses():
    torch.manual_seed(0)
    model = _ticket_model()
    model.compile(
        optimizer="adam",
        loss={"priority": "mse", "department": "sparse_categorical_crossentropy"},
        loss_weights={"priority": 2.0, "department": 0.5},
        metrics={"department": ["accuracy"]},
    )
    x, y = _ticket_data()
    scores = model.evaluate(x, y, return_dict=True, batch_size=64)
    with torch.no_grad():
        out = model({"title": torch.as_tensor(x["title"]), "tags": torch.as_tensor(x["tags"])})
    mse = F.mse_loss(out["priority"], torch.as_tensor(y["priority"]))
    nll = F.nll_loss(torch.log(out["department"]), torch.as_tensor(y["department"]))
    assert scores["priority_loss"] == pytest.approx(float(mse), rel=1e-4)
    assert scores["department_loss"] == pytest.approx(float(nll), rel=1e-4)
    assert scores["loss"] == pytest.approx(2.0 * float(mse) + 0.5 * float(nll), rel=1e-4)
    expected_acc = accuracy_score(y["department"], out["department"].argmax(1).numpy())
    assert scores["department_accuracy"] == pytest.approx(expected_acc)


def test_several_outputs_fit_from_lists_and_dicts_and_predict_by_name():
    torch.manual_seed(0)
    model = _ticket_model()
    model.compile(optimizer="adam", loss=["mse", "sparse_categorical_crossentropy"])
    x, y = _ticket_data()
    hist = model.fit([x["title"], x["tags"]], [y["priority"], y["department"]], epochs=3, verbose=0)
    assert {"loss", "priority_loss", "department_loss"} <= set(hist.history)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    pred = model.predict({"title": x["title"][:5], "tags": x["tags"][:5]})
    assert pred["priority"].shape == (5, 1) and pred["department"].shape == (5, 3)
    np.testing.assert_allclose(pred["department"].sum(1), 1.0, rtol=1e-5)
    with pytest.raises(DataError, match="not outputs of the model"):
        model.fit(x, {"price": y["priority"]}, verbose=0)


def test_variable_length_sequences_train_and_predict_on_other_lengths():
    ids = keras.Input(shape=(None,), dtype="int32")
    out = layers.Dense(1, activation="sigmoid")(layers.LSTM(4)(layers.Embedding(30, 4)(ids)))
    model = keras.Model(ids, out)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(1)
    model.fit(rng.integers(0, 30, (32, 10)), rng.integers(0, 2, 32), epochs=1, verbose=0)
    assert model.predict(rng.integers(0, 30, (3, 25))).shape == (3, 1)


@pytest.mark.parametrize("kind", ["single", "several", "nested"])
def test_save_and_load_give_identical_outputs(tmp_path, kind):
    torch.manual_seed(0)
    if kind == "single":
        x = keras.Input(shape=(10, 10, 1))
        h = layers.MaxPooling2D(2)(layers.Conv2D(3, 3, padding="same", activation="relu")(x))
        model = keras.Model(x, layers.Dense(2)(layers.Flatten()(h)))
        data = torch.randn(4, 10, 10, 1)
    elif kind == "several":
        model = _ticket_model()
        x, _ = _ticket_data(n=4)
        data = {k: torch.as_tensor(v) for k, v in x.items()}
    else:
        inner = keras.Sequential(
            [layers.Dense(4, input_shape=(3,), activation="relu")], name="inner"
        )
        x = keras.Input(shape=(3,))
        functional = keras.Model(x, layers.Dense(2)(inner(x) + 1.0))
        model = keras.Sequential([layers.Dense(3, input_shape=(5,)), functional])
        data = torch.randn(4, 5)
    model.save(tmp_path)
    loaded = keras.load(tmp_path)
    model.eval()
    before, after = model(data), loaded(data)
    if isinstance(before, dict):
        for key in before:
            torch.testing.assert_close(before[key], after[key])
    else:
        torch.testing.assert_close(before, after)


def test_summary_and_plot_model_show_the_graph(tmp_path):
    inputs = keras.Input(shape=(16, 16, 3), name="img")
    block = layers.MaxPooling2D(2)(layers.Conv2D(8, 3, padding="same", name="c1")(inputs))
    residual = layers.Conv2D(8, 3, padding="same", name="c2")(block) + block
    outputs = layers.Dense(4, name="head")(layers.GlobalAveragePooling2D(name="gap")(residual))
    model = keras.Model(inputs, outputs, name="toy_resnet")
    text = model.summary(print_fn=None)
    assert "Connected to" in text and "(None, 8, 8, 8)" in text
    row = next(line for line in text.splitlines() if line.startswith("tensor_op"))
    assert "c2, max_pool" in row  # the residual add reads both branches
    assert f"Total params: {sum(p.numel() for p in model.parameters()):,}" in text
    lines = model_graph_text(model, show_shapes=True).splitlines()
    assert lines[0] == "img (InputLayer) (None, 16, 16, 3)"
    assert lines[-1] == "head (Dense) (None, 4) <- gap"
    png = plot_model(model, tmp_path / "model.png", show_shapes=True, dpi=50)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dot = plot_model(model, tmp_path / "model.dot").read_text()
    assert '"c2" -> "tensor_op' in dot and '"max_pool' in dot
    with pytest.raises(ConfigError, match="file type"):
        plot_model(model, tmp_path / "model.bmp")


def test_kept_sigmoid_is_read_as_probabilities_by_metrics():
    # Regression: with a loss that takes probabilities (mse), the final sigmoid stays in the
    # model, and accuracy used to threshold those probabilities at logit 0 (all positive).
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = keras.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(3,))])
    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
    model.fit(x, y, epochs=3, verbose=0)
    acc = model.evaluate(x, y, return_dict=True)["accuracy"]
    expected = accuracy_score(y, (model.predict(x)[:, 0] > 0.5).astype("float32"))
    assert acc == pytest.approx(expected)


def test_sequential_with_a_declared_input_exposes_its_graph_for_feature_extraction():
    model = keras.Sequential(
        [
            keras.Input(shape=(20, 20, 3)),
            layers.Conv2D(4, 3, name="c1"),
            layers.Conv2D(2, 3, name="c2"),
        ]
    )
    assert [layer.name for layer in model.layers] == ["c1", "c2"]  # the Input is not a layer
    assert model.inputs[0].shape == (None, 20, 20, 3)
    extractor = keras.Model(model.inputs, [layer.output for layer in model.layers])
    images = torch.randn(2, 20, 20, 3)
    first, second = extractor(images)
    torch.testing.assert_close(second, model(images.permute(0, 3, 1, 2)))
    assert tuple(first.shape) == (2, 4, 18, 18)  # NCHW inside; predict() returns Keras' layout
    assert [a.shape for a in extractor.predict(images.numpy())] == [(2, 18, 18, 4), (2, 16, 16, 2)]
    with pytest.raises(UserError, match="has no output yet"):
        _ = layers.Dense(2).output
    with pytest.raises(UserError, match="needs a known input"):
        _ = keras.Sequential([layers.Dense(2)]).inputs
