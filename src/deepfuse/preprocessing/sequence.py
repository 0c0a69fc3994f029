"""Keras' ``keras.preprocessing.sequence``: :func:`pad_sequences` (the one implementation lives in
:mod:`deepfuse._utils.text`; ``keras.utils.pad_sequences`` is the same function).

Example:
    >>> pad_sequences([[1, 2, 3], [4]], maxlen=3, padding="post").tolist()
    [[1, 2, 3], [4, 0, 0]]
"""

from __future__ import annotations

from deepfuse.data.text import pad_sequences

__all__ = ["pad_sequences"]
