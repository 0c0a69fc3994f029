"""A streamed Parquet dataset trains a model through the ordinary ``fit``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import deepfuse as df
from deepfuse._utils.errors import DataError


def _write(folder, rows=2000, features=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    table = pa.table({**{f"f{i}": x[:, i] for i in range(features)}, "label": y})
    for part in range(2):
        half = table.slice(part * rows // 2, rows // 2)
        pq.write_table(half, folder / f"part-{part}.parquet", row_group_size=250)
    return x, y


def test_fit_on_a_streamed_parquet_dataset(tmp_path):
    x, y = _write(tmp_path)
    ds = df.data.scan_parquet(tmp_path).shuffle(500, seed=0).batch(64, target="label")
    first = next(iter(ds))
    assert first["x"].shape == (64, 8) and first["x"].dtype == torch.float32
    assert first["y"].dtype == torch.int64
    model = df.Sequential([df.layers.Dense(16, activation="relu"), df.layers.Dense(2)])
    model.compile(
        optimizer={"name": "adam", "lr": 0.01}, loss="cross_entropy", metrics=["accuracy"]
    )
    hist = model.fit(ds, epochs=3, verbose=0, seed=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    # The same rows in memory give the same accuracy as the streamed evaluation.
    streamed = model.evaluate(df.data.scan_parquet(tmp_path).batch(256, target="label"))
    in_memory = model.evaluate(x, y)
    assert streamed["accuracy"] == pytest.approx(in_memory["accuracy"])
    assert in_memory["accuracy"] > 0.9


def test_features_select_and_order(tmp_path):
    _write(tmp_path)
    ds = df.data.scan_parquet(tmp_path).batch(10, target="label", features=["f3", "f1"])
    batch = next(iter(ds))
    table = pq.read_table(tmp_path / "part-0.parquet").slice(0, 10)
    np.testing.assert_array_equal(batch["x"][:, 0].numpy(), table.column("f3").to_numpy())
    np.testing.assert_array_equal(batch["x"][:, 1].numpy(), table.column("f1").to_numpy())


def test_unknown_target_or_feature_is_a_data_error(tmp_path):
    _write(tmp_path)
    with pytest.raises(DataError, match="Target column 'nope'"):
        next(iter(df.data.scan_parquet(tmp_path).batch(10, target="nope")))
    with pytest.raises(DataError, match="Feature columns"):
        next(iter(df.data.scan_parquet(tmp_path).batch(10, target="label", features=["zz"])))
