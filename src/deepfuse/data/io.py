"""Read whole tables from CSV/TSV/Parquet/JSON-lines files with pyarrow.

Example:
    >>> import tempfile, os
    >>> from deepfuse.data import read_table
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv"); _ = open(p, "w").write("a,b\\n1,x\\n2,y\\n")
    >>> read_table(p, columns=["b"]).to_pydict()
    {'b': ['x', 'y']}
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from deepfuse._utils.errors import DataError, did_you_mean
from deepfuse.data.bad_bytes import (
    MAX_LINE_BYTES,
    check_header_line,
    check_unique_names,
    decode_invalid_utf8,
    invalid_utf8_of,
)
from deepfuse.data.csv_rows import iter_csv_records
from deepfuse.data.dialect import Dialect, sniff, undecodable
from deepfuse.data.formats import TABLE_FORMATS, detect
from deepfuse.data.tabular_rows import iter_line_chunks

__all__ = ["SOURCE_DIR_KEY", "as_table", "read_table"]

# Schema metadata key holding the folder of the file a table came from; relative image paths
# in the table are resolved against it.
SOURCE_DIR_KEY = b"deepfuse.source_dir"


def _csv(path: Path, dialect: Dialect, columns: list[str] | None, serial: bool = False) -> pa.Table:
    return pacsv.read_csv(
        path,
        # one block may hold the longest allowed line (pyarrow's default is 1 MiB)
        read_options=dialect.read_options(use_threads=not serial, block_size=MAX_LINE_BYTES),
        parse_options=dialect.parse_options(),  # quoted fields may hold newlines
        convert_options=pacsv.ConvertOptions(include_columns=columns, strings_can_be_null=True),
    )


def _header(path: Path, fmt: str, dialect: Dialect) -> list[str]:
    if fmt == "parquet":
        return list(pq.read_schema(path).names)
    if fmt in ("csv", "tsv"):
        with pacsv.open_csv(
            path,
            read_options=dialect.read_options(block_size=MAX_LINE_BYTES),
            parse_options=dialect.parse_options(),
        ) as reader:
            return list(reader.schema.names)
    return list(_json(path).column_names)


def _json(path: Path) -> pa.Table:
    return pajson.read_json(path, read_options=pajson.ReadOptions(block_size=MAX_LINE_BYTES))


def _wrap(path: Path, fmt: str, err: Exception, dialect: Dialect) -> DataError:
    if isinstance(err, UnicodeDecodeError):  # pyarrow's transcoding: find the byte offset
        return undecodable(path, dialect)
    msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if fmt in ("csv", "tsv") and "Row #" not in msg:
        # Multi-threaded parsing does not know row numbers; a serial re-read does (error path only).
        try:
            _csv(path, dialect, None, serial=True)
        except (pa.ArrowInvalid, OSError) as again:
            msg = str(again).strip().splitlines()[0] or msg
        except UnicodeDecodeError:
            return undecodable(path, dialect)
    if "straddling" in msg:  # pyarrow's words for a row longer than its block
        try:  # the same error (with the line) as prepare and the streamed reader give
            for _ in iter_line_chunks(path, 4 << 20, dialect):
                pass
        except DataError as too_long:
            return too_long
        msg = f"a line is longer than {MAX_LINE_BYTES:,} bytes, the limit for one line"
    row = re.search(r"Row #(\d+)", msg) or re.search(r"in row (\d+)", msg)
    csv_row = row and fmt in ("csv", "tsv")
    where = f" at line {_line_of_row(path, dialect, int(row.group(1)))}" if csv_row else ""
    where = f" at row {int(row.group(1)) + 1}" if row and fmt == "jsonl" else where
    return DataError(
        f"Cannot read '{path}'{where}: {msg}. Check that the file is a valid {fmt.upper()} file."
    )


def _line_of_row(path: Path, dialect: Dialect, row: int) -> int | str:
    """The physical line where pyarrow's ``Row #row`` starts (the header is row 1; blank lines
    are not rows; a quoted field may span lines). Error path only."""
    seen = 0
    try:
        for numbers, records, _ in iter_csv_records(path, 4 << 20, lambda *_: None, dialect):
            for number, record in zip(numbers.tolist(), records, strict=True):
                seen += bool(record.strip())
                if seen == row:
                    return int(number)
    except DataError:
        pass
    return f"? (row {row})"


def read_table(
    path: str | os.PathLike,
    *,
    columns: list[str] | None = None,
    encoding: str | None = "auto",
    delimiter: str | None = "auto",
) -> pa.Table:
    """Read a whole CSV/TSV/Parquet/JSON-lines file into a pyarrow Table.

    The format follows the file name (:mod:`deepfuse.data.formats`): ``.csv``, ``.tsv``,
    ``.jsonl``/``.ndjson``/``.json`` (each also ``.gz``, ``.bz2`` or ``.zst``),
    ``.parquet``/``.pq``.

    CSV/TSV need a header row; types are inferred by pyarrow (empty fields and ``NA``/``null``
    are missing values). Quoted fields may hold newlines; the encoding (BOM, UTF-8, else
    cp1252/latin-1) and the delimiter (``,`` ``;`` tab ``|``) are detected unless given
    (:mod:`deepfuse.data.dialect`). The folder of ``path`` is stored in the schema metadata so
    relative image paths in the table can be found later.

    Args:
        path: The file to read.
        columns: Read only these columns (in this order).
        encoding: CSV/TSV: ``"auto"`` or a codec name (``latin-1``, ``cp1252``, ``utf-16``, ...),
            used strictly (an undecodable byte is an error naming its offset).
        delimiter: CSV/TSV: ``"auto"`` or one character.

    Returns:
        The table.

    Raises:
        DataError: The file is missing, has an unknown type, is malformed (the message names the
            line/row when pyarrow knows it), cannot be decoded with a named ``encoding`` (the
            message names the byte offset), has no rows, or lacks a requested column.
        ConfigError: An unknown ``encoding`` or an invalid ``delimiter``.

    Example:
        >>> read_table("missing.csv")
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: File 'missing.csv' does not exist. ...
    """
    p = Path(path).expanduser()
    if not p.is_file():
        hint = (
            "it is a folder; pass a file"
            if p.is_dir()
            else "check the path and the working directory"
        )
        raise DataError(
            f"File '{path}' does not exist. Expected a data file; {hint} (cwd: {os.getcwd()})."
        )
    fmt = detect(p, TABLE_FORMATS)
    dialect = Dialect()
    try:
        if fmt in ("csv", "tsv"):
            dialect = sniff(p, encoding=encoding, delimiter=delimiter)
            check_header_line(p, dialect)
        if columns is not None:
            names = _header(p, fmt, dialect)
            check_unique_names(p, names)
            for c in columns:
                if c not in names:
                    raise DataError(
                        f"Column '{c}' not found in '{p}'. Available columns: "
                        f"{', '.join(names)}.{did_you_mean(c, names)}"
                    )
        if fmt in ("csv", "tsv"):
            table = _csv(p, dialect, columns)
        elif fmt == "parquet":
            table = pq.read_table(p, columns=columns)
        else:
            table = _json(p)
            table = table.select(columns) if columns is not None else table
    except DataError:
        raise
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError) as e:
        raise _wrap(p, fmt, e, dialect) from None
    if table.num_columns == 0 or table.num_rows == 0:
        raise DataError(
            f"File '{p}' holds no data rows ({table.num_columns} columns, 0 rows). Expected at least one row."
        )
    try:
        names = table.column_names
    except UnicodeDecodeError:  # a JSON key (or header cell) with invalid UTF-8
        raise DataError(
            f"A column name in '{p}' is not valid UTF-8. Save the file as UTF-8 "
            "(e.g. iconv -f latin1 -t utf-8)."
        ) from None
    check_unique_names(p, names)
    if fmt != "parquet":  # Parquet binary columns are real bytes (images), not damaged text
        table = decode_invalid_utf8(table, p)
        if dialect.strict and invalid_utf8_of(table):  # data.encoding: utf-8 named, not met
            raise undecodable(p, dialect)
    meta = dict(table.schema.metadata or {})
    meta[SOURCE_DIR_KEY] = str(p.resolve().parent).encode()
    return table.replace_schema_metadata(meta)


def as_table(data: Any) -> pa.Table:
    """Convert a pyarrow Table, pandas DataFrame, dict of columns or file path into a Table.

    Example:
        >>> as_table({"a": [1, 2]}).num_rows
        2
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, str | os.PathLike):
        return read_table(data)
    if isinstance(data, dict):
        return pa.table(data)
    if type(data).__module__.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise DataError(
        f"Cannot use an object of type {type(data).__name__} as a table. Expected a pyarrow Table, "
        "a pandas DataFrame, a dict of columns or a file path."
    )
