"""Keras' ``keras.datasets.fashion_mnist.load_data()`` spelling (``mnist`` and ``imdb`` are the
modules :mod:`deepfuse.datasets.mnist` and :mod:`deepfuse.datasets.imdb`, which have ``load_data``).

Example:
    >>> import deepfuse as keras
    >>> (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    >>> x_train.shape
    (60000, 28, 28)
"""

from __future__ import annotations

from types import SimpleNamespace

from deepfuse.datasets.mnist import load_fashion_mnist

__all__ = ["fashion_mnist"]

fashion_mnist = SimpleNamespace(load_data=lambda path=None: load_fashion_mnist(path))
