"""Streaming data: lazy Parquet / CSV / JSON-lines / image / text sources with bounded memory.

Example:
    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> from deepfuse.data.streaming import scan_parquet
    >>> folder = tempfile.mkdtemp()
    >>> table = pa.table({"x": [float(i) for i in range(10)], "label": list(range(10))})
    >>> pq.write_table(table, f"{folder}/part-0.parquet", row_group_size=4)
    >>> ds = scan_parquet(f"{folder}/*.parquet").shuffle(8, seed=0).batch(4).prefetch(2)
    >>> batches = list(ds)
    >>> sorted(int(v) for b in batches for v in b["label"])  # every row exactly once
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
"""

from __future__ import annotations

from deepfuse.data.streaming.dataset import LazyDataset, columns_to_tensors
from deepfuse.data.streaming.images import read_images, scan_images
from deepfuse.data.streaming.listing import FileDataset
from deepfuse.data.streaming.paths import resolve_paths
from deepfuse.data.streaming.plan import ShardSpec
from deepfuse.data.streaming.scans import (
    read_csv,
    read_jsonl,
    read_parquet,
    scan_csv,
    scan_jsonl,
    scan_parquet,
)
from deepfuse.data.streaming.sources import Source
from deepfuse.data.streaming.text import read_text, scan_text

__all__ = [
    "FileDataset",
    "LazyDataset",
    "ShardSpec",
    "Source",
    "columns_to_tensors",
    "read_csv",
    "read_images",
    "read_jsonl",
    "read_parquet",
    "read_text",
    "resolve_paths",
    "scan_csv",
    "scan_images",
    "scan_jsonl",
    "scan_parquet",
    "scan_text",
]
