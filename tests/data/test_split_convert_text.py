from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.data import TextEncoder, pad_sequences, stratified_split, to_tensor_dict, tokenize


def test_stratified_split_keeps_proportions_and_is_deterministic():
    y = np.array([0] * 700 + [1] * 200 + [2] * 100)
    tr, va = stratified_split(y, 0.2, seed=3)
    assert len(va) == 200 and len(tr) == 800 and not set(tr) & set(va)
    assert np.bincount(y[va]).tolist() == [140, 40, 20]
    tr2, va2 = stratified_split(y, 0.2, seed=3)
    assert np.array_equal(va, va2) and np.array_equal(tr, tr2)
    assert not np.array_equal(va, stratified_split(y, 0.2, seed=4)[1])


def test_stratified_split_strings_onehot_and_regression():
    y = np.array(["a"] * 30 + ["b"] * 10)
    _, va = stratified_split(y, 0.5, seed=0)
    assert sorted(y[va].tolist()) == ["a"] * 15 + ["b"] * 5
    onehot = np.eye(2)[[0] * 30 + [1] * 10]
    assert np.array_equal(stratified_split(onehot, 0.5, seed=0)[1], va)
    tr, va = stratified_split(np.random.default_rng(0).normal(size=100), 0.1, seed=0)
    assert len(va) == 10 and len(tr) == 90
    with pytest.raises(ConfigError):
        stratified_split(y, 1.5, seed=0)
    with pytest.raises(DataError):
        stratified_split([0, 1], 0.1, seed=0)


def test_to_tensor_dict_conventions():
    b = to_tensor_dict(np.zeros((5, 32, 32, 3), np.uint8), np.arange(5))
    assert (
        b["x"].shape == (5, 3, 32, 32)
        and b["x"].dtype == torch.float32
        and b["y"].dtype == torch.int64
    )
    assert to_tensor_dict(np.zeros((5, 28, 28)))["x"].shape == (5, 28, 28)  # model adds the channel
    assert to_tensor_dict(torch.zeros(2, 3, 8, 8, dtype=torch.float64))["x"].shape == (2, 3, 8, 8)
    assert to_tensor_dict(np.ones(3), np.array([0.5, 1.0, 2.0]))["y"].dtype == torch.float32
    assert to_tensor_dict(np.array([[1, 2]]))["x"].dtype == torch.int64  # token ids stay integer


def test_to_tensor_dict_pandas_and_errors():
    import pandas as pd

    df = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    b = to_tensor_dict(df, pd.Series([0, 1]))
    assert b["x"].dtype == torch.float32 and b["x"].tolist() == [[1.0, 0.5], [2.0, 1.5]]
    assert b["y"].tolist() == [0, 1]
    with pytest.raises(DataError, match="non-numeric columns \\(c\\)"):
        to_tensor_dict(pd.DataFrame({"c": ["x", "y"]}))
    with pytest.raises(DataError, match="different numbers of rows"):
        to_tensor_dict(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(DataError, match="strings"):
        to_tensor_dict(np.zeros((2, 2)), np.array(["a", "b"]))


def test_tokenize_and_pad():
    assert tokenize(["Great movie!<br /><br />I didn't LIKE it", None]) == [
        ["great", "movie", "i", "didnt", "like", "it"],
        [],
    ]
    assert pad_sequences([[1, 2, 3], [4]], maxlen=2).tolist() == [[2, 3], [0, 4]]
    assert pad_sequences(
        [[1, 2, 3], [4]], maxlen=2, padding="post", truncating="post"
    ).tolist() == [[1, 2], [4, 0]]
    enc = TextEncoder(max_tokens=4, max_len=3).fit(["a a b c", "a b"])
    assert enc.vocab == ["a", "b"] and enc.transform(["c a"]).tolist() == [[0, 1, 2]]
    assert TextEncoder.from_config(enc.get_config()).transform(["b"]).tolist() == [[0, 0, 3]]
