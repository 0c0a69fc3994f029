from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

N_FILES, ROWS_PER_FILE, ROW_GROUP = 3, 200, 50  # 3 files x 4 row groups = 12 units, 600 rows


def _table(start: int, n: int) -> pa.Table:
    ids = np.arange(start, start + n, dtype=np.int64)
    return pa.table(
        {"id": ids, "x": ids * 0.5, "flag": ids % 2 == 0, "name": [f"r{i}" for i in ids]}
    )


@pytest.fixture()
def parquet_dir(tmp_path):
    root = tmp_path / "pq"
    root.mkdir()
    for f in range(N_FILES):
        pq.write_table(
            _table(f * ROWS_PER_FILE, ROWS_PER_FILE),
            root / f"part-{f}.parquet",
            row_group_size=ROW_GROUP,
        )
    return root


@pytest.fixture()
def csv_dir(tmp_path):
    root = tmp_path / "csv"
    root.mkdir()
    for f in range(N_FILES):
        pacsv.write_csv(
            _table(f * ROWS_PER_FILE, ROWS_PER_FILE).drop(["flag"]), root / f"part-{f}.csv"
        )
    return root


@pytest.fixture()
def jsonl_dir(tmp_path):
    root = tmp_path / "jsonl"
    root.mkdir()
    for f in range(N_FILES):
        rows = _table(f * ROWS_PER_FILE, ROWS_PER_FILE).drop(["flag"]).to_pylist()
        (root / f"part-{f}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def ids_of(batches) -> list[int]:
    """All ``id`` values of an iterable of batches (tensor dicts or numpy dicts), in order."""
    out: list[int] = []
    for b in batches:
        out.extend(int(v) for v in np.asarray(b["id"]).tolist())
    return out
