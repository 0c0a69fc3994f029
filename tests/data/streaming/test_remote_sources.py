"""fsspec URLs (memory://, file://) for the streaming sources, and the missing-extra message."""

from __future__ import annotations

import io
import json
import sys
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from PIL import Image

from deepfuse._utils.errors import DataError, MissingDependencyError
from deepfuse.data.streaming import (
    read_csv,
    read_jsonl,
    read_parquet,
    resolve_paths,
    scan_images,
    scan_parquet,
    scan_text,
)

fsspec = pytest.importorskip("fsspec")


@pytest.fixture()
def mem():
    """A fresh folder on fsspec's in-process memory filesystem: ``(fs, "/root-xyz")``."""
    fs = fsspec.filesystem("memory")
    root = f"/t-{uuid.uuid4().hex[:8]}"
    yield fs, root
    fs.rm(root, recursive=True)


def _table(start: int, n: int) -> pa.Table:
    ids = np.arange(start, start + n, dtype=np.int64)
    return pa.table({"id": ids, "x": ids * 0.5, "name": [f"r{i}" for i in ids]})


def test_memory_parquet_glob_reads_like_the_local_files(mem, tmp_path):
    fs, root = mem
    for f in range(3):
        pq.write_table(_table(f * 40, 40), tmp_path / f"part-{f}.parquet", row_group_size=10)
        fs.put(str(tmp_path / f"part-{f}.parquet"), f"{root}/data/part-{f}.parquet")
    fs.pipe(f"{root}/data/_SUCCESS", b"")  # not matched by the glob
    local = read_parquet(str(tmp_path / "*.parquet"))
    remote = read_parquet(f"memory://{root}/data/*.parquet")
    assert remote.equals(local)
    assert read_parquet(f"memory://{root}/data").equals(local)  # folder: by extension
    # projection, filter, shuffle and shards work unchanged through the fsspec filesystem
    ids = []
    for rank in range(2):
        ds = scan_parquet(f"memory://{root}/data/*.parquet", columns=["id"])
        ds = ds.filter(pc.field("id") >= 30).shuffle(7, seed=0).shard(rank, 2, even=False)
        ids += [int(v) for chunk in ds for v in chunk["id"]]
    assert sorted(ids) == list(range(30, 120))
    assert resolve_paths(f"memory://{root}/data/*.parquet", "parquet") == [
        f"memory://{root}/data/part-{f}.parquet" for f in range(3)
    ]


def test_memory_csv_and_jsonl_and_file_urls(mem, tmp_path):
    fs, root = mem
    table = _table(0, 25)
    buf = io.BytesIO()
    pacsv.write_csv(table, buf)
    fs.pipe(f"{root}/a.csv", buf.getvalue())
    fs.pipe(f"{root}/a.jsonl", "".join(json.dumps(r) + "\n" for r in table.to_pylist()).encode())
    assert read_csv(f"memory://{root}/a.csv").equals(table)
    assert read_jsonl(f"memory://{root}/*.jsonl").equals(table)
    pq.write_table(table, tmp_path / "t.parquet")
    assert read_parquet(f"file://{tmp_path}/t.parquet").equals(table)


def test_memory_images_and_text_folders(mem):
    fs, root = mem
    for i in range(6):
        out = io.BytesIO()
        Image.fromarray(np.full((4, 5), i * 40, np.uint8), mode="L").save(out, format="PNG")
        fs.pipe(f"{root}/img/{'ab'[i % 2]}/{i}.png", out.getvalue())
    fs.pipe(f"{root}/img/b/bad.png", b"junk")
    ds = scan_images(f"memory://{root}/img", mode="L")
    batch = next(iter(ds.batch(10)))
    pixel = [round(float(v) * 255) for v in batch["x"][:, 0, 0, 0]]
    assert pixel == [0, 80, 160, 40, 120, 200] and batch["y"].tolist() == [0, 0, 0, 1, 1, 1]
    assert [r["reason"] for r in ds.quarantined] == ["corrupt_image"]
    fs.pipe(f"{root}/txt/a.txt", b"one\ntwo\n")
    fs.pipe(f"{root}/txt/b.txt", b"three")
    lines = [t for c in scan_text(f"memory://{root}/txt", mode="lines") for t in c["text"]]
    assert lines == ["one", "two", "three"]


def test_url_errors_are_clear(mem, tmp_path):
    fs, root = mem
    with pytest.raises(DataError, match="does not exist"):
        scan_parquet(f"memory://{root}/nothing.parquet")
    with pytest.raises(DataError, match="matched no parquet"):
        fs.pipe(f"{root}/x.txt", b"")
        scan_parquet(f"memory://{root}/*.parquet")
    with pytest.raises(DataError, match="mixed local paths and URLs"):
        scan_parquet([str(tmp_path / "a.parquet"), f"memory://{root}/a.parquet"])


def test_missing_fsspec_names_the_cloud_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)  # `import fsspec` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'deepfuse\[cloud\]'"):
        scan_parquet("s3://bucket/data/*.parquet")
    with pytest.raises(MissingDependencyError, match="fsspec"):
        scan_images("gs://bucket/photos")
