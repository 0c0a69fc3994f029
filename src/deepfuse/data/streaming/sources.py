"""Lazy file sources on top of ``pyarrow.dataset``: path resolution, work units, eager twins.

A :class:`Source` turns a path, glob, directory or list of them into an ordered list of *units*
(one Parquet row group, or one CSV / JSON-lines file), each of which can be counted and read
record batch by record batch. Nothing here parses files by hand: pyarrow does the reading,
the column projection and the predicate push-down.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads

from deepfuse._utils.errors import DataError

if TYPE_CHECKING:
    from deepfuse.data.streaming.dataset import LazyDataset

PathLike = str | os.PathLike | Sequence[str | os.PathLike]

# Extensions picked up when a *directory* is given; globs and explicit files are taken as named.
_EXTENSIONS = {
    "parquet": (".parquet", ".pq"),
    "csv": (".csv", ".tsv", ".txt", ".csv.gz"),
    "json": (".jsonl", ".ndjson", ".json", ".jsonl.gz"),
}
_GLOB_CHARS = set("*?[")


def resolve_paths(source: PathLike, fmt: str) -> list[str]:
    """Expands a path, glob, directory or list of those into a sorted, de-duplicated file list.

    Args:
        source: A file, a glob (``data/*.parquet``, ``**`` allowed), a directory (searched
            recursively for files with the format's extensions) or a list of any of these.
        fmt: ``"parquet"``, ``"csv"`` or ``"json"``.

    Returns:
        File paths, in sorted order within each entry and in the given order across entries.

    Raises:
        DataError: when an entry matches no file.

    Example:
        >>> resolve_paths([], "parquet")  # doctest: +SKIP
    """
    entries = [source] if isinstance(source, str | os.PathLike) else list(source)
    if not entries:
        raise DataError("no source given: expected a path, glob, directory or a non-empty list")
    files: list[str] = []
    for entry in entries:
        text = os.fspath(entry)
        if _GLOB_CHARS & set(text):
            found = sorted(p for p in glob.glob(text, recursive=True) if os.path.isfile(p))
        elif os.path.isdir(text):
            found = sorted(
                str(p)
                for p in Path(text).rglob("*")
                if p.is_file()
                and not p.name.startswith((".", "_"))
                and p.name.lower().endswith(_EXTENSIONS[fmt])
            )
        elif os.path.isfile(text):
            found = [text]
        else:
            raise DataError(f"source {text!r} does not exist: expected a file, glob or directory")
        if not found:
            raise DataError(
                f"source {text!r} matched no {fmt} file: expected files ending in "
                f"{', '.join(_EXTENSIONS[fmt])}; check the path or pass the files explicitly"
            )
        files.extend(found)
    return list(dict.fromkeys(files))  # keeps order, drops duplicates


class Source:
    """An ordered list of readable units (Parquet row groups or whole CSV/JSON files).

    Args:
        dataset: The ``pyarrow.dataset.Dataset`` to read.
        fmt: ``"parquet"``, ``"csv"`` or ``"json"``.
        columns: Columns read from disk (projection push-down); ``None`` reads all.
        filter: A ``pyarrow.compute.Expression`` pushed into the scanner, or ``None``.

    Example:
        >>> import pyarrow.dataset as pads  # doctest: +SKIP
        >>> src = Source(pads.dataset("data/"), "parquet")  # doctest: +SKIP
        >>> src.count(0)  # doctest: +SKIP
    """

    def __init__(
        self,
        dataset: pads.Dataset,
        fmt: str,
        columns: list[str] | None = None,
        filter: pads.Expression | None = None,
    ) -> None:
        self.dataset = dataset
        self.fmt = fmt
        self.columns = list(columns) if columns is not None else None
        self.filter = filter
        self._units: list[Any] | None = None
        self._counts: dict[int, int] = {}
        if self.columns is not None:
            missing = [c for c in self.columns if c not in dataset.schema.names]
            if missing:
                raise DataError(
                    f"column(s) {missing} not in the source; available: {dataset.schema.names}"
                )

    def with_options(
        self, columns: list[str] | None = None, filter: pads.Expression | None = None
    ) -> Source:
        """Returns a copy reading fewer columns and/or with an extra pushed-down filter."""
        cols = self.columns if columns is None else list(columns)
        flt = (
            self.filter
            if filter is None
            else (filter if self.filter is None else self.filter & filter)
        )
        return Source(self.dataset, self.fmt, cols, flt)

    @property
    def schema(self) -> pa.Schema:
        """The schema of the rows this source yields (after projection)."""
        names = self.columns if self.columns is not None else self.dataset.schema.names
        return pa.schema([self.dataset.schema.field(n) for n in names])

    @property
    def units(self) -> list[Any]:
        """Fragments, one per Parquet row group (or per file for text formats); cached."""
        if self._units is None:
            units: list[Any] = []
            for frag in self.dataset.get_fragments():
                if self.fmt == "parquet":
                    units.extend(frag.split_by_row_group())
                else:
                    units.append(frag)
            self._units = units
        return self._units

    def count(self, unit: int) -> int:
        """Rows unit ``unit`` yields after the pushed-down filter (metadata-only for Parquet)."""
        if unit not in self._counts:
            frag = self.units[unit]
            if self.fmt == "parquet" and self.filter is None:
                # row-group metadata; fragment.count_rows() reports the whole file's rows for a
                # row-group fragment (pyarrow 26), so it is not used here
                n = sum(rg.num_rows for rg in frag.row_groups)
            elif self.fmt == "parquet":
                n = sum(rb.num_rows for rb in frag.to_batches(columns=[], filter=self.filter))
            else:
                n = frag.count_rows(filter=self.filter)
            self._counts[unit] = n
        return self._counts[unit]

    def read(
        self, unit: int, start: int = 0, stop: int | None = None, batch_size: int = 65_536
    ) -> Iterator[pa.RecordBatch]:
        """Yields record batches of rows ``[start, stop)`` of one unit, a bounded batch at a time.

        Offsets count rows *after* the pushed-down filter, so they are stable across reads.
        """
        seen = 0
        for rb in self.units[unit].to_batches(
            schema=self.dataset.schema,
            columns=self.columns,
            filter=self.filter,
            batch_size=batch_size,
            batch_readahead=2,  # pyarrow's default (16) holds 16 read chunks per open reader
            fragment_readahead=1,
        ):
            lo, hi = seen, seen + rb.num_rows
            seen = hi
            if hi <= start:
                continue
            a, b = max(start - lo, 0), rb.num_rows if stop is None else min(stop - lo, rb.num_rows)
            if b > a:
                yield rb.slice(a, b - a) if (a, b) != (0, rb.num_rows) else rb
            if stop is not None and seen >= stop:
                return


def _make(
    source: PathLike, fmt: str, columns, filter, read_batch_size: int, file_format: Any = None
) -> LazyDataset:
    from deepfuse.data.streaming.dataset import LazyDataset

    files = resolve_paths(source, fmt)
    try:
        dataset = pads.dataset(files, format=file_format or fmt)
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"could not open {fmt} source {files[0]!r}...: {err}") from err
    return LazyDataset(Source(dataset, fmt, columns, filter), read_batch_size=read_batch_size)


def scan_parquet(
    source: PathLike,
    *,
    columns: list[str] | None = None,
    filter: pads.Expression | None = None,
    read_batch_size: int = 65_536,
) -> LazyDataset:
    """Lazily scans Parquet files; nothing is read until iteration.

    Args:
        source: A file, glob, directory or list of them.
        columns: Columns to read (pushed down to the reader).
        filter: A ``pyarrow.compute`` expression pushed down to the reader,
            e.g. ``pc.field("label") >= 0``.
        read_batch_size: Rows per record batch read from disk (the read-ahead unit).

    Returns:
        A :class:`LazyDataset`.

    Example:
        >>> ds = scan_parquet("data/*.parquet").shuffle(100_000, seed=0).batch(1024)  # doctest: +SKIP
        >>> for batch in ds: ...  # doctest: +SKIP
    """
    return _make(source, "parquet", columns, filter, read_batch_size)


def scan_csv(
    source: PathLike,
    *,
    columns: list[str] | None = None,
    filter: pads.Expression | None = None,
    delimiter: str = ",",
    read_batch_size: int = 65_536,
) -> LazyDataset:
    """Lazily scans CSV files (header row required); see :func:`scan_parquet`.

    Example:
        >>> ds = scan_csv("data/", columns=["x", "y"]).batch(256)  # doctest: +SKIP
    """
    fmt = pads.CsvFileFormat(parse_options=pacsv.ParseOptions(delimiter=delimiter))
    return _make(source, "csv", columns, filter, read_batch_size, fmt)


def scan_jsonl(
    source: PathLike,
    *,
    columns: list[str] | None = None,
    filter: pads.Expression | None = None,
    read_batch_size: int = 65_536,
) -> LazyDataset:
    """Lazily scans JSON-lines files (one object per line); see :func:`scan_parquet`.

    Example:
        >>> ds = scan_jsonl("logs/*.jsonl", columns=["x", "y"]).batch(256)  # doctest: +SKIP
    """
    return _make(source, "json", columns, filter, read_batch_size)


def read_parquet(source: PathLike, **options: Any) -> pa.Table:
    """Eager twin of :func:`scan_parquet`: ``scan_parquet(source, **options).collect()``.

    Example:
        >>> table = read_parquet("data/part-0.parquet", columns=["x"])  # doctest: +SKIP
    """
    return scan_parquet(source, **options).collect()


def read_csv(source: PathLike, **options: Any) -> pa.Table:
    """Eager twin of :func:`scan_csv`.

    Example:
        >>> table = read_csv("data/*.csv")  # doctest: +SKIP
    """
    return scan_csv(source, **options).collect()


def read_jsonl(source: PathLike, **options: Any) -> pa.Table:
    """Eager twin of :func:`scan_jsonl`.

    Example:
        >>> table = read_jsonl("data/*.jsonl")  # doctest: +SKIP
    """
    return scan_jsonl(source, **options).collect()
