"""In-memory tabular data: reading files, feature typing, preprocessing, splits, conversions.

Example:
    >>> import pyarrow as pa
    >>> from deepfuse.data import Preprocessor, stratified_split
    >>> t = pa.table({"x": [0.1, 0.4, 0.35, 0.8], "y": ["a", "b", "a", "b"]})
    >>> batch = Preprocessor().fit_transform(t, "y")
    >>> tuple(batch["numeric"].shape), batch["y"].tolist()
    ((4, 1), [0, 1, 0, 1])
"""

from __future__ import annotations

from deepfuse.data.io import as_table, read_table
from deepfuse.data.preprocessor import Preprocessor
from deepfuse.data.schema import FEATURE_TYPES, FeatureSpec, Schema, TargetSpec, infer_schema
from deepfuse.data.split import stratified_split
from deepfuse.data.streaming import (
    LazyDataset,
    read_csv,
    read_images,
    read_jsonl,
    read_parquet,
    read_text,
    scan_csv,
    scan_images,
    scan_jsonl,
    scan_parquet,
    scan_text,
)
from deepfuse.data.tensors import to_tensor, to_tensor_dict
from deepfuse.data.text import TextEncoder, pad_sequences, tokenize

__all__ = [
    "FEATURE_TYPES",
    "FeatureSpec",
    "LazyDataset",
    "Preprocessor",
    "Schema",
    "TargetSpec",
    "TextEncoder",
    "as_table",
    "infer_schema",
    "pad_sequences",
    "read_csv",
    "read_images",
    "read_jsonl",
    "read_parquet",
    "read_table",
    "read_text",
    "scan_csv",
    "scan_images",
    "scan_jsonl",
    "scan_parquet",
    "scan_text",
    "stratified_split",
    "to_tensor",
    "to_tensor_dict",
    "tokenize",
]
