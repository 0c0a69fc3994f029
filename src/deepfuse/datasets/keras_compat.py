"""Keras' ``keras.datasets.<name>.load_data()`` spelling, so tutorial code runs unchanged.

Example:
    >>> import deepfuse as keras
    >>> (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    >>> x_train.shape
    (60000, 28, 28)
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from deepfuse.datasets.imdb import load_imdb
from deepfuse.datasets.mnist import load_fashion_mnist, load_mnist

__all__ = ["fashion_mnist", "imdb", "mnist"]


def _imdb_load_data(num_words: int | None = None, maxlen: int | None = None, **kwargs: Any):
    """Keras ``imdb.load_data``: word-index sequences (0 pad, 1 OOV, words from 2), int labels."""
    return load_imdb(num_words=num_words if num_words is not None else 10**9, maxlen=maxlen,
                     **kwargs)


mnist = SimpleNamespace(load_data=lambda path=None: load_mnist(path))
fashion_mnist = SimpleNamespace(load_data=lambda path=None: load_fashion_mnist(path))
imdb = SimpleNamespace(load_data=_imdb_load_data)
