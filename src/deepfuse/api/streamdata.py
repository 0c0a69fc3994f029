"""The streaming route of a config's ``data`` section: big files become lazy, preprocessed batches.

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
    >>> p = prepare_streaming(data, seed=0, batch_size=32)
    >>> p.rows
    {'train': 140, 'validation': 20, 'test': 40}
    >>> sorted(next(iter(p.train)))
    ['numeric', 'y']
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from deepfuse._utils.errors import ConfigError, DataError, did_you_mean
from deepfuse.data.streaming import LazyDataset, Source, resolve_paths

__all__ = [
    "STREAM_DEFAULTS",
    "RangeSource",
    "prepare_streaming",
    "should_stream",
    "split_by_position",
    "stream_threshold_bytes",
]

#: Defaults of the streaming keys of the ``data`` section.
STREAM_DEFAULTS: dict[str, Any] = {
    "streaming": "auto",
    "shuffle_buffer": 100_000,
    "stream_threshold_mb": None,
}
_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".csv.gz": "csv",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
    ".jsonl.gz": "json",
}


# ----------------------------------------------------------------------------- choosing the route


def format_of(path: str) -> str:
    """``"parquet"``, ``"csv"`` or ``"json"`` from a file name, glob or directory.

    A directory or a glob ending in ``*`` is taken as Parquet (what ``deepfuse prepare`` writes).

    Example:
        >>> format_of("data/*.parquet"), format_of("logs/2024-*.jsonl"), format_of("x.csv.gz")
        ('parquet', 'json', 'csv')
    """
    name = os.fspath(path).lower().rstrip("/")
    for ext in sorted(_FORMATS, key=len, reverse=True):  # .csv.gz before .gz-less suffixes
        if name.endswith(ext):
            return _FORMATS[ext]
    if os.path.isdir(path):  # a folder: the format of the first data file in it
        for entry in sorted(os.listdir(path)):
            if not entry.startswith((".", "_")):
                for ext in sorted(_FORMATS, key=len, reverse=True):
                    if entry.lower().endswith(ext):
                        return _FORMATS[ext]
    if name.endswith("*"):
        return "parquet"
    raise DataError(
        f"Cannot tell the format of '{path}' for streaming: expected a name ending in "
        f"{', '.join(sorted(_FORMATS))}, or a folder of Parquet files."
    )


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


# ----------------------------------------------------------------------------- positional splits


class RangeSource(Source):
    """A :class:`Source` whose units are row ranges ``[lo, hi)`` of another source's units.

    Used to hold out validation/test rows by position without reading them: every range is a
    unit of its own, so shuffling, sharding and exact resume work unchanged.

    Args:
        base: The source whose units are cut.
        ranges: ``(base unit, lo, hi)`` triples; ``lo``/``hi`` count rows after the filter.

    Example:
        >>> sub = RangeSource(src, [(0, 0, 90), (1, 0, 90)])  # doctest: +SKIP
    """

    def __init__(self, base: Source, ranges: list[tuple[int, int, int]]) -> None:
        # the row checker is shared: bad rows met through any split land in one quarantine report
        super().__init__(base.dataset, base.fmt, base.columns, base.filter, rows=base.rows)
        self.base = base
        self.ranges = [r for r in ranges if r[2] > r[1]]

    def with_options(
        self, columns: list[str] | None = None, filter: Any = None
    ) -> Source:  # a filter would change the row counts the ranges were cut from
        if filter is not None:
            raise DataError(
                "A pushed-down filter cannot be added after the data was split by position; "
                "filter with a map/filter op instead, or filter the files before training."
            )
        return RangeSource(self.base.with_options(columns=columns), self.ranges)

    @property
    def units(self) -> list[Any]:
        return [self.base.units[u] for u, _, _ in self.ranges]

    def count(self, unit: int) -> int:
        _, lo, hi = self.ranges[unit]
        return hi - lo

    def read(
        self, unit: int, start: int = 0, stop: int | None = None, batch_size: int = 65_536
    ) -> Iterator[pa.RecordBatch]:
        base_unit, lo, hi = self.ranges[unit]
        end = hi if stop is None else min(lo + stop, hi)
        yield from self.base.read(base_unit, lo + start, end, batch_size)

    def total_rows(self) -> int:
        """Rows over every range."""
        return sum(hi - lo for _, lo, hi in self.ranges)


def split_by_position(
    source: Source, fractions: tuple[float, float], limit: int | None = None
) -> tuple[RangeSource, RangeSource, RangeSource]:
    """Cut every unit into ``[train | validation | test]`` row ranges.

    Args:
        source: The full training source.
        fractions: ``(validation share, test share)`` of every unit (``0`` for none).
        limit: Use only the first ``limit`` rows of the source (``data.limit``).

    Returns:
        ``(train, validation, test)`` sources: disjoint, together every (limited) row.

    Example:
        >>> train, val, test = split_by_position(src, (0.1, 0.2))  # doctest: +SKIP
    """
    val_share, test_share = fractions
    parts: tuple[list, list, list] = ([], [], [])
    remaining = math.inf if limit is None else int(limit)
    seen = 0  # rows before this unit: shares are cut on running totals, so tiny units still
    for unit in range(len(source.units)):  # add up to the asked share overall
        if remaining <= 0:
            break
        n = int(min(source.count(unit), remaining))
        remaining -= n
        n_test = round((seen + n) * test_share) - round(seen * test_share)
        n_val = round((seen + n) * val_share) - round(seen * val_share)
        n_test = min(n_test, n)
        n_val = min(n_val, n - n_test)
        seen += n
        a, b = n - n_val - n_test, n - n_test
        parts[0].append((unit, 0, a))
        parts[1].append((unit, a, b))
        parts[2].append((unit, b, n))
    train, val, test = (RangeSource(source, p) for p in parts)
    return train, val, test


# ----------------------------------------------------------------------------- the route


def _scan(path: str, columns: list[str] | None = None) -> LazyDataset:
    from deepfuse.data import streaming

    scan = {
        "parquet": streaming.scan_parquet,
        "csv": streaming.scan_csv,
        "json": streaming.scan_jsonl,
    }[format_of(path)]
    return scan(path, columns=columns)


def _with_source(ds: LazyDataset, source: Source) -> LazyDataset:
    return ds._with(_source=source)


def _splits(data: Mapping[str, Any]) -> tuple[LazyDataset, LazyDataset, LazyDataset, dict]:
    """``(train, validation, test)`` unbatched streams and their row counts."""
    target = data.get("target")
    full = _scan(str(data["train"]))
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
        test_ds = _scan(str(data["test"]))
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


def load_test_stream(data: Mapping[str, Any], *, preprocessor: Any, batch_size: int) -> LazyDataset:
    """The test split of a streamed run, as batches made by its fitted preprocessor.

    Example:
        >>> test = load_test_stream(cfg["data"], preprocessor=model.preprocessor, batch_size=1024)  # doctest: +SKIP
    """
    _, _, test, _ = _splits(data)
    return test.batch(batch_size, collate=preprocessor.collate).prefetch(2)


def prepare_streaming(data: Mapping[str, Any], *, seed: int, batch_size: int) -> Any:
    """Streaming twin of :func:`deepfuse.api.data.prepare`: the splits are lazy batch streams.

    Args:
        data: The resolved ``data`` section (``train`` a file, glob or folder; ``target``).
        seed: Seed of the shuffle (the splits are positional, see the module docstring).
        batch_size: Rows per batch of every split.

    Returns:
        A :class:`deepfuse.api.data.Prepared` whose ``train``/``val``/``test`` are
        :class:`~deepfuse.data.LazyDataset` batch streams and ``rows`` their row counts.

    Raises:
        DataError: Unknown target column, empty split, bad files.
    """
    from deepfuse.api.data import Prepared, _features_of, _make_preprocessor
    from deepfuse.data import Preprocessor

    target = data["target"]
    train_ds, val_ds, test_ds, rows = _splits(data)
    pre = _make_preprocessor(Preprocessor, data)
    pre.fit(train_ds, target)  # one bounded-memory pass over the training rows
    collate = pre.collate
    buffer = int(data.get("shuffle_buffer") or STREAM_DEFAULTS["shuffle_buffer"])
    train = train_ds.shuffle(buffer, seed=seed).batch(batch_size, collate=collate).prefetch(4)
    val = val_ds.batch(batch_size, collate=collate).prefetch(2) if rows["validation"] else None
    test = test_ds.batch(batch_size, collate=collate).prefetch(2)

    return Prepared(
        "table",
        train,
        val,
        test,
        target,
        pre.task,
        None if pre.classes is None else list(pre.classes),
        preprocessor=pre,
        features=_features_of(pre, target),
        rows=rows,
    )
