"""``import deepfuse as tf`` / ``as keras``: the tf.keras spelling, keras.utils helpers and
keras.datasets loaders, compared with numpy / scikit-learn / Keras' documented recipes."""

from __future__ import annotations

import hashlib
import io
import os
import random
import tarfile

import numpy as np
import pytest
import torch
from sklearn.preprocessing import normalize as sk_normalize

import deepfuse as keras
import deepfuse as tf
from deepfuse._utils.errors import DataError


def test_tf_keras_spelling():
    assert tf.keras is tf
    model = tf.keras.Sequential(
        [tf.keras.layers.Dense(3, activation="relu"), tf.keras.layers.Dense(1)]
    )
    assert isinstance(model, tf.keras.models.Sequential)
    assert tf.keras.layers.Dense is keras.layers.Dense
    np.testing.assert_array_equal(tf.keras.utils.to_categorical([1, 0], 2), np.eye(2)[[1, 0]])
    from deepfuse import keras as k2  # `from tensorflow import keras`

    assert k2.ops.relu(torch.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]
    assert "keras" not in keras.__all__ and {"ops", "random", "preprocessing"} <= set(keras.__all__)


def test_pad_sequences_spellings_are_one_function():
    seqs = [[1, 2, 3, 4], [5]]
    out = keras.preprocessing.sequence.pad_sequences(
        seqs, maxlen=3, padding="post", truncating="post"
    )
    assert out.tolist() == [[1, 2, 3], [5, 0, 0]]  # Keras' documented behaviour
    assert keras.preprocessing.sequence.pad_sequences is keras.utils.pad_sequences


def test_set_random_seed_seeds_python_numpy_and_torch():
    keras.utils.set_random_seed(123)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    keras.utils.set_random_seed(123)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("axis", [-1, 0])
def test_normalize_matches_sklearn(order, axis):
    x = np.random.default_rng(0).normal(size=(5, 4))
    x[1] = 0.0  # a zero row stays zero
    expected = sk_normalize(x if axis == -1 else x.T, norm=f"l{order}")
    expected = expected if axis == -1 else expected.T
    np.testing.assert_allclose(keras.utils.normalize(x, axis=axis, order=order), expected)
    got = keras.utils.normalize(torch.tensor(x), axis=axis, order=order)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), expected)


def _cifar_archive(path, labels, seed=0):
    """A cifar-10-binary.tar.gz in the authors' documented layout (label byte + R, G, B planes)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (len(labels), 32, 32, 3), dtype=np.uint8)
    record = np.concatenate(
        [
            np.array(labels, np.uint8)[:, None],
            images.transpose(0, 3, 1, 2).reshape(len(labels), -1),
        ],
        axis=1,
    )
    with tarfile.open(path, "w:gz") as tar:
        for name, rows in [(f"data_batch_{i}.bin", record[i - 1 : i]) for i in range(1, 6)] + [
            ("test_batch.bin", record[5:])
        ]:
            data = rows.tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return images


def test_cifar10_reads_the_binary_archive(tmp_path, monkeypatch):
    from deepfuse.datasets import cifar10

    (tmp_path / "cifar10").mkdir()
    archive = tmp_path / "cifar10" / cifar10.FILE
    images = _cifar_archive(archive, [3, 1, 4, 1, 5, 9, 2])
    monkeypatch.setattr(cifar10, "SHA256", hashlib.sha256(archive.read_bytes()).hexdigest())
    (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data(tmp_path)
    assert x_train.shape == (5, 32, 32, 3) and x_train.dtype == np.uint8  # Keras: NHWC uint8
    assert y_train.shape == (5, 1) and y_train[:, 0].tolist() == [3, 1, 4, 1, 5]
    np.testing.assert_array_equal(x_train, images[:5])
    np.testing.assert_array_equal(x_test, images[5:])
    assert y_test[:, 0].tolist() == [9, 2]


def test_missing_files_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFUSE_DATA_DIR", str(tmp_path))
    with pytest.raises(
        DataError, match=r"Put cifar-10-binary\.tar\.gz in \$DEEPFUSE_DATA_DIR/cifar10/"
    ):
        keras.datasets.cifar10.load_data()
    with pytest.raises(
        DataError, match=r"Put boston_housing\.npz in \$DEEPFUSE_DATA_DIR/boston_housing/"
    ):
        keras.datasets.boston_housing.load_data(path="boston_housing.npz", test_split=0.2, seed=113)


def test_boston_housing_splits_like_keras(tmp_path, monkeypatch):
    from deepfuse.datasets import boston_housing

    x = np.arange(506 * 13, dtype=np.float64).reshape(506, 13)
    y = np.arange(506, dtype=np.float64) / 10
    path = tmp_path / boston_housing.FILE
    np.savez(path, x=x, y=y)
    monkeypatch.setattr(boston_housing, "SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    (x_train, _), (x_test, y_test) = keras.datasets.boston_housing.load_data(
        tmp_path, test_split=0.2, seed=113
    )
    # Keras' recipe (keras/src/datasets/boston_housing.py): RandomState(seed).shuffle, last 20% test
    order = np.arange(506)
    np.random.RandomState(113).shuffle(order)
    assert x_train.shape == (404, 13) and x_test.shape == (102, 13)
    np.testing.assert_array_equal(x_train, x[order[:404]])
    np.testing.assert_array_equal(y_test, y[order[404:]])


def test_fashion_mnist_loads_offline():
    if not (keras.datasets.get_data_dir() or os.environ.get("DEEPFUSE_DATA_DIR")):
        pytest.skip("DEEPFUSE_DATA_DIR is not set")
    (x_train, _), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_test).tolist() == [1000] * 10  # the dataset's documented balance


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("get_file", "never downloads"),
        ("text_dataset_from_directory", "scan_text"),
        ("Sequence", "DataLoader"),
    ],
)
def test_missing_keras_utils_name_the_alternative(name, fix):
    with pytest.raises(
        AttributeError, match=rf"^keras\.utils\.{name} is not provided by deepfuse; .*{fix}"
    ):
        getattr(keras.utils, name)


@pytest.mark.parametrize(
    ("namespace", "name", "fix"),
    [
        ("preprocessing.image", "ImageDataGenerator", "image_dataset_from_directory"),
        ("preprocessing", "text", "TextEncoder"),
        ("ops", "nn", "torch.nn.functional"),
        ("ops", "fft", "torch.fft"),
    ],
)
def test_unsupported_keras_names_say_what_to_use(namespace, name, fix):
    module = keras
    for part in namespace.split("."):
        module = getattr(module, part)
    with pytest.raises(
        AttributeError, match=rf"^keras\.{namespace}\.{name} is not provided by deepfuse; .*{fix}"
    ):
        getattr(module, name)
