"""Sources (parquet/csv/jsonl; path, glob, directory, list), eager twins and transforms."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import torch

from conftest import N_FILES, ROWS_PER_FILE, ids_of
from deepfuse.data.streaming import (
    LazyDataset,
    read_csv,
    read_jsonl,
    read_parquet,
    scan_csv,
    scan_jsonl,
    scan_parquet,
)
from deepfuse.data.streaming.prefetch import prefetch

TOTAL = N_FILES * ROWS_PER_FILE


@pytest.mark.parametrize(
    "scan,fixture",
    [(scan_parquet, "parquet_dir"), (scan_csv, "csv_dir"), (scan_jsonl, "jsonl_dir")],
)
def test_each_format_streams_every_row(scan, fixture, request):
    root = request.getfixturevalue(fixture)
    ds = scan(root, columns=["id", "x"], read_batch_size=32)
    assert isinstance(ds, LazyDataset)
    for world in (1, 2, 4):
        seen = []
        for rank in range(world):
            seen += ids_of(ds.shuffle(50, seed=1).shard(rank, world, even=False).batch(16))
        assert sorted(seen) == list(range(TOTAL))


def test_glob_directory_file_and_list(parquet_dir):
    files = sorted(parquet_dir.glob("*.parquet"))
    by_dir = read_parquet(parquet_dir)
    by_glob = read_parquet(str(parquet_dir / "part-*.parquet"))
    by_list = read_parquet([files[2], files[0]])
    by_file = read_parquet(files[1], columns=["id"])
    assert by_dir.num_rows == by_glob.num_rows == TOTAL
    assert by_list.column("id").to_pylist()[:2] == [400, 401]  # list order kept
    assert by_file.column_names == ["id"] and by_file.num_rows == ROWS_PER_FILE


def test_eager_twins(csv_dir, jsonl_dir):
    a = read_csv(csv_dir, filter=pc.field("id") < 10)
    b = read_jsonl(str(jsonl_dir / "*.jsonl"), columns=["id", "name"])
    assert a.column("id").to_pylist() == list(range(10))
    assert b.num_rows == TOTAL and b.column("name")[3].as_py() == "r3"


def test_missing_source_and_column(tmp_path, parquet_dir):
    with pytest.raises(ValueError, match="does not exist"):
        scan_parquet(tmp_path / "nope")
    with pytest.raises(ValueError, match="matched no parquet"):
        scan_parquet(str(tmp_path / "*.parquet"))
    with pytest.raises(ValueError, match="not in the source"):
        scan_parquet(parquet_dir, columns=["id", "oops"])


def test_filter_expression_pushed_down_and_callable(parquet_dir):
    ds = scan_parquet(parquet_dir, columns=["id"], read_batch_size=16)
    pushed = ds.filter((pc.field("id") >= 100) & (pc.field("id") < 450))
    assert pushed._source.filter is not None and not pushed._ops
    assert ids_of(pushed.batch(20)) == list(range(100, 450))
    numpy_fn = ds.filter(lambda b: b["id"] % 3 == 0)
    arrow_fn = ds.filter(lambda rb: pc.equal(pc.bit_wise_and(rb["id"], 1), 0), batch_format="arrow")
    assert ids_of(numpy_fn.batch(20)) == list(range(0, TOTAL, 3))
    assert ids_of(arrow_fn.batch(20)) == list(range(0, TOTAL, 2))
    after_map = ds.map(lambda b: b).filter(pc.field("id") < 5)  # expression after a map
    assert ids_of(after_map.batch(4)) == [0, 1, 2, 3, 4]


def test_even_shards_with_pushed_filter(parquet_dir):
    ds = scan_parquet(parquet_dir, columns=["id"], filter=pc.field("id") < 300)
    counts = [len(list(ds.shuffle(30, seed=0).shard(r, 3).batch(10))) for r in range(3)]
    assert counts == [10, 10, 10]  # 300 rows / 3 ranks / 10


def test_map_numpy_and_arrow_and_select(parquet_dir):
    ds = scan_parquet(parquet_dir, read_batch_size=64)
    doubled = ds.map(lambda b: {"id": b["id"], "y": b["x"] * 2}).batch(600)
    (batch,) = list(doubled)
    assert set(batch) == {"id", "y"}
    torch.testing.assert_close(batch["y"], batch["id"].to(torch.float32))

    def arrow_fn(rb: pa.RecordBatch) -> pa.RecordBatch:
        return rb.append_column("z", pc.add(rb["id"], 1))

    (b2,) = list(ds.map(arrow_fn, batch_format="arrow").select(["z"]).batch(600))
    assert list(b2) == ["z"] and b2["z"][0].item() == 1
    with pytest.raises(ValueError, match="map function returned"):
        list(ds.map(lambda b: 3).batch(10))


def test_tensor_types_and_to_tensor_hook(parquet_dir):
    ds = scan_parquet(parquet_dir).batch(8)
    with pytest.raises(ValueError, match="'name' has non-numeric"):
        next(iter(ds))
    hooked = scan_parquet(parquet_dir).batch(
        8, to_tensor=lambda n, a: torch.tensor([len(s) for s in a])
    )
    b = next(iter(hooked))
    assert b["x"].dtype == torch.float32 and b["id"].dtype == torch.int64
    # bools follow the one rule (deepfuse.data.tensors): float32 0/1, as features and targets
    assert b["flag"].dtype == torch.float32
    assert torch.equal(b["flag"], (b["id"] % 2 == 0).to(torch.float32))
    assert b["name"].tolist()[:2] == [2, 2]


def test_unbatched_iteration_and_collect(parquet_dir):
    ds = scan_parquet(parquet_dir, columns=["id"]).shuffle(100, seed=3)
    chunks = list(ds)
    assert all(isinstance(c["id"], np.ndarray) for c in chunks)
    assert sorted(ids_of(chunks)) == list(range(TOTAL))
    table = ds.filter(lambda b: b["id"] < 7).collect()
    assert sorted(table.column("id").to_pylist()) == list(range(7))


def test_transforms_are_immutable(parquet_dir):
    base = scan_parquet(parquet_dir, columns=["id"])
    base.shuffle(10, seed=0).batch(5).shard(0, 2)
    assert base._shuffle is None and base._batch is None and base._shard.world_size == 1
    assert "shuffle(10" in repr(base.shuffle(10, seed=0))


def test_prefetch_forwards_errors_and_stops():
    def boom():
        yield 1
        raise RuntimeError("bad file")

    gen = prefetch(boom(), 2)
    assert next(gen) == 1
    with pytest.raises(RuntimeError, match="bad file"):
        next(gen)
    early = prefetch(iter(range(10**6)), 4)
    assert next(early) == 0
    early.close()  # must not hang
