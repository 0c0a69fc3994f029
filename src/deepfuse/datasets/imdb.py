"""IMDB movie-review sentiment (Maas et al. 2011): 25,000 train and 25,000 test reviews.

Example:
    >>> from deepfuse.datasets import load_imdb
    >>> (x_train, y_train), (x_test, y_test) = load_imdb()                   # doctest: +SKIP
    >>> x_train[0][:40], y_train[:5]                                         # doctest: +SKIP
    ('Trust me, if you ever get the chance t...', array([1, 0, 0, 1, 1]))
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from deepfuse._utils.text import TextEncoder
from deepfuse.datasets._files import find_file

__all__ = ["load_imdb"]

_FILE = "imdb_reviews.csv.gz"
_SHA256 = "05ff79fca2303022d90b0c1c0853719b8335e9a5664547feed466e10244f6bf1"


def _read(data_dir) -> pa.Table:
    path = find_file("imdb", _FILE, _SHA256, data_dir=data_dir)
    types = {"review": pa.string(), "sentiment": pa.string(), "split": pa.string(),
             "file_id": pa.string(), "rating": pa.int64()}  # fmt: skip
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))


def load_imdb(
    data_dir: str | os.PathLike | None = None,
    num_words: int | None = None,
    maxlen: int | None = None,
    *,
    as_table: bool = False,
    seed: int | None = 113,
) -> tuple[Any, Any]:
    """Load the IMDB reviews as raw texts (default), word-index sequences, or pyarrow tables.

    The file ``imdb_reviews.csv.gz`` is searched in ``data_dir``, ``$DEEPFUSE_DATA_DIR`` and the
    folder set with :func:`deepfuse.datasets.set_data_dir` (as ``<dir>/imdb/`` or ``<dir>/``) and
    sha256-checked. The file is sorted by label, so each split is shuffled with ``seed`` (like
    Keras' ``seed=113``); a Keras-style ``validation_split`` then sees both classes.

    Args:
        data_dir: Optional folder to search first.
        num_words: If given (or ``maxlen`` is), reviews are returned as word-index sequences:
            lowercased, HTML removed, 0 = padding (never emitted), 1 = out-of-vocabulary, words
            from 2 by training frequency; only indices ``< num_words`` are kept (others become 1).
        maxlen: Truncate each sequence to its first ``maxlen`` words (nothing is dropped, unlike
            old Keras versions which removed longer reviews). Pad with
            :func:`deepfuse.data.pad_sequences`.
        as_table: Return ``(train, test)`` pyarrow Tables with columns review, sentiment, split,
            file_id, rating (for :class:`deepfuse.data.Preprocessor`) instead of arrays.
        seed: Shuffle seed; ``None`` keeps the file order.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: ``x`` an object array of ``str`` (or of ``int64``
        arrays when tokenised), ``y`` ``int64`` (1 = positive, 0 = negative); or two Tables.

    Example:
        >>> (x, y), _ = load_imdb(num_words=10000, maxlen=200)                # doctest: +SKIP
        >>> from deepfuse.data import pad_sequences
        >>> pad_sequences(x, maxlen=200).shape                                 # doctest: +SKIP
        (25000, 200)
    """
    table = _read(data_dir)
    splits = []
    for name in ("train", "test"):
        part = table.filter(pc.equal(table.column("split"), name))
        if seed is not None:
            part = part.take(np.random.default_rng(seed).permutation(part.num_rows))
        splits.append(part)
    if as_table:
        return splits[0], splits[1]
    xs = [p.column("review").to_numpy(zero_copy_only=False).astype(object) for p in splits]
    ys = [
        pc.equal(p.column("sentiment"), "positive").to_numpy(zero_copy_only=False).astype(np.int64)
        for p in splits
    ]
    if num_words is not None or maxlen is not None:
        enc = TextEncoder(max_tokens=num_words, max_len=maxlen or 1).fit(splits[0].column("review"))
        seqs = []
        for p in splits:
            flat, offsets = enc.encode_ragged(p.column("review"))
            parts = np.split(flat, offsets[1:-1])
            seq = np.empty(len(parts), dtype=object)
            seq[:] = [s[:maxlen] if maxlen else s for s in parts]
            seqs.append(seq)
        xs = seqs
    return (xs[0], ys[0]), (xs[1], ys[1])


def load_data(num_words: int | None = None, maxlen: int | None = None, **kwargs: Any):
    """Keras' ``imdb.load_data``: word-index sequences (0 pad, 1 OOV, words from 2), int labels.

    Example:
        >>> import deepfuse as keras
        >>> (x, y), _ = keras.datasets.imdb.load_data(num_words=10000)   # doctest: +SKIP
    """
    return load_imdb(
        num_words=num_words if num_words is not None else 10**9, maxlen=maxlen, **kwargs
    )
