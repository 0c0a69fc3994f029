"""Text and several-inputs/outputs programs: IMDB with variable-length sequences, the ticket model.

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
from programs_support import needs_imdb, summary_text

# --- b. text with variable-length sequences ------------------------------------------------------


@needs_imdb
def test_b_imdb_bidirectional_lstm_variable_length():
    import deepfuse as keras
    from deepfuse import layers

    max_features = 20000  # only consider the top 20k words
    maxlen = 40  # the keras.io example uses 200; shorter here to stay fast

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(max_features, 128)(inputs)
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    assert x.shape == (None, None, 128)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    assert x.shape == (None, 128)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    # Keras: 2,757,761 (the keras.io example's figure). torch's LSTM keeps two bias vectors
    # (b_ih, b_hh) where Keras keeps one, so each of the four LSTM directions has 4*64 more
    # real parameters; deepfuse's summary counts them: 2,758,785 (README, "Parameter counts").
    total = "2,757,761" if keras.__name__ == "keras" else "2,758,785"
    assert f"Total params: {total}" in summary_text(model)

    (x_train, y_train), (x_val, y_val) = keras.datasets.imdb.load_data(num_words=max_features)
    x_train, y_train, x_val, y_val = x_train[:512], y_train[:512], x_val[:256], y_val[:256]
    x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
    x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)
    assert x_train.shape == (512, maxlen)

    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train, y_train, batch_size=32, epochs=2, validation_data=(x_val, y_val), verbose=0
    )
    print("history:", history.history)
    assert history.history["loss"][1] < history.history["loss"][0]
    assert history.history["val_accuracy"][1] > 0.57  # real Keras: 0.629

    # the same model reads batches of any length
    short = model.predict(keras.utils.pad_sequences(x_val[:8], maxlen=20), verbose=0)
    long = model.predict(keras.utils.pad_sequences(x_val[:8], maxlen=150), verbose=0)
    assert short.shape == long.shape == (8, 1)
    assert short.min() >= 0.0 and short.max() <= 1.0


# --- e. the functional API with several inputs and outputs ---------------------------------------


def test_e_functional_multi_input_multi_output_dicts():
    import deepfuse as keras
    from deepfuse import layers

    num_tags = 12  # number of unique issue tags
    num_words = 10000  # size of vocabulary obtained when preprocessing text data
    num_departments = 4  # number of departments for predictions

    title_input = keras.Input(shape=(None,), name="title")  # variable-length sequence of ints
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(num_tags,), name="tags")  # binary vectors of size num_tags

    title_features = layers.Embedding(num_words, 64)(title_input)
    body_features = layers.Embedding(num_words, 64)(body_input)
    title_features = layers.LSTM(128)(title_features)
    body_features = layers.LSTM(32)(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])
    assert x.shape == (None, 172)
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)

    model = keras.Model(
        inputs=[title_input, body_input, tags_input],
        outputs={"priority": priority_pred, "department": department_pred},
    )
    # Keras: 1,392,097. torch's LSTM keeps two bias vectors where Keras keeps one: LSTM(128)
    # and LSTM(32) have 4*128 + 4*32 = 640 more real parameters, which deepfuse counts.
    total = "1,392,097" if keras.__name__ == "keras" else "1,392,737"
    assert f"Total params: {total}" in summary_text(model)

    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={
            "priority": keras.losses.BinaryCrossentropy(from_logits=True),
            "department": keras.losses.CategoricalCrossentropy(from_logits=True),
        },
        loss_weights={"priority": 1.0, "department": 0.2},
    )

    # Dummy input data, and targets that depend on it (so there is something to learn).
    title_data = np.random.randint(num_words, size=(640, 10))
    body_data = np.random.randint(num_words, size=(640, 50))
    tags_data = np.random.randint(2, size=(640, num_tags)).astype("float32")
    priority_targets = tags_data[:, :1].copy()
    dept_targets = keras.utils.to_categorical(tags_data[:, 1:3] @ np.array([1, 2]), num_departments)

    history = model.fit(
        {"title": title_data, "body": body_data, "tags": tags_data},
        {"priority": priority_targets, "department": dept_targets},
        epochs=3,
        batch_size=32,
        verbose=0,
    )
    print("history:", history.history)
    assert history.history["loss"][-1] < history.history["loss"][0]

    results = model.evaluate(
        {"title": title_data, "body": body_data, "tags": tags_data},
        {"priority": priority_targets, "department": dept_targets},
        verbose=0,
        return_dict=True,
    )
    print("evaluate:", results)
    total = results["priority_loss"] + 0.2 * results["department_loss"]
    assert results["loss"] == pytest.approx(total, rel=1e-3)  # loss_weights applied per output

    preds = model.predict({"title": title_data[:5], "body": body_data[:5], "tags": tags_data[:5]})
    assert preds["priority"].shape == (5, 1)
    assert preds["department"].shape == (5, num_departments)


def test_e_functional_list_inputs_and_outputs():
    import deepfuse as keras
    from deepfuse import layers

    numeric = keras.Input(shape=(8,), name="numeric")
    extra = keras.Input(shape=(4,), name="extra")
    x = layers.concatenate([numeric, extra])
    x = layers.Dense(16, activation="relu")(x)
    value = layers.Dense(1, name="value")(x)
    flag = layers.Dense(1, activation="sigmoid", name="flag")(x)
    model = keras.Model(inputs=[numeric, extra], outputs=[value, flag])
    assert [t.shape for t in model.outputs] == [(None, 1), (None, 1)]

    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=["mse", "binary_crossentropy"],
        loss_weights=[1.0, 0.5],
        metrics=[["mae"], ["accuracy"]],
    )
    a = np.random.normal(size=(512, 8)).astype("float32")
    b = np.random.normal(size=(512, 4)).astype("float32")
    y_value = a[:, :2].sum(axis=1, keepdims=True) - b[:, :1]
    y_flag = (a[:, 2:3] > 0).astype("float32")

    history = model.fit([a, b], [y_value, y_flag], epochs=8, batch_size=32, verbose=0)
    print("history:", {k: v[-1] for k, v in history.history.items()})
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    results = model.evaluate([a, b], [y_value, y_flag], verbose=0, return_dict=True)
    print("evaluate:", results)
    assert results["flag_accuracy"] > 0.9  # real Keras: see README.md
    assert results["value_mae"] < 0.4
    value_pred, flag_pred = model.predict([a[:3], b[:3]], verbose=0)
    assert value_pred.shape == flag_pred.shape == (3, 1)
