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
import pyarrow.json as pajson

from deepfuse._utils.errors import ConfigError, DataError, invalid_choice
from deepfuse.data.streaming.remote import arrow_filesystem, is_url, resolve_remote
from deepfuse.data.tabular_rows import NULL_TOKENS

if TYPE_CHECKING:
    from deepfuse.data.streaming.bad_rows import RowChecker
    from deepfuse.data.streaming.dataset import LazyDataset

PathLike = str | os.PathLike | Sequence[str | os.PathLike]

# Extensions picked up when a *directory* is given; globs and explicit files are taken as named.
_EXTENSIONS = {
    "parquet": (".parquet", ".pq"),
    "csv": (".csv", ".tsv", ".txt", ".csv.gz"),
    "json": (".jsonl", ".ndjson", ".json", ".jsonl.gz"),
    "image": (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"),
    "text": (".txt",),
}
_GLOB_CHARS = set("*?[")


def resolve_paths(source: PathLike, fmt: str) -> list[str]:
    """Expands a path, glob, directory or list of those into a sorted, de-duplicated file list.

    Args:
        source: A file, a glob (``data/*.parquet``, ``**`` allowed), a directory (searched
            recursively for files with the format's extensions), an fsspec URL of any of these
            (``s3://bucket/data/*.parquet``; needs ``pip install 'deepfuse[cloud]'``) or a list.
        fmt: ``"parquet"``, ``"csv"``, ``"json"``, ``"image"`` or ``"text"``.

    Returns:
        File paths (full URLs for URL sources), in sorted order within each entry and in the
        given order across entries.

    Raises:
        DataError: when an entry matches no file.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "b.csv").write_text("x\\n1\\n")
        >>> [pathlib.Path(p).name for p in resolve_paths(d, "csv")]
        ['b.csv']
    """
    fs, files = _resolve(source, fmt)
    return files if fs is None else [fs.unstrip_protocol(f) for f in files]


def _resolve(source: PathLike, fmt: str) -> tuple[Any, list[str]]:
    """``(fsspec filesystem or None for local files, paths on it)``; see :func:`resolve_paths`."""
    entries = [source] if isinstance(source, str | os.PathLike) else list(source)
    if not entries:
        raise DataError("no source given: expected a path, glob, directory or a non-empty list")
    texts = [os.fspath(e) for e in entries]
    urls = [t for t in texts if is_url(t)]
    if urls:
        if len(urls) != len(texts):
            raise DataError(
                f"mixed local paths and URLs in one source ({texts[:3]}...): expected all local "
                "or all URLs on one filesystem; scan them separately"
            )
        return resolve_remote(urls, _EXTENSIONS[fmt], fmt)
    files: list[str] = []
    for text in texts:
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
    return None, list(dict.fromkeys(files))  # keeps order, drops duplicates


class Source:
    """An ordered list of readable units (Parquet row groups or whole CSV/JSON files).

    Args:
        dataset: The ``pyarrow.dataset.Dataset`` to read.
        fmt: ``"parquet"``, ``"csv"`` or ``"json"``.
        columns: Columns read from disk (projection push-down); ``None`` reads all.
        filter: A ``pyarrow.compute.Expression`` pushed into the scanner, or ``None``.
        rows: For CSV / JSON lines: the :class:`~deepfuse.data.streaming.bad_rows.RowChecker`
            that reads a file pyarrow cannot read in one go (bad rows), or ``None``.

    With a row checker, a unit is read by pyarrow's fast reader (every column converted, so it
    fails on exactly the files with a bad row); a unit where it fails is read by the checker
    from then on: good rows only, in file order. ``count`` and ``read`` then count good rows,
    so offsets stay stable across epochs, resumes and ranks.

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
        rows: RowChecker | None = None,
    ) -> None:
        self.dataset = dataset
        self.fmt = fmt
        self.columns = list(columns) if columns is not None else None
        self.filter = filter
        self.rows = rows
        self._careful: set[int] = set()  # units pyarrow could not read (shared with copies)
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
        copy = Source(self.dataset, self.fmt, cols, flt, rows=self.rows)
        copy._careful = self._careful  # whether pyarrow can read a file does not depend on these
        return copy

    @property
    def schema(self) -> pa.Schema:
        """The schema of the rows this source yields (after projection)."""
        names = self.columns if self.columns is not None else self.dataset.schema.names
        return pa.schema([self.dataset.schema.field(n) for n in names])

    @property
    def quarantined(self) -> list[dict[str, Any]]:
        """Bad rows met so far (``file``, 1-based ``line``, ``reason``, ``detail``, ``raw``)."""
        return list(self.rows.report.records) if self.rows is not None else []

    def end_epoch(self, epoch: int) -> None:
        """Warns once with the epoch's count of skipped bad rows (if any)."""
        if self.rows is not None:
            self.rows.report.end_epoch(epoch, f"scan_{self.fmt.replace('json', 'jsonl')}")

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
        """Rows unit ``unit`` yields after the pushed-down filter (metadata-only for Parquet).

        With a row checker: good rows only (a full read of the unit, cached).
        """
        if unit not in self._counts:
            frag = self.units[unit]
            if self.fmt == "parquet" and self.filter is None:
                # row-group metadata; fragment.count_rows() reports the whole file's rows for a
                # row-group fragment (pyarrow 26), so it is not used here
                n = sum(rg.num_rows for rg in frag.row_groups)
            elif self.fmt == "parquet":
                n = sum(rb.num_rows for rb in frag.to_batches(columns=[], filter=self.filter))
            elif self.rows is None:
                n = frag.count_rows(filter=self.filter)
            else:
                n = sum(rb.num_rows for rb in self._unit_batches(unit, 1 << 16))
            self._counts[unit] = n
        return self._counts[unit]

    def read(
        self, unit: int, start: int = 0, stop: int | None = None, batch_size: int = 65_536
    ) -> Iterator[pa.RecordBatch]:
        """Yields record batches of rows ``[start, stop)`` of one unit, a bounded batch at a time.

        Offsets count rows *after* the pushed-down filter (and, with a row checker, after bad
        rows are taken out), so they are stable across reads.
        """
        seen = 0
        for rb in self._unit_batches(unit, batch_size):
            lo, hi = seen, seen + rb.num_rows
            seen = hi
            if hi <= start:
                continue
            a, b = max(start - lo, 0), rb.num_rows if stop is None else min(stop - lo, rb.num_rows)
            if b > a:
                yield rb.slice(a, b - a) if (a, b) != (0, rb.num_rows) else rb
            if stop is not None and seen >= stop:
                return

    def _unit_batches(self, unit: int, batch_size: int) -> Iterator[pa.RecordBatch]:
        """Every row of one unit: pyarrow's fast reader, else (bad rows) the row checker.

        With a row checker the batches hold exactly ``batch_size`` rows (the last fewer), so
        read chunks, hence shuffle windows, do not depend on which reader produced the rows
        (nor on when pyarrow gave up): the same seed gives the same order, and resumes match.
        """
        if self.rows is None:
            return self._fast_batches(unit, batch_size)
        return _rebatch(self._checked_batches(unit, batch_size), batch_size)

    def _checked_batches(self, unit: int, batch_size: int) -> Iterator[pa.RecordBatch]:
        done = 0
        if unit not in self._careful:
            try:
                for rb in self._fast_batches(unit, batch_size):
                    done += rb.num_rows
                    yield rb
                return
            except pa.ArrowInvalid:
                # pyarrow yields a block only when all of it converts, and the checker accepts
                # all that pyarrow accepts: the rows already given are the checker's first ones
                self._careful.add(unit)
        assert self.rows is not None
        for rb in self._careful_batches(unit, batch_size):
            if done >= rb.num_rows:
                done -= rb.num_rows
                continue
            yield rb.slice(done) if done else rb
            done = 0

    def _fast_batches(self, unit: int, batch_size: int) -> Iterator[pa.RecordBatch]:
        # With a row checker every column is converted (not only the projected ones), so a bad
        # cell anywhere in the row fails here as it is caught by the checker.
        project = self.rows is not None and self.columns is not None
        for rb in self.units[unit].to_batches(
            schema=self.dataset.schema,
            columns=None if project else self.columns,
            filter=self.filter,
            batch_size=batch_size,
            batch_readahead=2,  # pyarrow's default (16) holds 16 read chunks per open reader
            fragment_readahead=1,
        ):
            yield rb.select(self.columns) if project else rb

    def _careful_batches(self, unit: int, batch_size: int) -> Iterator[pa.RecordBatch]:
        assert self.rows is not None
        for table in self.rows.good_tables(self.units[unit].path):
            if self.filter is not None:
                table = table.filter(self.filter)
            if self.columns is not None:
                table = table.select(self.columns)
            yield from table.to_batches(max_chunksize=batch_size)


def _rebatch(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """The same rows in batches of exactly ``size`` rows (the last may hold fewer)."""
    parts: list[pa.RecordBatch] = []
    held = 0
    for rb in batches:
        while rb.num_rows:
            take = min(size - held, rb.num_rows)
            parts.append(rb.slice(0, take))
            held += take
            rb = rb.slice(take)
            if held == size:
                yield parts[0] if len(parts) == 1 else pa.concat_batches(parts)
                parts, held = [], 0
    if held:
        yield parts[0] if len(parts) == 1 else pa.concat_batches(parts)


def _make(
    source: PathLike, fmt: str, columns, filter, read_batch_size: int, file_format: Any = None
) -> LazyDataset:
    from deepfuse.data.streaming.dataset import LazyDataset

    fs, files = _resolve(source, fmt)
    # URLs: pyarrow reads through the fsspec filesystem (projection and row groups still apply)
    where = {} if fs is None else {"filesystem": arrow_filesystem(fs)}
    try:
        dataset = pads.dataset(files, format=file_format or fmt, **where)
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
    on_bad_rows: str = "quarantine",
    quarantine: str | os.PathLike | None = None,
    schema: pa.Schema | dict[str, str | pa.DataType] | None = None,
) -> LazyDataset:
    """Lazily scans CSV files (header row required); see :func:`scan_parquet`.

    The column types are fixed before reading: ``schema`` for the columns it names, the others
    typed from the first 4 MiB of the first file as ``deepfuse prepare`` does (int64/float64
    when >= 99% of the cells parse), so every file and chunk yields the same types.

    Bad rows (wrong column count, a cell that does not parse as its column's type, invalid
    UTF-8, a quote never closed) never crash the run: with ``on_bad_rows="quarantine"`` they
    are left out of the stream, listed in ``ds.quarantined`` (``file``, 1-based ``line``,
    ``reason``, ``detail``, ``raw``; one record per row however many epochs meet it), written to
    ``quarantine`` when given, and each epoch that met some ends with one warning. Only a file
    that pyarrow's fast reader fails on is read row-checked; clean files cost nothing extra.

    Args:
        source: A file, glob, directory or list of them.
        columns: Columns to yield (the checks still cover every column).
        filter: A ``pyarrow.compute`` expression pushed down to the reader.
        delimiter: Field separator.
        read_batch_size: Rows per record batch read from disk.
        on_bad_rows: ``"quarantine"`` (skip and record, the default) or ``"error"`` (raise a
            ``DataError`` naming the file, line and reason at the first bad row).
        quarantine: A JSON-lines file kept equal to ``ds.quarantined`` (rewritten atomically when
            new bad rows arrive); with several ranks give each its own file.
        schema: Column types, e.g. ``{"age": "int64"}`` or a ``pa.Schema``.

    Example:
        >>> import tempfile, pathlib, warnings
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = path.write_text("x,y\\n1,0.5\\n2,oops\\n3\\n4,2.0\\n")
        >>> ds = scan_csv(path, schema={"y": "float64"})
        >>> with warnings.catch_warnings(record=True):
        ...     ds.collect().to_pydict()
        {'x': [1, 4], 'y': [0.5, 2.0]}
        >>> [(r["line"], r["reason"]) for r in ds.quarantined]
        [(4, 'wrong_column_count'), (3, 'invalid_number')]
    """
    files = resolve_paths(source, "csv")
    if any(is_url(f) for f in files):  # no row checking for remote files (read as they come)
        fmt = pads.CsvFileFormat(parse_options=pacsv.ParseOptions(delimiter=delimiter))
        return _make(source, "csv", columns, filter, read_batch_size, fmt)
    checker = _row_checker("csv", files, on_bad_rows, quarantine, schema, delimiter)
    fmt = pads.CsvFileFormat(
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict(zip(checker.schema.names, checker.schema.types, strict=True)),
            null_values=NULL_TOKENS,  # the checker's missing-value tokens, so both agree
            strings_can_be_null=False,
        ),
    )
    return _make_checked(files, "csv", columns, filter, read_batch_size, fmt, checker)


