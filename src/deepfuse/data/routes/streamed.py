"""Tables streamed: big files become lazy, preprocessed batches (the ``table_streamed`` route).

``data.train: data/clicks/*.parquet`` (or CSV / JSON lines) is streamed instead of loaded when
``data.streaming`` is ``true``, or when it is ``auto`` (the default) and the training files are
larger than ``data.stream_threshold_mb`` (default: the smaller of 1 GiB and an eighth of the
memory available when the run starts). Small data keeps the fast in-memory route.

Streaming, nothing is ever held whole:

* the :class:`~deepfuse.data.Preprocessor` is fitted in one bounded-memory pass over the training
  rows (see ``Preprocessor.fit`` on a lazy dataset);
* validation and test rows are held out *by position*: the last ``validation_split`` (and, without
  a test file, ``test_split``) share of every unit (Parquet row group or CSV/JSON file). Counts
  come from Parquet metadata (a counting pass for text formats), so the three splits are disjoint,
  cover every row, and are the same for every run over the same files;
* training batches are shuffled with a bounded window (``data.shuffle_buffer`` rows) and a
  per-epoch unit order, both derived from the run's seed.

Example:
    >>> import tempfile, numpy as np, pyarrow as pa, pyarrow.parquet as pq
    >>> folder = tempfile.mkdtemp()
    >>> rng = np.random.default_rng(0)
    >>> table = pa.table({"a": rng.normal(size=200), "y": rng.integers(0, 2, 200)})
    >>> pq.write_table(table, f"{folder}/part-0.parquet", row_group_size=50)
    >>> data = {"train": f"{folder}/*.parquet", "target": "y", "streaming": True,
    ...         "validation_split": 0.1, "test_split": 0.2}
    >>> p = TableStreamed().prepare(data, seed=0, batch_size=32)
    >>> p.rows
    {'train': 140, 'validation': 20, 'test': 40}
    >>> sorted(next(iter(p.train)))
    ['numeric', 'y']
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from deepfuse._utils.errors import ConfigError, DataError, did_you_mean
from deepfuse.data.formats import format_of
from deepfuse.data.routes.base import FoldRows, Prepared, register_route
from deepfuse.data.routes.positional import split_by_position
from deepfuse.data.routes.tables import (
    BuiltinTable,
    TableInMemory,
    make_preprocessor,
    prepared_table,
)
from deepfuse.data.streaming import LazyDataset, Source, resolve_paths

__all__ = [
    "STREAM_DEFAULTS",
    "TableStreamed",
    "should_stream",
    "stream_threshold_bytes",
]

#: Defaults of the streaming keys of the ``data`` section.
STREAM_DEFAULTS: dict[str, Any] = {
    "streaming": "auto",
    "shuffle_buffer": 100_000,
    "stream_threshold_mb": None,
}


def available_memory_bytes() -> int | None:
    """Memory the OS could give this process now (Linux ``MemAvailable``), or ``None``."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def stream_threshold_bytes(data: Mapping[str, Any]) -> int:
    """Training-file size above which ``streaming: auto`` streams.

    ``data.stream_threshold_mb`` when set; otherwise ``min(1 GiB, available memory / 8)``: a
    table costs several times its on-disk size once decoded, split and converted to tensors.

    Example:
        >>> stream_threshold_bytes({"stream_threshold_mb": 64})
        67108864
    """
    mb = data.get("stream_threshold_mb")
    if mb is not None:
        return int(float(mb) * 2**20)
    available = available_memory_bytes()
    return min(2**30, available // 8) if available else 2**30


def should_stream(data: Mapping[str, Any]) -> bool:
    """Whether the ``data`` section takes the streaming route.

    Raises:
        ConfigError: ``data.streaming`` is not ``auto``/``true``/``false``, or streaming is
            asked for a built-in dataset.

    Example:
        >>> should_stream({"dataset": "mnist"}), should_stream({"train": "x.csv", "streaming": True})
        (False, True)
    """
    mode = data.get("streaming", "auto")
    if not (mode == "auto" or isinstance(mode, bool)):
        raise ConfigError(
            f"Invalid value for 'data.streaming': {mode!r}. Allowed values: auto, true, false."
        )
    if data.get("dataset") is not None:
        if mode is True:
            raise ConfigError(
                "'data.streaming: true' needs your own files in 'data.train'; the built-in "
                f"dataset {data['dataset']!r} is loaded in memory. Remove 'data.streaming'."
            )
        return False
    if isinstance(mode, bool):
        return mode
    fmt = format_of(str(data["train"]))
    files = resolve_paths(str(data["train"]), fmt)
    size = sum(os.path.getsize(f) for f in files)
    return size > stream_threshold_bytes(data)


# ----------------------------------------------------------------------------- the route


def _scan(path: str, data: Mapping[str, Any], columns: list[str] | None = None) -> LazyDataset:
    from deepfuse.data import streaming

    fmt = format_of(path)
    if fmt == "csv":  # data.encoding / data.delimiter: the rules read_table applies too
        dialect = {"encoding": data.get("encoding"), "delimiter": data.get("delimiter")}
        return streaming.scan_csv(path, columns=columns, **dialect)
    scan = {"parquet": streaming.scan_parquet, "json": streaming.scan_jsonl}[fmt]
    return scan(path, columns=columns)


def _with_source(ds: LazyDataset, source: Source) -> LazyDataset:
    return ds._with(_source=source)


def _splits(data: Mapping[str, Any]) -> tuple[LazyDataset, LazyDataset, LazyDataset, dict]:
    """``(train, validation, test)`` unbatched streams and their row counts."""
    target = data.get("target")
    full = _scan(str(data["train"]), data)
    names = full.schema.names
    if target not in names:
        raise DataError(
            f"The target column {target!r} is not in {data['train']}. Columns: "
            f"{', '.join(repr(c) for c in names[:20])}.{did_you_mean(str(target), names)}"
        )
    has_test = bool(data.get("test"))
    val_share = float(data.get("validation_split") or 0.0)
    test_share = 0.0 if has_test else float(data.get("test_split") or 0.2)
    train_src, val_src, test_src = split_by_position(
        full._source, (val_share, test_share), data.get("limit")
    )
    if has_test:
        test_ds = _scan(str(data["test"]), data)
        if target not in test_ds.schema.names:
            raise DataError(
                f"The target column {target!r} is not in {data['test']}. Columns: "
                f"{', '.join(repr(c) for c in test_ds.schema.names[:20])}."
            )
        test_rows = sum(test_ds._source.count(u) for u in range(len(test_ds._source.units)))
    else:
        test_ds, test_rows = _with_source(full, test_src), test_src.total_rows()
    rows = {"train": train_src.total_rows(), "validation": val_src.total_rows(), "test": test_rows}
    for split, n in rows.items():
        if n == 0 and (split != "validation" or val_share > 0):
            raise DataError(
                f"The streamed {split} split has no rows ({data['train']}: "
                f"{sum(rows.values())} rows in all). Provide more rows or lower the split share."
            )
    return _with_source(full, train_src), _with_source(full, val_src), test_ds, rows


# Asked before the built-in tables: 'streaming: true' on one of them is a config error.
@register_route(before=BuiltinTable)
class TableStreamed(TableInMemory):
    """``data.train`` streamed (``data.streaming: true``, or ``auto`` and big files).

    Raw rows of a user's file (``predict``, ``evaluate --data``) go through the saved
    Preprocessor as for :class:`TableInMemory`.
    """

    name = "table_streamed"

    @classmethod
    def matches(cls, data: Mapping[str, Any]) -> bool:
        return should_stream(data)

    def prepare(self, data: Mapping[str, Any], *, seed: int, batch_size: int) -> Prepared:
        """The splits as lazy batch streams; ``rows`` holds their row counts.

        Raises:
            DataError: Unknown target column, empty split, bad files.
        """
        target = data["target"]
        train_ds, val_ds, test_ds, rows = _splits(data)
        pre = make_preprocessor(data)
        pre.fit(train_ds, target)  # one bounded-memory pass over the training rows
        collate = pre.collate
        buffer = int(data.get("shuffle_buffer") or STREAM_DEFAULTS["shuffle_buffer"])
        train = train_ds.shuffle(buffer, seed=seed).batch(batch_size, collate=collate).prefetch(4)
        val = val_ds.batch(batch_size, collate=collate).prefetch(2) if rows["validation"] else None
        test = test_ds.batch(batch_size, collate=collate).prefetch(2)
        return prepared_table(pre, target, train, val, test, rows=rows)

    def test_feed(
        self, data: Mapping[str, Any], *, seed: int, preprocessor: Any, batch_size: int = 1024
    ) -> Any:
        """The test split as batches made by the run's fitted preprocessor."""
        _, _, test, _ = _splits(data)
        return test.batch(batch_size, collate=preprocessor.collate).prefetch(2)

    def fold_rows(self, data: Mapping[str, Any]) -> FoldRows:
        raise ConfigError(
            "'deepfuse cv' holds the training rows in memory, but data.streaming is true. "
            "Set data.streaming=false (and data.limit=N to use the first N rows)."
        )
