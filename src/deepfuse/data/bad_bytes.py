r"""Bad bytes in text tables: invalid UTF-8 and over-long lines, reported instead of dropped.

One rule for every CSV / JSON-lines file read whole (:func:`deepfuse.data.read_table`):

- a line (the header included) may be at most :data:`MAX_LINE_BYTES` long; a longer one is a
  :class:`DataError` naming the file, the line and the limit (never "Empty CSV file");
- two header cells with one name are a :class:`DataError` naming both columns;
- a header cell that is not valid UTF-8 is a :class:`DataError` naming the file, the column and
  the row (1, the header);
- a data cell that is not valid UTF-8 is decoded with U+FFFD replacement characters, never
  dropped: the column stays a text column and the table's schema metadata keeps the report
  (:func:`invalid_utf8_of`: count of rows, first row). Typing the columns warns about a damaged
  feature (:func:`warn_invalid_utf8`) and refuses a damaged target (:func:`check_target_bytes`).

``deepfuse prepare`` (streamed) quarantines such rows instead (:mod:`.tabular_rows`).

Example:
    >>> import pyarrow as pa
    >>> t = pa.table({"city": pa.array([b"paris", b"ly\xffon"], pa.binary())})
    >>> fixed = decode_invalid_utf8(t, "t.csv")
    >>> fixed.column("city").to_pylist()
    ['paris', 'ly\ufffdon']
    >>> invalid_utf8_of(fixed)
    {'city': {'rows': 1, 'first_row': 2, 'file': 't.csv'}}
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from deepfuse._utils.bounded import loads_json
from deepfuse._utils.errors import DataError
from deepfuse.data.dialect import Dialect, open_utf8

__all__ = [
    "INVALID_UTF8_KEY",
    "MAX_LINE_BYTES",
    "check_header_line",
    "check_target_bytes",
    "check_unique_names",
    "decode_invalid_utf8",
    "invalid_utf8_of",
    "warn_invalid_utf8",
]

# The longest line (header or row) a CSV / JSON-lines file may hold: 16 MiB. pyarrow parses in
# blocks of this size, and ``prepare`` holds at most one such line beyond its chunk in memory.
MAX_LINE_BYTES = 16 << 20
# Schema metadata key: JSON ``{column: {"rows": n, "first_row": r, "file": path}}``.
INVALID_UTF8_KEY = b"deepfuse.invalid_utf8"


def too_long(label: object, line: int) -> DataError:
    """The error for a line longer than :data:`MAX_LINE_BYTES` (shared with ``prepare``)."""
    return DataError(
        f"Line {line} of '{label}' is longer than {MAX_LINE_BYTES:,} bytes, the limit for one "
        "line of a CSV / JSON-lines file. Check that the file really is line-based text "
        "(a missing newline, a binary file) or split the long field into a separate file."
    )


def check_header_line(path: str | os.PathLike, dialect: Dialect | None = None) -> None:
    """Refuse a header line that is over-long or not valid UTF-8 (file, column, row 1).

    Reads at most :data:`MAX_LINE_BYTES` + 1 bytes of the (decompressed, transcoded to UTF-8:
    :mod:`deepfuse.data.dialect`) file.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "h.csv")
        >>> _ = open(p, "wb").write(b"a,b\\xff\\n1,2\\n")
        >>> check_header_line(p)
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: The header (row 1) of '...h.csv' is not valid UTF-8 in column 2 ('b\\xff'). ...
    """
    dialect = dialect or Dialect()
    delimiter = dialect.delimiter
    number, line = 0, b""
    with open_utf8(path, dialect) as fh:
        while not line.strip():  # pyarrow skips blank lines: the header is the first other one
            number += 1
            line = fh.readline(MAX_LINE_BYTES + 1)
            if len(line) > MAX_LINE_BYTES:
                raise too_long(path, number)
            if not line:
                return  # no header at all: read_table says the file holds no data
    line = line.rstrip(b"\r\n")
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = line[: exc.start].count(delimiter.encode()) + 1
        cell = line.split(delimiter.encode())[column - 1][:80]
        shown = cell.decode("utf-8", errors="backslashreplace")
        raise DataError(
            f"The header (row {number}) of '{path}' is not valid UTF-8 in column {column} "
            f"('{shown}'). Set data.encoding to its encoding (e.g. data.encoding=cp1252) or save it as UTF-8."
        ) from None


def check_unique_names(label: object, names: list[str]) -> None:
    """Two columns with one name: which one would a config mean? Refuse, naming both.

    Example:
        >>> check_unique_names("t.csv", ["a", "b", "a"])
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: Column name 'a' appears twice in the header of 't.csv' (columns 1 and 3). ...
    """
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name in seen:
            raise DataError(
                f"Column name {name[:80]!r} appears twice in the header of '{label}' (columns "
                f"{seen[name]} and {i}). Expected unique column names; rename one of them."
            )
        seen[name] = i


def decode_invalid_utf8(table: pa.Table, path: str | os.PathLike) -> pa.Table:
    """Turn binary (invalid UTF-8) columns of a text table into strings with replacements.

    pyarrow types a CSV column holding one invalid byte as ``binary``, which no feature type
    accepts, and leaves such bytes unchecked in JSON strings (``to_pylist`` then fails). Either way, each damaged column is
    recorded in the schema metadata under :data:`INVALID_UTF8_KEY` (count of rows, first row;
    rows are numbered from 1, the first data row). Typing the columns
    (:func:`~deepfuse.data.schema.infer_schema`) warns about features and refuses a target.
    """
    report: dict[str, dict[str, Any]] = {}
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if _is_text(column.type):
            column, bad = _valid_utf8(column)
            if bad:
                report[name] = {"rows": len(bad), "first_row": bad[0] + 1, "file": str(path)}
        columns.append(column)
    if not report:
        return table
    meta = dict(table.schema.metadata or {})
    meta[INVALID_UTF8_KEY] = json.dumps(report).encode()
    return pa.Table.from_arrays(columns, names=table.column_names).replace_schema_metadata(meta)


def warn_invalid_utf8(table: pa.Table, skip: str | None = None) -> None:
    """One :class:`UserWarning` per damaged column (but ``skip``, the target, refused instead)."""
    for name, r in invalid_utf8_of(table).items():
        if name != skip:
            warnings.warn(
                f"Column {name!r} of '{r['file']}' holds invalid UTF-8 in {r['rows']} row(s) "
                f"(first: row {r['first_row']}); the bad bytes were replaced by U+FFFD. Save the "
                "file as UTF-8 to keep them.",
                UserWarning,
                stacklevel=3,
            )


def _is_text(dtype: pa.DataType) -> bool:
    return any(
        check(dtype) for check in (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_string)
    )


def _valid_utf8(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, list[int]]:
    """``(string column, 0-based rows that held invalid UTF-8)``.

    One validating cast in C for the common case (valid text); only a damaged column is
    decoded row by row. pyarrow's JSON reader types such cells as strings without checking
    them, and its CSV reader as binary: both end here.
    """
    raw = column.cast(pa.binary()) if pa.types.is_string(column.type) else column
    try:
        return pc.cast(raw, pa.string()), []
    except (pa.ArrowInvalid, UnicodeDecodeError):
        pass
    values, bad = raw.to_pylist(), []
    for i, value in enumerate(values):
        if value is not None:
            try:
                values[i] = value.decode("utf-8")
            except UnicodeDecodeError:
                values[i] = value.decode("utf-8", errors="replace")
                bad.append(i)
    return pa.chunked_array([pa.array(values, pa.string())]), bad


def invalid_utf8_of(table: pa.Table) -> dict[str, dict[str, Any]]:
    """The invalid-UTF-8 report :func:`decode_invalid_utf8` left in ``table``'s metadata."""
    raw = (table.schema.metadata or {}).get(INVALID_UTF8_KEY)
    return loads_json(raw, what="the invalid-UTF-8 report") if raw else {}


def check_target_bytes(table: pa.Table, target: str) -> None:
    """Refuse a target column whose labels had invalid UTF-8 (a replaced label is a new class).

    Example:
        >>> import pyarrow as pa
        >>> t = decode_invalid_utf8(pa.table({"y": pa.array([b"a", b"\\xff"])}), "t.csv")
        >>> check_target_bytes(t, "y")
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: The target column 'y' of 't.csv' is not valid UTF-8 in 1 row(s) (first: row 2). ...
    """
    r = invalid_utf8_of(table).get(target)
    if r:
        raise DataError(
            f"The target column {target!r} of '{r['file']}' is not valid UTF-8 in {r['rows']} "
            f"row(s) (first: row {r['first_row']}). Fix those labels or save the file as UTF-8."
        )
