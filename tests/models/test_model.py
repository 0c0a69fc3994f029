"""Model / Sequential: compile, fit, evaluate, predict, fusion, seeds, custom steps, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import deepfuse as df
from deepfuse._utils.errors import DataError, NaNLossError, UserError
from deepfuse.models import layout


def blobs(n: int = 256, classes: int = 3, features: int = 8, seed: int = 0):
    """Linearly separable-ish Gaussian blobs: float32 features, int64 labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(classes, features))
    y = rng.integers(0, classes, size=n)
    x = (centers[y] + rng.normal(0, 1, size=(n, features))).astype(np.float32)
    return x, y


def mlp(classes: int = 3, final: str | None = "softmax") -> df.Sequential:
    return df.Sequential(
        [df.layers.Dense(32, activation="relu"), df.layers.Dense(classes, activation=final)]
    )


def test_fit_learns_and_history_has_keras_keys():
    x, y = blobs()
    model = mlp()
    model.compile(
        optimizer={"name": "adam", "lr": 0.01},
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    hist = model.fit(x, y, epochs=5, batch_size=32, validation_split=0.25, verbose=0, seed=0)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}  # Keras' keys
    assert hist.lr == [0.01] * 5 and len(hist.epoch_time) == 5  # kept apart
    assert len(hist.history["loss"]) == 5
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.history["val_accuracy"][-1] > 0.9


def test_final_softmax_is_fused_and_predict_returns_probabilities():
    x, y = blobs()
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    xt = torch.as_tensor(x)
    # The network keeps its softmax; only the model's own steps run it from logits.
    np.testing.assert_allclose(model(xt).sum(1).detach().numpy(), 1.0, rtol=1e-5)
    with layout.logits_outputs(model):
        assert (
            model.compiled_loss.from_logits
        )  # probabilities loss replaced by the stable logits one
        logits = model(xt)
    assert not model.compiled_loss.from_logits  # and put back
    torch.testing.assert_close(logits.softmax(1), model(xt))
    model.fit(x, y, epochs=1, verbose=0)
    probs = model.predict(x)
    assert probs.shape == (256, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_torch_sequential_with_final_softmax_is_fused():
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3), nn.Softmax(dim=1))
    model = df.Model(net)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with layout.logits_outputs(model):
        assert isinstance(net[-1], nn.Identity) and model.compiled_loss.from_logits
    assert isinstance(net[-1], nn.Softmax)


def test_evaluate_returns_keras_style_scores():
    x, y = blobs()
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=3, verbose=0)
    scores = model.evaluate(x, y)
    loss, acc = scores
    assert scores["accuracy"] == acc and scores[0] == loss
    as_dict = model.evaluate(x, y, return_dict=True)
    assert as_dict == {"loss": loss, "accuracy": acc}
    expected_acc = (model.predict(x).argmax(1) == y).mean()
    assert acc == pytest.approx(expected_acc)


def test_same_seed_gives_bit_identical_weights():
    x, y = blobs()

    def run() -> dict[str, torch.Tensor]:
        model = df.Sequential(
            [df.layers.Dense(16, activation="relu"), df.layers.Dropout(0.3), df.layers.Dense(3)]
        )
        model.compile(optimizer="adam", loss="cross_entropy")
        model.fit(x, y, epochs=2, batch_size=16, seed=123, verbose=0)
        return model.state_dict()

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_save_load_predict_identical(tmp_path):
    x, y = blobs()
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m")
    loaded = df.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.evaluate(x, y, return_dict=True) == model.evaluate(x, y, return_dict=True)


