"""Builtin datasets, loaded from local files verified by sha256 (never downloaded).

Where files are searched, in order: the loader's ``data_dir`` argument, ``$DEEPFUSE_DATA_DIR``,
the folder set with :func:`set_data_dir`, and (MNIST only) the copy shipped in the package. Each
dataset may sit in its own subfolder (``mnist/``, ``fashion-mnist/``, ``imdb/``, ``adult/``) or
directly in the folder.

Example:
    >>> import deepfuse.datasets as dsets
    >>> (x_train, y_train), (x_test, y_test) = dsets.load_mnist()
    >>> x_train.shape, y_test.shape
    ((60000, 28, 28), (10000,))
"""

from __future__ import annotations

# Keras spelling: keras.datasets.{mnist,imdb,fashion_mnist,cifar10,boston_housing}.load_data()
from deepfuse.datasets import boston_housing, cifar10, imdb, mnist
from deepfuse.datasets._files import ENV_VAR, get_data_dir, set_data_dir
from deepfuse.datasets.adult import ADULT_COLUMNS, load_adult
from deepfuse.datasets.boston_housing import load_boston_housing
from deepfuse.datasets.catalog import BUILTIN_DATASETS, BuiltinDataset, builtin
from deepfuse.datasets.cifar10 import CIFAR10_CLASSES, load_cifar10
from deepfuse.datasets.imdb import load_imdb
from deepfuse.datasets.keras_compat import fashion_mnist
from deepfuse.datasets.mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist, read_idx

__all__ = [
    "ADULT_COLUMNS",
    "BUILTIN_DATASETS",
    "CIFAR10_CLASSES",
    "ENV_VAR",
    "FASHION_MNIST_CLASSES",
    "BuiltinDataset",
    "boston_housing",
    "builtin",
    "cifar10",
    "fashion_mnist",
    "get_data_dir",
    "imdb",
    "load_adult",
    "load_boston_housing",
    "load_cifar10",
    "load_fashion_mnist",
    "load_imdb",
    "load_mnist",
    "mnist",
    "read_idx",
    "set_data_dir",
]
