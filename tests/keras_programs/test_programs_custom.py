"""Custom code: Layer subclasses saved and reloaded, callbacks using self.model, custom train_step.

Part of issue 12's acceptance suite (see README.md): each test is a Keras 3 program written the way
users write them (after the keras.io examples and guides; written here, not copied) whose body
starts with ``import deepfuse as keras`` / ``from deepfuse import layers`` / ``from deepfuse import
ops`` and is otherwise plain Keras code. ``_keras_reference.py`` runs this file on real Keras 3
(torch backend); the figures asserted here (parameter counts from ``summary()``, shapes in Keras'
channels-last layout, accuracy floors) are the ones real Keras printed, recorded in README.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from programs_support import summary_text

# --- f. custom layers: build / call / add_weight / get_config, saved and reloaded ---------------


def test_f_custom_layers_saved_and_reloaded(tmp_path):
    import deepfuse as keras
    from deepfuse import layers, ops

    class Linear(keras.layers.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(
                shape=(input_shape[-1], self.units),
                initializer="random_normal",
                trainable=True,
                name="kernel",
            )
            self.b = self.add_weight(
                shape=(self.units,), initializer="zeros", trainable=True, name="bias"
            )

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            config = super().get_config()
            config.update({"units": self.units})
            return config

    class ComputeSum(keras.layers.Layer):
        """A stateful layer: a non-trainable weight that accumulates what it sees."""

        def build(self, input_shape):
            self.total = self.add_weight(
                shape=(input_shape[-1],), initializer="zeros", trainable=False, name="total"
            )

        def call(self, inputs):
            self.total.assign_add(ops.sum(inputs, axis=0))
            return inputs

    summer = ComputeSum()
    summer(ops.ones((2, 3)))
    summer(ops.ones((2, 3)))
    np.testing.assert_allclose(ops.convert_to_numpy(summer.total), [4.0, 4.0, 4.0])
    assert len(summer.weights) == 1 and len(summer.trainable_weights) == 0

    inputs = keras.Input(shape=(20,))
    hidden = Linear(32, name="hidden")
    x = hidden(inputs)
    assert x.shape == (None, 32)
    assert tuple(hidden.w.shape) == (20, 32)
    assert len(hidden.trainable_weights) == 2
    x = layers.Activation("relu")(x)
    outputs = Linear(1, name="score")(x)
    outputs = layers.Activation("sigmoid")(outputs)
    model = keras.Model(inputs, outputs)
    assert "Total params: 705" in summary_text(model)
    assert hidden.get_config()["units"] == 32

    x_data = np.random.normal(size=(1000, 20)).astype("float32")
    y_data = (x_data[:, :5].sum(axis=1) > 0).astype("float32")
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(x_data, y_data, batch_size=32, epochs=5, verbose=0)
    print("accuracy:", history.history["accuracy"])
    assert history.history["accuracy"][-1] > 0.9  # real Keras: see README.md

    path = str(tmp_path / "custom_layers.keras")
    model.save(path)
    reloaded = keras.models.load_model(path, custom_objects={"Linear": Linear})
    np.testing.assert_allclose(
        reloaded.predict(x_data[:16], verbose=0), model.predict(x_data[:16], verbose=0), atol=1e-6
    )
    assert reloaded.get_layer("hidden").get_config()["units"] == 32
    assert reloaded.evaluate(x_data, y_data, verbose=0)[1] > 0.9  # reloaded compiled


# --- g. callbacks that use self.model --------------------------------------------------------------


def test_g_callbacks_use_self_model():
    import deepfuse as keras
    from deepfuse import layers

    class StopWhenLossBelow(keras.callbacks.Callback):
        def __init__(self, threshold):
            super().__init__()
            self.threshold = threshold
            self.stopped_epoch = None

        def on_epoch_end(self, epoch, logs=None):
            if logs["loss"] < self.threshold:
                self.stopped_epoch = epoch
                self.model.stop_training = True

    class CustomLearningRateScheduler(keras.callbacks.Callback):
        def __init__(self, schedule):
            super().__init__()
            self.schedule = schedule
            self.seen = []

        def on_epoch_begin(self, epoch, logs=None):
            lr = float(self.model.optimizer.learning_rate)
            self.seen.append(lr)
            self.model.optimizer.learning_rate = self.schedule(epoch, lr)

    class BatchLossRecorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(logs["loss"])

    def get_model():
        model = keras.Sequential([keras.Input(shape=(6,)), layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
        return model

    x = np.random.normal(size=(256, 6)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [0.0], [3.0], [1.0]], dtype="float32")

    model = get_model()
    stopper = StopWhenLossBelow(threshold=0.01)
    history = model.fit(x, y, batch_size=32, epochs=100, callbacks=[stopper], verbose=0)
    assert stopper.model is model
    assert stopper.stopped_epoch is not None and stopper.stopped_epoch < 99
    assert len(history.history["loss"]) == stopper.stopped_epoch + 1
    assert history.history["loss"][-1] < 0.01

    model = get_model()
    scheduler = CustomLearningRateScheduler(lambda epoch, lr: lr * 0.5)
    recorder = BatchLossRecorder()
    model.fit(x, y, batch_size=64, epochs=3, callbacks=[scheduler, recorder], verbose=0)
    assert scheduler.seen == pytest.approx([0.1, 0.05, 0.025])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0125)
    assert len(recorder.losses) == 3 * 4  # 256 samples / 64 per batch, 3 epochs

    # Keras' own callbacks take the same route
    model = get_model()
    history = model.fit(
        x,
        y,
        batch_size=32,
        epochs=50,
        verbose=0,
        validation_split=0.25,
        callbacks=[
            keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.9),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, min_delta=1e-3),
        ],
    )
    assert len(history.history["loss"]) < 50
    assert float(model.optimizer.learning_rate) < 0.1


# --- i. a custom train_step (keras.io "Customizing what happens in fit()", torch backend) ----------


def test_i_custom_train_step_with_compiled_loss_and_metrics():
    import torch

    import deepfuse as keras
    from deepfuse import ops

    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)  # forward pass
            loss = self.compute_loss(y=y, y_pred=y_pred)

            trainable_weights = self.trainable_weights
            gradients = torch.autograd.grad(
                loss, [ops.convert_to_tensor(v) for v in trainable_weights]
            )
            with torch.no_grad():
                self.optimizer.apply_gradients(zip(gradients, trainable_weights))

            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])

    x = np.random.random((1000, 32))
    y = x[:, :4].sum(axis=1, keepdims=True) / 4 + 0.1 * np.random.random((1000, 1))
    history = model.fit(x, y, epochs=3, verbose=0)
    print("history:", history.history)
    assert set(history.history) == {"loss", "mae"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["mae"][-1] < history.history["mae"][0]
    mse = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    assert history.history["loss"][-1] == pytest.approx(mse, rel=0.5)  # the logged value is the MSE


def test_i_custom_train_and_test_step_with_own_metrics():
    import torch

    import deepfuse as keras
    from deepfuse import ops

    class CustomModel(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
            self.loss_fn = keras.losses.MeanSquaredError()

        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            loss = self.loss_fn(y, y_pred)
            trainable_weights = self.trainable_weights
            gradients = torch.autograd.grad(
                loss, [ops.convert_to_tensor(v) for v in trainable_weights]
            )
            with torch.no_grad():
                self.optimizer.apply_gradients(zip(gradients, trainable_weights))
            self.loss_tracker.update_state(loss)
            self.mae_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            self.loss_tracker.update_state(self.loss_fn(y, y_pred))
            self.mae_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self):
            # listed here so that reset_states() is called at the start of each epoch
            return [self.loss_tracker, self.mae_metric]

    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam")  # no loss: train_step computes its own

    x = np.random.random((1000, 32))
    y = x[:, :4].sum(axis=1, keepdims=True) / 4
    history = model.fit(x, y, epochs=5, validation_split=0.2, verbose=0)
    print("history:", history.history)
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    results = model.evaluate(x, y, verbose=0, return_dict=True)
    expected_mae = float(np.mean(np.abs(model.predict(x, verbose=0) - y)))
    assert results["mae"] == pytest.approx(expected_mae, rel=1e-3)


# --- m. a training loop written from scratch (keras.io "Writing a training loop from scratch in
# PyTorch"): Keras losses and metrics called Keras' way -------------------------------------------


def test_m_training_loop_from_scratch_with_keras_losses_and_metrics():
    import torch

    import deepfuse as keras
    from deepfuse import ops

    # a loss object is called loss_fn(y_true, y_pred): checked against the formula first
    bce = keras.losses.BinaryCrossentropy()
    y_true = np.array([[0.0], [1.0], [1.0]], dtype="float32")
    y_prob = np.array([[0.2], [0.7], [0.9]], dtype="float32")
    expected = -np.mean(y_true * np.log(y_prob) + (1 - y_true) * np.log(1 - y_prob))
    value = float(ops.convert_to_numpy(bce(y_true, y_prob)))
    assert value == pytest.approx(expected, rel=1e-4)  # swapped arguments: about 3.2

    def get_model():
        inputs = keras.Input(shape=(784,), name="digits")
        x1 = keras.layers.Dense(64, activation="relu")(inputs)
        x2 = keras.layers.Dense(64, activation="relu")(x1)
        outputs = keras.layers.Dense(10, name="predictions")(x2)
        return keras.Model(inputs=inputs, outputs=outputs)

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train = np.reshape(x_train[:4096], (-1, 784)).astype("float32") / 255
    x_test = np.reshape(x_test[:1024], (-1, 784)).astype("float32") / 255
    y_train, y_test = y_train[:4096], y_test[:1024]
    train_dataset = torch.utils.data.TensorDataset(
        torch.from_numpy(x_train), torch.from_numpy(y_train).long()
    )
    train_dataloader = torch.utils.data.DataLoader(train_dataset, batch_size=64, shuffle=True)

    model = get_model()
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    val_acc_metric = keras.metrics.SparseCategoricalAccuracy()

    epoch_losses, train_accs = [], []
    for _epoch in range(2):
        losses = []
        for step, (inputs, targets) in enumerate(train_dataloader):  # noqa: B007 (read below)
            logits = model(inputs)
            loss = loss_fn(targets, logits)
            trainable_weights = model.trainable_weights
            gradients = torch.autograd.grad(
                loss, [ops.convert_to_tensor(v) for v in trainable_weights]
            )
            with torch.no_grad():
                optimizer.apply_gradients(zip(gradients, trainable_weights))
            train_acc_metric.update_state(targets, logits)
            losses.append(float(ops.convert_to_numpy(loss)))
        epoch_losses.append(np.mean(losses))
        train_accs.append(float(train_acc_metric.result()))
        train_acc_metric.reset_state()
    assert step == 4096 // 64 - 1

    val_logits = model.predict(x_test, verbose=0)
    val_acc_metric.update_state(y_test, val_logits)
    val_acc = float(val_acc_metric.result())
    print("losses:", epoch_losses, "train acc:", train_accs, "val acc:", val_acc)
    assert epoch_losses[1] < epoch_losses[0]
    assert val_acc == pytest.approx(np.mean(val_logits.argmax(axis=1) == y_test))
    assert val_acc > 0.84  # real Keras: 0.869
