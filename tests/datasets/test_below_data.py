"""``deepfuse.datasets`` sits below ``deepfuse.data``: the routes import the catalog, never the
other way round, and IMDB's word indices come from the one text implementation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import deepfuse
from deepfuse._utils import text as text_rules
from deepfuse.data import TextEncoder, pad_sequences, tokenize
from deepfuse.datasets import imdb
from source_imports import imported

SRC = Path(deepfuse.__file__).parent


def test_datasets_import_nothing_of_data():
    upward = sorted(n for n in imported("datasets") if n.split(".")[:2] == ["deepfuse", "data"])
    assert upward == []


def test_the_check_sees_a_lazy_import():
    assert "deepfuse.datasets.catalog" in imported("data")  # routes read the catalog


def test_data_text_is_the_one_text_implementation():
    assert TextEncoder is text_rules.TextEncoder and imdb.TextEncoder is TextEncoder
    assert pad_sequences is text_rules.pad_sequences and tokenize is text_rules.tokenize


def test_imdb_word_indices_follow_the_public_encoder(monkeypatch):
    import pyarrow as pa

    reviews = ["Great <br />movie, great cast", "Bad movie", "Don't watch", "great fun"]
    table = pa.table(
        {
            "review": reviews,
            "sentiment": ["positive", "negative", "negative", "positive"],
            "split": ["train", "train", "test", "test"],
            "file_id": ["0", "1", "2", "3"],
            "rating": [9, 2, 1, 8],
        }
    )
    monkeypatch.setattr(imdb, "_read", lambda data_dir: table)
    (x, y), (xt, yt) = imdb.load_imdb(num_words=10, seed=None)
    enc = TextEncoder(max_tokens=10, max_len=1).fit(reviews[:2])  # fitted on train only
    assert enc.vocab == ["great", "movie", "bad", "cast"]
    assert [s.tolist() for s in x] == [[2, 3, 2, 5], [4, 3]]
    assert [s.tolist() for s in xt] == [[1, 1], [2, 1]]  # dont/watch/fun: out of vocabulary
    assert y.tolist() == [1, 0] and yt.tolist() == [0, 1]
    # padded, the sequences are what the Preprocessor's encoder gives for the same rows
    enc3 = TextEncoder(max_tokens=10, max_len=3).fit(reviews[:2])
    assert np.array_equal(pad_sequences(x, maxlen=3), enc3.transform(reviews[:2]))
