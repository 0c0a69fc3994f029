"""Keras' image helpers and ``image_dataset_from_directory`` (``import deepfuse as keras``),
compared with Pillow / numpy and Keras' documented behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import deepfuse as keras
from deepfuse import layers
from deepfuse._utils.errors import DataError, UserError


# ------------------------------------------------------------------ image helpers
def test_keras_names_are_one_implementation():
    assert keras.utils.array_to_img is keras.preprocessing.image.array_to_img
    assert keras.utils.load_img is keras.preprocessing.image.load_img
    assert keras.utils.pad_sequences is keras.preprocessing.sequence.pad_sequences
    assert (
        keras.utils.image_dataset_from_directory is keras.preprocessing.image_dataset_from_directory
    )


def test_array_to_img_scales_floats_like_keras():
    x = np.linspace(-1.0, 3.0, 4 * 5 * 3).reshape(4, 5, 3)
    img = keras.utils.array_to_img(x)
    assert img.mode == "RGB" and img.size == (5, 4)  # PIL size is (W, H)
    expected = ((x - x.min()) / (x - x.min()).max() * 255).astype(np.uint8)  # Keras' formula
    np.testing.assert_array_equal(np.asarray(img), expected)
    raw = keras.utils.array_to_img(np.full((2, 2, 1), 7.0), scale=False)
    assert raw.mode == "L" and np.asarray(raw).tolist() == [[7, 7], [7, 7]]


def test_array_to_img_layouts():
    hwc = np.random.default_rng(0).integers(0, 255, (6, 8, 3)).astype(np.float32)
    chw_tensor = torch.tensor(hwc).permute(2, 0, 1)  # what a deepfuse model computes
    a = np.asarray(keras.utils.array_to_img(hwc, scale=False))
    b = np.asarray(keras.utils.array_to_img(chw_tensor, scale=False))
    c = np.asarray(keras.utils.array_to_img(hwc.transpose(2, 0, 1), scale=False))  # CHW array
    np.testing.assert_array_equal(a, hwc.astype(np.uint8))
    np.testing.assert_array_equal(b, a)
    np.testing.assert_array_equal(c, a)
    d = keras.utils.array_to_img(
        chw_tensor.permute(1, 2, 0), data_format="channels_last", scale=False
    )
    np.testing.assert_array_equal(np.asarray(d), a)
    assert keras.utils.array_to_img(torch.rand(1, 28, 28)).size == (28, 28)
    assert keras.utils.array_to_img(np.zeros((28, 28, 4))).mode == "RGBA"
    with pytest.raises(UserError, match="one image"):
        keras.utils.array_to_img(np.zeros((2, 28, 28, 1)))
    with pytest.raises(UserError, match="channels"):
        keras.utils.array_to_img(np.zeros((5, 6, 7)))


def test_save_load_img_round_trip(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (10, 12, 3)).astype(np.uint8)
    path = tmp_path / "x.png"
    keras.utils.save_img(path, pixels.astype(np.float32), scale=False)
    img = keras.utils.load_img(path)
    assert img.mode == "RGB" and img.size == (12, 10)
    arr = keras.utils.img_to_array(img)
    assert arr.dtype == np.float32 and arr.shape == (10, 12, 3)
    np.testing.assert_array_equal(arr, pixels.astype(np.float32))
    assert keras.utils.img_to_array(img, data_format="channels_first").shape == (3, 10, 12)
    gray = keras.utils.load_img(path, color_mode="grayscale", target_size=(5, 6))
    expected = Image.open(path).convert("L").resize((6, 5), Image.Resampling.NEAREST)
    np.testing.assert_array_equal(np.asarray(gray), np.asarray(expected))
    assert keras.utils.img_to_array(gray).shape == (5, 6, 1)
    cropped = keras.utils.load_img(path, target_size=(5, 5), keep_aspect_ratio=True)
    expected = Image.open(path).crop((1, 0, 11, 10)).resize((5, 5), Image.Resampling.NEAREST)
    np.testing.assert_array_equal(np.asarray(cropped), np.asarray(expected))
    keras.utils.save_img(tmp_path / "a.jpg", np.zeros((4, 4, 4)))  # RGBA to JPEG: alpha dropped
    assert Image.open(tmp_path / "a.jpg").mode == "RGB"


def test_load_img_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        keras.utils.load_img(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="not an image"):
        keras.utils.load_img(tmp_path / "bad.png")
    with pytest.raises(ValueError, match="interpolation"):
        keras.utils.load_img(tmp_path / "bad.png", target_size=(2, 2), interpolation="cubic-ish")


# ------------------------------------------------------------ image_dataset_from_directory
def _folder(root, classes=("cat", "dog"), per_class=5, size=(9, 7)):
    """root/<class>/<i>.png; every pixel of image i of class c is (c * 100, i * 10, 5)."""
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            arr = np.zeros((size[0], size[1], 3), np.uint8) + np.array(
                [c * 100, i * 10, 5], np.uint8
            )
            Image.fromarray(arr).save(root / name / f"{i}.png")
    return root


def _all(ds):
    xs, ys = zip(*list(ds), strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_batches_like_keras(tmp_path):
    root = _folder(tmp_path / "d")
    ds = keras.utils.image_dataset_from_directory(
        root, image_size=(4, 3), batch_size=4, shuffle=False, verbose=False
    )
    assert ds.class_names == ["cat", "dog"] and len(ds) == 3
    x, y = _all(ds)
    assert x.shape == (10, 4, 3, 3) and x.dtype == np.float32  # NHWC, [0, 255]
    assert y.dtype == np.int64 and y.tolist() == [0] * 5 + [1] * 5
    # the pixel values survive (a constant image resized stays constant): class and index
    assert x[:, 0, 0, 0].tolist() == [0.0] * 5 + [100.0] * 5
    assert x[:5, 0, 0, 1].tolist() == [0.0, 10.0, 20.0, 30.0, 40.0]
    cat = keras.utils.image_dataset_from_directory(
        root, label_mode="categorical", image_size=(4, 3), shuffle=False, verbose=False
    )
    _, yc = _all(cat)
    assert yc.dtype == np.float32 and yc.tolist() == np.eye(2)[y].tolist()
    binary = keras.utils.image_dataset_from_directory(
        root,
        label_mode="binary",
        color_mode="grayscale",
        image_size=(4, 3),
        shuffle=False,
        verbose=False,
    )
    xb, yb = _all(binary)
    assert xb.shape == (10, 4, 3, 1) and yb.shape == (10, 1) and yb.dtype == np.float32
    assert yb[:, 0].tolist() == [0.0] * 5 + [1.0] * 5
    images, labels = ds.take(1)[0]  # the Keras tutorial's way of showing a batch
    assert (
        images[0].numpy().astype("uint8").shape == (4, 3, 3) and ds.class_names[labels[0]] == "cat"
    )
    assert type(images.numpy()) is np.ndarray
    unlabelled = keras.utils.image_dataset_from_directory(
        root, labels=None, image_size=(4, 3), verbose=False
    )
    assert next(iter(unlabelled)).shape == (10, 4, 3, 3)
    single = keras.utils.image_dataset_from_directory(
        root, batch_size=None, image_size=(4, 3), verbose=False
    )
    image, label = next(iter(single))
    assert image.shape == (4, 3, 3) and label.shape == ()


def test_binary_refuses_more_than_two_classes(tmp_path):
    root = _folder(tmp_path / "d", classes=("a", "b", "c"), per_class=1)
    with pytest.raises(UserError, match=r"label_mode='binary' needs exactly 2 classes.*has 3"):
        keras.utils.image_dataset_from_directory(root, label_mode="binary", verbose=False)


def test_class_names_and_explicit_labels(tmp_path):
    root = _folder(tmp_path / "d", per_class=2)
    ds = keras.utils.image_dataset_from_directory(
        root, class_names=["dog", "cat"], image_size=(2, 2), shuffle=False, verbose=False
    )
    _, y = _all(ds)
    assert ds.class_names == ["dog", "cat"] and y.tolist() == [1, 1, 0, 0]  # cat files first
    with pytest.raises(UserError, match="class_names"):
        keras.utils.image_dataset_from_directory(root, class_names=["dog", "cow"], verbose=False)
    ds = keras.utils.image_dataset_from_directory(
        root, labels=[3, 1, 0, 2], image_size=(2, 2), shuffle=False, verbose=False
    )
    assert _all(ds)[1].tolist() == [3, 1, 0, 2]  # sorted file paths: cat/0, cat/1, dog/0, dog/1


def test_split_shuffle_and_epochs(tmp_path, capsys):
    root = _folder(tmp_path / "d", per_class=10)
    train, val = keras.utils.image_dataset_from_directory(
        root, image_size=(2, 2), batch_size=3, seed=7, validation_split=0.25, subset="both"
    )
    assert capsys.readouterr().out.splitlines() == [
        "Found 20 files belonging to 2 classes.",
        "Using 15 files for training.",
        "Using 5 files for validation.",
    ]
    assert len(train.file_paths) == 15 and len(val.file_paths) == 5
    assert not set(train.file_paths) & set(val.file_paths)
    again = keras.utils.image_dataset_from_directory(
        root,
        image_size=(2, 2),
        batch_size=3,
        seed=7,
        validation_split=0.25,
        subset="validation",
        verbose=False,
    )
    assert again.file_paths == val.file_paths  # the same seed gives the same split
    # re-iterable, reshuffled every epoch, reproducible with the seed; images stay with their labels
    x1, y1 = _all(train)
    x2, y2 = _all(train)
    assert (
        sorted(y1.tolist()) == sorted(y2.tolist())
        and x1[:, 0, 0, 1].tolist() != x2[:, 0, 0, 1].tolist()
    )
    assert ((x1[:, 0, 0, 0] == 100) == (y1 == 1)).all() and (
        (x2[:, 0, 0, 0] == 100) == (y2 == 1)
    ).all()
    fresh = keras.utils.image_dataset_from_directory(
        root,
        image_size=(2, 2),
        batch_size=3,
        seed=7,
        validation_split=0.25,
        subset="training",
        verbose=False,
    )
    np.testing.assert_array_equal(_all(fresh)[0], x1)
    with pytest.raises(UserError, match="seed"):
        keras.utils.image_dataset_from_directory(root, validation_split=0.2, subset="training")
    with pytest.raises(UserError, match="together"):
        keras.utils.image_dataset_from_directory(root, validation_split=0.2, seed=1)


def test_fit_takes_the_datasets(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "d"
    for i in range(24):
        cls = ["blue", "red"][i % 2]
        (root / cls).mkdir(parents=True, exist_ok=True)
        color = np.array((200, 0, 0) if cls == "red" else (0, 0, 200))
        arr = np.clip(color + rng.integers(-30, 30, (8, 8, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(root / cls / f"{i}.png")
    train_ds, val_ds = keras.utils.image_dataset_from_directory(
        root,
        image_size=(8, 8),
        batch_size=6,
        seed=1,
        validation_split=0.25,
        subset="both",
        verbose=False,
    )
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 3)),
            layers.Conv2D(4, 3),  # linear: raw [0, 255] pixels would kill ReLUs
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=0)
    assert len(history.history["val_accuracy"]) == 8
    assert history.history["val_accuracy"][-1] == 1.0  # red vs blue: images reached the model
