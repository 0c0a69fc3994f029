"""Model API programs: a toy ResNet, nested and shared models, the batch-level API and configs.

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
from programs_support import changed, summary_text, weights_of

# --- j. a toy ResNet, shared layers, models used as layers ---------------------------------------


def test_j_toy_resnet_with_residual_adds():
    import deepfuse as keras
    from deepfuse import layers

    inputs = keras.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    assert block_1_output.shape == (None, 9, 9, 64)

    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])

    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    assert block_3_output.shape == (None, 9, 9, 64)

    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs, outputs, name="toy_resnet")
    assert "Total params: 223,242" in summary_text(model)  # the functional-API guide's figure

    # a learnable stand-in for CIFAR-10: the class is which colour channel is brightest
    x_train = np.random.random((96, 32, 32, 3)).astype("float32")
    y_train = np.random.randint(0, 3, size=(96,))
    x_train[np.arange(96), :, :, y_train] += 0.5
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["acc"],
    )
    history = model.fit(x_train, y_train, batch_size=32, epochs=4, verbose=0)
    print("history:", history.history)
    assert set(history.history) == {"loss", "acc"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(x_train[:4], verbose=0).shape == (4, 10)


def test_j_nested_models_shared_layers_and_ensembles():
    import deepfuse as keras
    from deepfuse import layers

    # an encoder and a decoder model, each used as a layer of the autoencoder
    encoder_input = keras.Input(shape=(28, 28, 1), name="img")
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    encoder_output = layers.GlobalMaxPooling2D()(x)
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")

    decoder_input = keras.Input(shape=(16,), name="encoded_img")
    x = layers.Reshape((4, 4, 1))(decoder_input)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    assert x.shape == (None, 24, 24, 32)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)
    decoder = keras.Model(decoder_input, decoder_output, name="decoder")

    autoencoder_input = keras.Input(shape=(28, 28, 1), name="img")
    encoded_img = encoder(autoencoder_input)
    decoded_img = decoder(encoded_img)
    autoencoder = keras.Model(autoencoder_input, decoded_img, name="autoencoder")
    assert "Total params: 18,672" in summary_text(encoder)  # the guide's figures
    assert "Total params: 9,569" in summary_text(decoder)
    assert "Total params: 28,241" in summary_text(autoencoder)
    assert decoded_img.shape == (None, 28, 28, 1)

    (x_train, _), _ = keras.datasets.mnist.load_data()
    images = x_train[:64].reshape(64, 28, 28, 1).astype("float32") / 255
    np.testing.assert_allclose(
        autoencoder.predict(images, verbose=0),
        decoder.predict(encoder.predict(images, verbose=0), verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )
    autoencoder.compile(optimizer="adam", loss="mse")
    enc_before = weights_of(encoder)
    autoencoder.fit(images, images, epochs=1, batch_size=32, verbose=0)
    assert changed(enc_before, weights_of(encoder))  # the nested model's weights are trained

    # one Embedding shared by two inputs: its weights counted once
    shared_embedding = layers.Embedding(1000, 128)
    text_input_a = keras.Input(shape=(None,), dtype="int32")
    text_input_b = keras.Input(shape=(None,), dtype="int32")
    encoded_input_a = layers.GlobalAveragePooling1D()(shared_embedding(text_input_a))
    encoded_input_b = layers.GlobalAveragePooling1D()(shared_embedding(text_input_b))
    merged = layers.concatenate([encoded_input_a, encoded_input_b])
    similarity = layers.Dense(1, activation="sigmoid")(merged)
    siamese = keras.Model([text_input_a, text_input_b], similarity)
    assert "Total params: 128,257" in summary_text(siamese)
    tokens = np.random.randint(1000, size=(4, 7))
    same = siamese.predict([tokens, tokens], verbose=0)
    assert same.shape == (4, 1)

    # an ensemble of three models averaged
    def get_model():
        inputs = keras.Input(shape=(128,))
        outputs = layers.Dense(1)(inputs)
        return keras.Model(inputs, outputs)

    model1, model2, model3 = get_model(), get_model(), get_model()
    inputs = keras.Input(shape=(128,))
    y1, y2, y3 = model1(inputs), model2(inputs), model3(inputs)
    outputs = layers.average([y1, y2, y3])
    ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
    data = np.random.normal(size=(5, 128)).astype("float32")
    expected = np.mean([m.predict(data, verbose=0) for m in (model1, model2, model3)], axis=0)
    np.testing.assert_allclose(
        ensemble_model.predict(data, verbose=0), expected, rtol=1e-5, atol=1e-6
    )


# --- k. the batch-level API, weights and config ---------------------------------------------------


def test_k_batch_api_weights_and_config():
    import deepfuse as keras
    from deepfuse import layers

    centers = np.array([[2.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]])
    y = np.random.randint(0, 3, size=(300,))
    x = (centers[y] + 0.5 * np.random.normal(size=(300, 4))).astype("float32")

    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            layers.Dense(8, activation="relu", name="hidden"),
            layers.Dense(3, activation="softmax", name="probs"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    assert [w.shape for w in model.get_weights()] == [(4, 8), (8,), (8, 3), (3,)]

    first = model.train_on_batch(x[:64], y[:64])
    assert np.shape(first) == (2,)  # [loss, accuracy]
    for _ in range(60):
        for start in range(0, 256, 64):
            loss, _acc = model.train_on_batch(x[start : start + 64], y[start : start + 64])
    assert loss < first[0]
    _test_loss, test_acc = model.test_on_batch(x[256:], y[256:])
    assert test_acc > 0.9
    probs = model.predict_on_batch(x[256:])
    assert probs.shape == (44, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)

    # get_weights in Keras' layout: kernel (in, out), so the model is numpy-computable
    w1, b1, w2, b2 = model.get_weights()
    logits = np.maximum(x[256:] @ w1 + b1, 0.0) @ w2 + b2
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, expected, rtol=1e-4, atol=1e-6)

    # a clone from the config, given the weights, predicts the same
    config = model.get_config()
    clone = keras.Sequential.from_config(config)
    assert [layer.name for layer in clone.layers] == ["hidden", "probs"]
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    clone.set_weights([np.zeros_like(w) for w in model.get_weights()])
    np.testing.assert_allclose(clone.predict(x[:3], verbose=0), np.full((3, 3), 1 / 3), rtol=1e-6)

    # evaluate() without metrics returns the loss as a plain float
    regressor = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1)])
    regressor.compile(optimizer="adam", loss="mse")
    score = regressor.evaluate(x, y.astype("float32"), verbose=0)
    assert isinstance(score, float)
    expected_mse = np.mean((regressor.predict(x, verbose=0)[:, 0] - y) ** 2)
    assert score == pytest.approx(expected_mse, rel=1e-4)
    assert isinstance(regressor.train_on_batch(x[:32], y[:32].astype("float32")), float)


# --- n. the Sequential guide: feature extraction and transfer learning ---------------------------


def test_n_sequential_feature_extraction_and_frozen_layers():
    import deepfuse as keras
    from deepfuse import layers

    initial_model = keras.Sequential(
        [
            keras.Input(shape=(250, 250, 3)),
            layers.Conv2D(32, 5, strides=2, activation="relu"),
            layers.Conv2D(32, 3, activation="relu", name="my_intermediate_layer"),
            layers.Conv2D(32, 3, activation="relu"),
        ]
    )
    feature_extractor = keras.Model(
        inputs=initial_model.inputs,
        outputs=initial_model.get_layer(name="my_intermediate_layer").output,
    )
    images = np.random.random((2, 250, 250, 3)).astype("float32")
    features = feature_extractor.predict(images, verbose=0)
    assert features.shape == (2, 121, 121, 32)  # channels last, as Keras returns it
    every_layer = keras.Model(
        inputs=initial_model.inputs, outputs=[layer.output for layer in initial_model.layers]
    )
    assert [f.shape for f in every_layer.predict(images, verbose=0)] == [
        (2, 123, 123, 32),
        (2, 121, 121, 32),
        (2, 119, 119, 32),
    ]

    # transfer learning: freeze all layers except the last one
    model = keras.Sequential(
        [
            keras.Input(shape=(16,)),
            layers.Dense(32, activation="relu"),
            layers.Dense(32, activation="relu"),
            layers.Dense(1),
        ]
    )
    for layer in model.layers[:-1]:
        layer.trainable = False
    assert len(model.trainable_weights) == 2
    assert len(model.non_trainable_weights) == 4
    model.compile(optimizer="adam", loss="mse")
    frozen_before = [np.array(w) for w in model.layers[0].get_weights()]
    head_before = [np.array(w) for w in model.layers[-1].get_weights()]
    x = np.random.normal(size=(128, 16)).astype("float32")
    model.fit(x, x[:, :1], epochs=2, batch_size=32, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(frozen_before, model.layers[0].get_weights()))
    assert not all(
        np.array_equal(a, b) for a, b in zip(head_before, model.layers[-1].get_weights())
    )
    assert "Non-trainable params: 1,600" in summary_text(model)  # 16*32+32 + 32*32+32
