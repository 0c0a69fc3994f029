from __future__ import annotations

import gzip
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import deepfuse.datasets as dsets
from deepfuse._utils.errors import DataError
from deepfuse.datasets._files import VENDOR_DIR


def test_mnist_vendored_needs_no_setup(no_data_dir):
    (x, y), (xt, yt) = dsets.load_mnist()
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8 and x.flags.writeable
    assert xt.shape == (10000, 28, 28) and y.dtype == np.int64 and yt.dtype == np.int64
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(yt).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(x.mean() - 33.32) < 0.01


def test_fashion_mnist(shared_dir):
    (x, y), (xt, yt) = dsets.load_fashion_mnist()
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(yt).tolist() == [1000] * 10
    assert len(dsets.FASHION_MNIST_CLASSES) == 10


def test_imdb_texts(shared_dir):
    (x, y), (xt, yt) = dsets.load_imdb()
    assert len(x) == len(xt) == 25000 and isinstance(x[0], str)
    assert y.dtype == np.int64 and y.sum() == yt.sum() == 12500
    assert 0 < y[:1000].mean() < 1  # shuffled: not sorted by label


def test_imdb_sequences_and_table(shared_dir, monkeypatch):
    import deepfuse.datasets.imdb as imdb_module

    full = imdb_module._read(None)
    train, test = dsets.load_imdb(as_table=True)
    assert train.column_names == ["review", "sentiment", "split", "file_id", "rating"]
    assert train.num_rows == test.num_rows == 25000
    # Tokenising 50k reviews takes seconds; the sequence logic is checked on a slice.
    small = pa.concat_tables([full.slice(0, 1000), full.slice(49000)])
    monkeypatch.setattr(imdb_module, "_read", lambda data_dir: small)
    (x, _), (xt, _) = dsets.load_imdb(num_words=500, maxlen=30)
    assert len(x) == len(xt) == 1000
    assert max(len(s) for s in x) == 30 and max(int(s.max()) for s in x) == 499
    assert min(int(s.min()) for s in x if len(s)) >= 1  # 0 is reserved for padding


def test_adult(shared_dir):
    train, test = dsets.load_adult()
    assert (train.num_rows, test.num_rows) == (32561, 16281)
    assert train.column_names == list(dsets.ADULT_COLUMNS)
    for t, counts in (
        (train, {"<=50K": 24720, ">50K": 7841}),
        (test, {"<=50K": 12435, ">50K": 3846}),
    ):
        vc = {d["values"]: d["counts"] for d in pc.value_counts(t["income"]).to_pylist()}
        assert vc == counts
    missing_rows = train.to_pandas().isna().any(axis=1).sum()
    assert missing_rows == 2399 and test.to_pandas().isna().any(axis=1).sum() == 1221
    assert train["age"].type == "int64" and train["workclass"].type == "string"


def test_files_directly_in_data_dir_and_set_data_dir(shared_dir, tmp_path, monkeypatch):
    for name in ("adult.data.gz", "adult.test.gz"):
        shutil.copy(shared_dir / "adult" / name, tmp_path / name)
    monkeypatch.delenv(dsets.ENV_VAR)
    assert dsets.load_adult(data_dir=tmp_path)[0].num_rows == 32561
    dsets.set_data_dir(tmp_path)
    assert dsets.load_adult()[1].num_rows == 16281


def test_missing_file_message(no_data_dir, tmp_path):
    with pytest.raises(DataError) as e:
        dsets.load_imdb(data_dir=tmp_path)
    msg = str(e.value)
    assert "imdb_reviews.csv.gz" in msg and str(tmp_path / "imdb") in msg
    assert "$DEEPFUSE_DATA_DIR/imdb/" in msg and "\n" not in msg


def test_missing_file_without_any_folder(no_data_dir):
    with pytest.raises(DataError, match=r"none \(no data folder is set\).*fashion-mnist/"):
        dsets.load_fashion_mnist()


def test_sha256_mismatch_names_file_and_hashes(no_data_dir, tmp_path):
    (tmp_path / "adult").mkdir()
    bad = tmp_path / "adult" / "adult.data.gz"
    bad.write_bytes(gzip.compress(b"39, State-gov, 77516\n"))
    with pytest.raises(DataError) as e:
        dsets.load_adult(data_dir=tmp_path)
    msg = str(e.value)
    assert str(bad) in msg
    assert "c7a2b4716a97f930123e0baf879188d701e798172631a654fc703d4b082907f3" in msg
    from deepfuse.datasets._files import sha256_of

    assert sha256_of(bad) in msg


def test_mnist_corrupt_copy_in_data_dir_is_rejected(no_data_dir, tmp_path):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"junk")
    with pytest.raises(DataError, match="sha256 expected 440fcabf"):
        dsets.load_mnist(data_dir=tmp_path)


def test_read_idx_checks_magic(tmp_path):
    src = VENDOR_DIR / "mnist" / "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(DataError, match="magic number 0x00000801, expected 0x00000803"):
        dsets.read_idx(src, magic=0x803)
    truncated = tmp_path / "t.gz"
    truncated.write_bytes(gzip.compress(gzip.decompress(src.read_bytes())[:100]))
    with pytest.raises(DataError, match="data bytes"):
        dsets.read_idx(truncated)
