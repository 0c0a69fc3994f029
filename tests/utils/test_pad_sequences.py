"""One pad_sequences: the Keras-style name and the data one are the same function, with Keras rules."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

import deepfuse.utils
from deepfuse._utils.errors import UserError
from deepfuse.data import pad_sequences
from deepfuse.data.text import TextEncoder


def _reference(seqs, maxlen, padding, truncating, value):
    """Keras' rules written out one row at a time (the obvious, slow way)."""
    width = max((len(s) for s in seqs), default=0) if maxlen is None else maxlen
    rows = []
    for s in seqs:
        s = list(s)
        kept = (s[-width:] if truncating == "pre" else s[:width]) if width else []
        pad = [value] * (width - len(kept))
        rows.append(pad + kept if padding == "pre" else kept + pad)
    return rows


def test_one_implementation():
    assert deepfuse.utils.pad_sequences is pad_sequences


@pytest.mark.parametrize(
    ("padding", "truncating"), list(itertools.product(("pre", "post"), repeat=2))
)
def test_matches_the_reference_on_random_ragged_input(padding, truncating):
    rng = random.Random(0)
    for _ in range(200):
        seqs = [
            [rng.randrange(1, 50) for _ in range(rng.randrange(0, 7))]
            for _ in range(rng.randrange(0, 6))
        ]
        maxlen = rng.choice([None, 0, 1, 3, 8])
        got = pad_sequences(seqs, maxlen, padding=padding, truncating=truncating, value=-1)
        want = _reference(seqs, maxlen, padding, truncating, -1)
        assert got.tolist() == want and got.dtype == np.int64
        assert got.shape == (len(seqs), len(want[0]) if want else (maxlen or 0))


def test_keras_positional_dtype_and_float_values():
    # keras.utils.pad_sequences(sequences, maxlen, dtype, padding, truncating, value)
    out = pad_sequences([[0.5, 1.5], [2.5]], 3, "float32", "post", "pre", 9.0)
    assert out.dtype == np.float32 and out.tolist() == [[0.5, 1.5, 9.0], [2.5, 9.0, 9.0]]


def test_text_encoder_pads_the_same_way():
    enc = TextEncoder(max_len=3, padding="post", truncating="pre").fit(["a b c d"])
    ids = enc.transform(["a b c d", "b"])
    assert (
        ids.tolist()
        == pad_sequences(
            [[enc.vocab.index(w) + 2 for w in ["a", "b", "c", "d"]], [enc.vocab.index("b") + 2]],
            3,
            padding="post",
        ).tolist()
    )


@pytest.mark.parametrize("arg", ["padding", "truncating"])
def test_bad_mode_is_a_user_error(arg):
    with pytest.raises(UserError, match=f"The '{arg}' argument must be 'pre' or 'post'"):
        pad_sequences([[1]], **{arg: "middle"})
