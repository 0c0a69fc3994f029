"""The lazy ``scan_parquet`` / ``scan_csv`` / ``scan_jsonl`` and their eager ``read_*`` twins.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.tsv"
    >>> _ = path.write_text("x\\ty\\n1\\ta\\n2\\tb\\n")
    >>> read_csv(path).to_pydict()  # the delimiter follows the name: a tab for .tsv
    {'x': [1, 2], 'y': ['a', 'b']}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.json as pajson

from deepfuse._utils.errors import ConfigError, DataError, invalid_choice
from deepfuse.data.bad_bytes import MAX_LINE_BYTES
from deepfuse.data.dialect import Dialect, check_delimiter, check_encoding, sniff
from deepfuse.data.formats import delimiter_of
from deepfuse.data.quarantine import Quarantine
from deepfuse.data.streaming.paths import PathLike, _resolve, resolve_paths
from deepfuse.data.streaming.remote import arrow_filesystem, is_url
from deepfuse.data.streaming.sources import Source
from deepfuse.data.tabular_rows import NULL_TOKENS

if TYPE_CHECKING:
    from deepfuse.data.streaming.bad_rows import RowChecker
    from deepfuse.data.streaming.dataset import LazyDataset

__all__ = ["read_csv", "read_jsonl", "read_parquet", "scan_csv", "scan_jsonl", "scan_parquet"]


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
    delimiter: str | None = "auto",
    encoding: str | None = "auto",
    read_batch_size: int = 65_536,
    on_bad_rows: str = "quarantine",
    quarantine: str | os.PathLike | None = None,
    schema: pa.Schema | dict[str, str | pa.DataType] | None = None,
) -> LazyDataset:
    """Lazily scans CSV files (header row required); see :func:`scan_parquet`.

    The first file's encoding and delimiter (:func:`deepfuse.data.dialect.sniff`, unless given)
    apply to every file; quoted fields may hold newlines.

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
        delimiter: Field separator; ``"auto"`` (the default; ``None`` too) sniffs it from the
            first file (a tab for ``.tsv``; ``,`` ``;`` tab or ``|`` for others).
        encoding: ``"auto"`` (BOM, UTF-8, else cp1252/latin-1) or a codec name, used strictly.
        read_batch_size: Rows per record batch read from disk.
        on_bad_rows: ``"quarantine"`` (skip and record, the default) or ``"error"`` (raise a
            ``DataError`` naming the file, line and reason at the first bad row).
        quarantine: The JSON-lines file behind ``ds.quarantined`` (one line appended per new bad
            row; see :mod:`deepfuse.data.quarantine`); records already in it count as known.
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
        encoding, delimiter = check_encoding(encoding), check_delimiter(delimiter)
        dialect = Dialect(
            "utf-8" if encoding == "auto" else encoding,
            delimiter_of(files[0]) if delimiter == "auto" else delimiter,
            strict=encoding != "auto",
        )
        fmt = pads.CsvFileFormat(
            read_options=dialect.read_options(), parse_options=dialect.parse_options()
        )
        return _make(source, "csv", columns, filter, read_batch_size, fmt)
    dialect = sniff(files[0], encoding=encoding, delimiter=delimiter)
    checker = _row_checker("csv", files, on_bad_rows, quarantine, schema, dialect)
    fmt = pads.CsvFileFormat(
        read_options=dialect.read_options(block_size=MAX_LINE_BYTES),
        parse_options=dialect.parse_options(),
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
    checker = _row_checker("json", files, on_bad_rows, quarantine, schema, None)
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
    dialect: Dialect | None,
) -> RowChecker:
    from deepfuse.data.streaming.bad_rows import (
        BAD_ROW_MODES,
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
    types = infer_schema(files[0], fmt, parse_schema(schema), dialect)
    return RowChecker(fmt, types, Quarantine(quarantine), on_bad_rows, dialect)


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
