"""The streaming route of the data section: positional splits, the auto switch, configs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.config import validate
from deepfuse.data.formats import format_of
from deepfuse.data.routes.positional import RangeSource, split_by_position
from deepfuse.data.routes.streamed import should_stream, stream_threshold_bytes
from deepfuse.data.streaming import scan_csv, scan_parquet


@pytest.fixture
def parquet_dir(tmp_path):
    """3 files x 4 row groups of uneven sizes, 1,000 rows; ``id`` numbers every row."""
    sizes = [100, 250, 400, 250]
    start = 0
    for f, n in enumerate(sizes):
        ids = np.arange(start, start + n)
        table = pa.table({"id": ids, "x": ids * 0.5, "y": ids % 3})
        pq.write_table(table, tmp_path / f"part-{f}.parquet", row_group_size=max(n // 4, 1) + 1)
        start += n
    return tmp_path


def _ids(ds) -> list[int]:
    return [int(v) for chunk in ds for v in chunk["id"]]


def _split(ds, fractions, limit=None):
    parts = split_by_position(ds._source, fractions, limit)
    return [ds._with(_source=p) for p in parts], parts


def test_positional_split_is_disjoint_and_complete(parquet_dir):
    ds = scan_parquet(parquet_dir)
    (train, val, test), parts = _split(ds, (0.1, 0.2))
    a, b, c = _ids(train), _ids(val), _ids(test)
    assert sorted(a + b + c) == list(range(1000))  # every row in exactly one split
    assert len(b) == 100 and len(c) == 200  # shares hold overall (running-total rounding)
    assert [p.total_rows() for p in parts] == [len(a), len(b), len(c)]
    # held out by position: the tail of every unit, so validation spans the whole dataset
    assert min(b) < 200 and max(b) > 800


def test_positional_split_stays_exact_under_shuffle_shard_and_resume(parquet_dir):
    (train, _, _), _ = _split(scan_parquet(parquet_dir), (0.1, 0.2))
    expected = sorted(_ids(train))
    shards = [train.shuffle(64, seed=3).shard(r, 2, even=False).batch(32) for r in range(2)]
    got = [int(v) for s in shards for b in s for v in b["id"]]
    assert sorted(got) == expected
    # mid-epoch save/restore on a split source yields exactly the remaining rows
    ds = train.shuffle(64, seed=1).batch(16)
    it = iter(ds)
    head = [int(v) for _ in range(7) for v in next(it)["id"]]
    state = ds.state_dict()
    fresh = train.shuffle(64, seed=1).batch(16)
    fresh.load_state_dict(state)
    tail = [int(v) for b in fresh for v in b["id"]]
    assert sorted(head + tail) == expected and len(head + tail) == len(expected)


def test_limit_takes_the_first_rows_before_splitting(parquet_dir):
    (train, val, test), _ = _split(scan_parquet(parquet_dir), (0.1, 0.1), limit=300)
    assert sorted(_ids(train) + _ids(val) + _ids(test)) == list(range(300))


def test_split_of_csv_counts_rows(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,y\n" + "".join(f"{i},{i % 2}\n" for i in range(50)))
    (train, val, test), _ = _split(scan_csv(path), (0.2, 0.2))
    assert (len(_ids(train)), len(_ids(val)), len(_ids(test))) == (30, 10, 10)
    assert sorted(_ids(train) + _ids(val) + _ids(test)) == list(range(50))


def test_range_source_refuses_a_later_pushed_down_filter(parquet_dir):
    import pyarrow.compute as pc

    src = RangeSource(scan_parquet(parquet_dir)._source, [(0, 0, 10)])
    with pytest.raises(DataError, match="split by position"):
        src.with_options(filter=pc.field("id") > 3)
    assert src.with_options(columns=["id"]).total_rows() == 10


def test_auto_switch_by_size(parquet_dir):
    data = {"train": str(parquet_dir / "*.parquet"), "target": "y"}
    assert should_stream(data) is False  # a few KB: the in-memory route
    assert should_stream({**data, "stream_threshold_mb": 0.001}) is True  # ~1 KB threshold
    assert should_stream({**data, "streaming": True}) is True
    assert should_stream({**data, "streaming": False, "stream_threshold_mb": 0.001}) is False
    assert stream_threshold_bytes({}) <= 2**30


def test_streaming_option_errors(tmp_path):
    with pytest.raises(ConfigError, match="auto, true, false"):
        should_stream({"train": "x.parquet", "streaming": "yes"})
    with pytest.raises(ConfigError, match="built-in dataset"):
        should_stream({"dataset": "mnist", "streaming": True})
    with pytest.raises(ConfigError, match=r"data\.streaming"):
        validate({"data": {"train": "x.parquet", "target": "y", "streaming": "always"}})
    with pytest.raises(ConfigError, match=r"data\.shuffle_buffer"):
        validate({"data": {"train": "x.parquet", "target": "y", "shuffle_buffer": 0}})
    with pytest.raises(DataError, match="format"):
        format_of("data/table.xlsx")
    (tmp_path / "a.csv").write_text("x,y\n1,0\n")
    assert format_of(tmp_path) == "csv" and format_of("shards/*") == "parquet"