def scan_jsonl(
    source: PathLike,
    *,
    columns: list[str] | None = None,
    filter: pads.Expression | None = None,
    read_batch_size: int = 65_536,
    on_bad_rows: str = "quarantine",
    quarantine: str | os.PathLike | None = None,
    schema: pa.Schema | dict[str, str | pa.DataType] | None = None,
) -> LazyDataset:
    """Lazily scans JSON-lines files (one object per line); see :func:`scan_csv`.

    Types come from ``schema`` and the first 4 MiB of the first file; fields not in them are
    not read. Bad lines (not a JSON object, a value of the wrong type, invalid UTF-8) are
    handled as ``on_bad_rows`` says, exactly as bad CSV rows.

    Example:
        >>> import tempfile, pathlib, warnings
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.jsonl"
        >>> _ = path.write_text('{"x": 1}\\n{"x": 2\\n{"x": "three"}\\n{"x": 4}\\n')
        >>> ds = scan_jsonl(path)
        >>> with warnings.catch_warnings(record=True):
        ...     ds.collect().to_pydict()
        {'x': [1, 4]}
        >>> [(r["line"], r["reason"]) for r in ds.quarantined]
        [(2, 'invalid_json'), (3, 'invalid_value')]
    """
    files = resolve_paths(source, "json")
    if any(is_url(f) for f in files):
        return _make(source, "json", columns, filter, read_batch_size)
    checker = _row_checker("json", files, on_bad_rows, quarantine, schema, ",")
    fmt = pads.JsonFileFormat(
        parse_options=pajson.ParseOptions(
            explicit_schema=checker.schema, unexpected_field_behavior="ignore"
        )
    )
    return _make_checked(files, "json", columns, filter, read_batch_size, fmt, checker)


