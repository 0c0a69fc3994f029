"""Boston Housing prices, like ``keras.datasets.boston_housing.load_data()``: 506 rows of 13
features, the median home value (in $1000s) as target, split 80/20 with Keras' shuffle.

Read from Keras' file ``boston_housing.npz`` (sha256-checked, loaded with
``allow_pickle=False``). Not shipped: put it in ``$DEEPFUSE_DATA_DIR/boston_housing/``
(Keras downloads it from
https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz).

Example:
    >>> (x_train, y_train), (x_test, y_test) = load_data()   # doctest: +SKIP
    >>> x_train.shape, x_test.shape                           # doctest: +SKIP
    ((404, 13), (102, 13))
"""

from __future__ import annotations

import os

import numpy as np

from deepfuse._utils.errors import DataError
from deepfuse.datasets._files import find_file

__all__ = ["load_boston_housing", "load_data", "split_like_keras"]

FILE = "boston_housing.npz"
SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"

_Split = tuple[np.ndarray, np.ndarray]


def split_like_keras(
    x: np.ndarray, y: np.ndarray, test_split: float, seed: int
) -> tuple[_Split, _Split]:
    """Keras' split: shuffle rows with ``np.random.RandomState(seed)``, the last ``test_split``
    fraction is the test set.

    Example:
        >>> (a, b), (c, d) = split_like_keras(np.arange(10), np.arange(10), 0.2, 113)
        >>> len(a), len(c), sorted([*a, *c]) == list(range(10))
        (8, 2, True)
    """
    if not 0 <= test_split < 1:
        raise DataError(f"test_split must be in [0, 1), got {test_split}.")
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (x[:cut].copy(), y[:cut].copy()), (x[cut:].copy(), y[cut:].copy())


def load_boston_housing(
    data_dir: str | os.PathLike | None = None, test_split: float = 0.2, seed: int = 113
) -> tuple[_Split, _Split]:
    """Load Boston Housing as Keras does: ``((x_train, y_train), (x_test, y_test))``, float64.

    Raises:
        DataError: ``boston_housing.npz`` is not found (the message says where to put it).
    """
    path = find_file("boston_housing", FILE, SHA256, data_dir=data_dir)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    return split_like_keras(x, y, test_split, seed)


def load_data(
    path: str | os.PathLike | None = None, test_split: float = 0.2, seed: int = 113
) -> tuple[_Split, _Split]:
    """Keras' ``boston_housing.load_data(path=..., test_split=0.2, seed=113)`` spelling.

    ``path`` is a data folder searched first; Keras' file name ``"boston_housing.npz"`` (its
    cache name) is accepted and the usual folders are searched.
    """
    return load_boston_housing(path, test_split, seed)
