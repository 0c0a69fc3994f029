"""Bad rows met while streaming CSV / JSON lines: the careful reader and the quarantine report.

``scan_csv`` / ``scan_jsonl`` read each file (a *unit*) with pyarrow's fast reader first. Only a
file that pyarrow cannot read in one go (a wrong column count, a value that does not parse as its
column's type, invalid UTF-8, a bad JSON line) is read again by :class:`RowChecker`, which runs
the same row checking as ``deepfuse prepare`` (:mod:`deepfuse.data.csv_rows`,
:mod:`deepfuse.data.json_rows`): good rows
come out typed by the dataset's fixed schema; bad rows go to the dataset's
:class:`~deepfuse.data.quarantine.Quarantine` (deduplicated by ``(file, line)``), or
raise a :class:`~deepfuse._utils.errors.DataError` naming the file and line
(``on_bad_rows="error"``). Clean files never pay for the check.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("x,y\\n1,2\\noops,3\\n4,5\\n")
    >>> schema = pa.schema([("x", pa.int64()), ("y", pa.int64())])
    >>> checker = RowChecker("csv", schema, Quarantine())
    >>> pa.concat_tables(checker.good_tables(str(path))).to_pydict()
    {'x': [1, 4], 'y': [2, 5]}
    >>> [(r["line"], r["reason"]) for r in checker.report.records]
    [(3, 'invalid_number')]
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from deepfuse._utils.errors import ConfigError, DataError, format_message, invalid_choice
from deepfuse.data.csv_rows import csv_header, read_csv
from deepfuse.data.dialect import Dialect
from deepfuse.data.json_rows import json_schema, read_jsonl
from deepfuse.data.quarantine import Quarantine
from deepfuse.data.tabular_rows import NULL_TOKENS, Context, ListSink, iter_line_chunks

BAD_ROW_MODES = ("quarantine", "error")


class RowChecker:
    """Reads one CSV / JSON-lines file row by row-chunk, sorting good rows from bad.

    Args:
        fmt: ``"csv"`` or ``"json"``.
        schema: The fixed column types every file is read with.
        report: Where bad rows go.
        mode: ``"quarantine"`` (skip and record bad rows) or ``"error"`` (raise on the first).
        dialect: CSV encoding and delimiter (:mod:`deepfuse.data.dialect`); UTF-8, comma by default.
        block_size: Bytes per chunk.
    """

    def __init__(
        self,
        fmt: str,
        schema: pa.Schema,
        report: Quarantine,
        mode: str = "quarantine",
        dialect: Dialect | None = None,
        block_size: int = 4 << 20,
    ) -> None:
        if mode not in BAD_ROW_MODES:
            raise invalid_choice("on_bad_rows", mode, BAD_ROW_MODES)
        self.fmt, self.schema, self.report, self.mode = fmt, schema, report, mode
        self.dialect, self.block_size = dialect or Dialect(), block_size

    def good_tables(self, path: str) -> Iterator[pa.Table]:
        """Good rows of ``path`` in file order, as tables typed by ``schema``; bad rows reported."""
        sink = self.report if self.mode == "quarantine" else ListSink()
        ctx = Context(
            quarantine=sink,
            block_size=self.block_size,
            schema=self.schema,
            json_unexpected="ignore",  # as pyarrow's fast reader: extra fields are not read
        )
        ctx.use(self.dialect)
        reader = read_csv if self.fmt == "csv" else read_jsonl
        try:
            for table in reader(Path(path), path, ctx):
                if isinstance(sink, ListSink) and sink.records:
                    break
                yield table
        finally:
            self.report.flush()
        if isinstance(sink, ListSink) and sink.records:
            bad = sink.records[0]
            raise DataError(
                format_message(
                    f"Malformed row in '{path}' line {bad['line']}: {bad['reason']} "
                    f"({bad['detail']}): {bad['raw']!r}.",
                    expected="every row to match the columns and types "
                    f"{dict(zip(self.schema.names, map(str, self.schema.types), strict=True))}",
                    fix="fix the row, pass on_bad_rows='quarantine' to skip and record bad rows, "
                    "or convert once with `deepfuse prepare`",
                )
            )


def infer_schema(
    path: str,
    fmt: str,
    hint: dict[str, pa.DataType],
    dialect: Dialect | None = None,
    block_size: int = 4 << 20,
) -> pa.Schema:
    """Column types from the first chunk of the first file, as ``deepfuse prepare`` types them.

    CSV: a column is int64/float64 when >= 99% of its non-missing cells parse (one bad cell does
    not make it a string column); a column that is not numeric keeps pyarrow's type (bool,
    timestamp) when pyarrow can read the chunk, else string. Columns in ``hint`` take its type.
    """
    label = path
    if fmt == "json":
        for _, lines, _ in iter_line_chunks(Path(path), block_size):
            kept = [line for line in lines if line.strip()]
            schema = json_schema(kept, hint, label) if kept else None
            if schema is not None:
                return schema
        raise DataError(
            f"Cannot infer the columns of '{path}': no JSON object in its first lines. "
            "Pass schema={'col': 'int64', ...}."
        )
    dialect = dialect or Dialect()
    ctx = Context(quarantine=ListSink(), block_size=block_size)
    ctx.use(dialect)
    first = next(read_csv(Path(path), label, ctx), None)
    names = csv_header(Path(path), label, dialect)
    if ctx.schema is None:  # a header and no good row: every column is a string
        ctx.schema = pa.schema([(n, hint.get(n, pa.string())) for n in names])
    arrow = _pyarrow_types(path, dialect, block_size) if first is not None else {}
    fields = []
    for f in ctx.schema:
        dtype = hint.get(f.name) or f.type
        if f.name not in hint and pa.types.is_string(dtype) and f.name in arrow:
            other = arrow[f.name]
            if pa.types.is_boolean(other) or pa.types.is_temporal(other):
                dtype = other
        fields.append(pa.field(f.name, dtype))
    return pa.schema(fields)


def _pyarrow_types(path: str, dialect: Dialect, block_size: int) -> dict[str, pa.DataType]:
    """pyarrow's own types for the first block (empty when it cannot read it)."""
    try:
        with pacsv.open_csv(
            path,
            read_options=dialect.read_options(block_size=block_size, use_threads=False),
            parse_options=dialect.parse_options(invalid_row_handler=lambda _: "skip"),
            convert_options=pacsv.ConvertOptions(null_values=NULL_TOKENS),
        ) as reader:
            return {f.name: f.type for f in reader.schema}
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError):
        return {}


def parse_schema(schema: Any) -> dict[str, pa.DataType]:
    """``{"col": "int64" | pa.DataType}`` or a ``pa.Schema`` as ``{name: pa.DataType}``."""
    if schema is None:
        return {}
    if isinstance(schema, pa.Schema):
        return {f.name: f.type for f in schema}
    types: dict[str, pa.DataType] = {}
    for name, dtype in dict(schema).items():
        if isinstance(dtype, pa.DataType):
            types[name] = dtype
            continue
        try:
            types[name] = pa.type_for_alias(str(dtype).strip())
        except ValueError:
            raise ConfigError(
                format_message(
                    f"Unknown type {dtype!r} for column '{name}' in schema.",
                    expected="an Arrow type name: int64, int32, float64, float32, bool, string, "
                    "timestamp[s], ...",
                    got=dtype,
                )
            ) from None
    return types