def _row_checker(
    fmt: str,
    files: list[str],
    on_bad_rows: str,
    quarantine: str | os.PathLike | None,
    schema: Any,
    delimiter: str,
) -> RowChecker:
    from deepfuse.data.streaming.bad_rows import (
        BAD_ROW_MODES,
        QuarantineReport,
        RowChecker,
        infer_schema,
        parse_schema,
    )

    if on_bad_rows not in BAD_ROW_MODES:
        raise invalid_choice("on_bad_rows", on_bad_rows, BAD_ROW_MODES)
    if quarantine is not None and not Path(quarantine).parent.is_dir():
        raise ConfigError(
            f"quarantine file '{quarantine}': its folder does not exist. Create it first or "
            "pass another path (or quarantine=None to keep bad rows in ds.quarantined only)."
        )
    types = infer_schema(files[0], fmt, parse_schema(schema), delimiter)
    return RowChecker(fmt, types, QuarantineReport(quarantine), on_bad_rows, delimiter)


def _make_checked(
    files: list[str],
    fmt: str,
    columns: list[str] | None,
    filter: pads.Expression | None,
    read_batch_size: int,
    file_format: pads.FileFormat,
    checker: RowChecker,
) -> LazyDataset:
    from deepfuse.data.streaming.dataset import LazyDataset

    # the schema is given, so pyarrow does not read (and fail on) a first block to infer one
    dataset = pads.dataset(files, format=file_format, schema=checker.schema)
    source = Source(dataset, fmt, columns, filter, rows=checker)
    return LazyDataset(source, read_batch_size=read_batch_size)


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