def test_save_load_user_module_needs_instance(tmp_path):
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            return self.fc(x)

    x, y = blobs()
    model = df.Model(Net())
    model.compile(optimizer="sgd", loss="cross_entropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path)
    with pytest.raises(UserError, match="module=MyNet"):
        df.load(tmp_path)
    loaded = df.load(tmp_path, module=Net())
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_custom_train_step_override():
    x, y = blobs()
    calls = []

    class Custom(df.Model):
        def train_step(self, batch):
            calls.append(1)
            inputs, target = self.split_batch(batch)
            logits = self(inputs)
            loss = torch.nn.functional.cross_entropy(logits, target)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.update_metrics(logits, target)
            return {"loss": loss}

    model = Custom(nn.Linear(8, 3))
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    assert len(calls) == 8
    assert hist.history["loss"][1] < hist.history["loss"][0]


def test_nan_loss_stops_with_step():
    x, y = blobs()
    x[100:] = np.nan
    model = df.Sequential([df.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="cross_entropy")
    with pytest.raises(NaNLossError, match=r"step \d+"):
        model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)


def test_channels_last_images_are_converted_once():
    rng = np.random.default_rng(0)
    x = rng.random((64, 12, 12, 1), dtype=np.float32)
    y = rng.integers(0, 2, 64)
    model = df.Sequential(
        [
            df.layers.Conv2D(4, (3, 3), activation="relu", input_shape=(12, 12, 1)),
            df.layers.Flatten(),
            df.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    assert model.input_layout == "channels_last"
    assert model.predict(x).shape == (64, 2)


def test_l2_penalty_and_grad_clip_change_training():
    x, y = blobs()

    def final_norm(**kw) -> float:
        model = df.Sequential([df.layers.Dense(3)])
        model.compile(optimizer={"name": "sgd", "lr": 0.1}, loss="cross_entropy", **kw)
        model.fit(x, y, epochs=3, seed=0, verbose=0)
        return float(model.module[0].weight.detach().norm())

    plain = final_norm()
    assert final_norm(l2=0.1) < plain
    assert final_norm(l1=0.1) < plain
    assert final_norm(grad_clip=0.01) < plain


def test_summary_lists_layers_shapes_params():
    model = df.Sequential(
        [
            df.layers.Dense(128, activation="relu", input_shape=(784,)),
            df.layers.Dense(10, activation="softmax"),
        ]
    )
    text = model.summary(print_fn=None)
    assert "(None, 128)" in text and "(None, 10)" in text
    assert "Total params: 101,770" in text


def test_errors_are_user_errors():
    x, y = blobs()
    model = mlp()
    with pytest.raises(UserError, match="not compiled"):
        model.fit(x, y)
    model.compile(optimizer="adam", loss="cross_entropy")
    with pytest.raises(UserError, match="epochs"):
        model.fit(x, y, epochs=0)
    with pytest.raises(DataError, match="same number of rows"):
        model.fit(x, y[:10])
    with pytest.raises(DataError, match="empty"):
        model.fit(x[:0], y[:0])
    with pytest.raises(UserError, match="validation_split"):
        model.fit(x, y, validation_split=1.5)


def test_dataloader_of_tuples_works():
    x, y = blobs()
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True)
    model = mlp()
    model.compile(
        optimizer={"name": "adam", "lr": 0.01},
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    hist = model.fit(loader, epochs=3, validation_data=loader, verbose=0)
    assert hist.history["val_accuracy"][-1] > 0.8


def test_schedule_changes_learning_rate():
    x, y = blobs()
    model = mlp()
    model.compile(
        optimizer={"name": "sgd", "lr": 0.1},
        loss="cross_entropy",
        schedule={"name": "step", "step_size": 1, "gamma": 0.5},
    )
    hist = model.fit(x, y, epochs=3, verbose=0)
    assert hist.lr == pytest.approx([0.1, 0.05, 0.025])  # LR used in each epoch
    assert "lr" not in hist.history  # Keras: losses and metrics only


def test_wrong_image_shape_is_a_clear_data_error():
    model = df.Sequential(
        [
            df.layers.Conv2D(4, 3, activation="relu", input_shape=(12, 12, 1)),
            df.layers.Flatten(),
            df.layers.Dense(2),
        ]
    )
    model.compile(optimizer="adam", loss="cross_entropy")
    wrong = np.zeros((4, 16, 16, 3), dtype=np.float32)  # RGB 16x16 instead of grayscale 12x12
    with pytest.raises(DataError, match=r"per-sample shape \(3, 16, 16\).*built for \(1, 12, 12\)"):
        model.fit(wrong, np.zeros(4, dtype=np.int64), verbose=0)
    with pytest.raises(DataError, match="per-sample shape"):
        model.predict(wrong)


def test_sequences_of_another_length_are_fine():
    model = df.Sequential([df.layers.Embedding(50, 8), df.layers.LSTM(4), df.layers.Dense(2)])
    model.compile(optimizer="adam", loss="cross_entropy")
    model.fit(np.ones((8, 10), dtype=np.int64), np.zeros(8, dtype=np.int64), verbose=0)
    assert model.predict(np.ones((3, 25), dtype=np.int64)).shape == (3, 2)


def test_model_saved_before_fusion_stayed_in_the_network_loads_identically(tmp_path):
    # Files written before issue 12 name the fused final activation in model.json; the layer
    # keeps it now, so loading must not apply it a second time.
    import json

    x, y = blobs()
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["output_activation"] = "softmax"
    del meta["trainable"]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    loaded = df.load(tmp_path)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)
    assert loaded.output_activation is None and loaded.trainable
