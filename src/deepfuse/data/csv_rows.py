r"""CSV rows: multi-line quoted records, column typing and bad-row checks (see
:mod:`deepfuse.data.tabular_rows` for the steps shared with JSON lines).

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_bytes(b'x,note\n1,"two\nlines"\noops,b\n3,c,extra\n4,d\n')
    >>> from deepfuse.data.tabular_rows import ListSink
    >>> bad = ListSink()
    >>> ctx = Context(quarantine=bad, schema_hint={"x": pa.int64()})
    >>> pa.concat_tables(read_csv(path, "t.csv", ctx)).to_pydict()
    {'x': [1, 4], 'note': ['two\nlines', 'd']}
    >>> [(r["line"], r["reason"]) for r in bad.records]
    [(5, 'wrong_column_count'), (4, 'invalid_number')]
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from deepfuse._utils.errors import DataError, format_message
from deepfuse.data.bad_bytes import check_unique_names
from deepfuse.data.dialect import Dialect
from deepfuse.data.tabular_rows import (
    NULL_TOKENS,
    Chunk,
    Context,
    find_bad,
    iter_line_chunks,
    keep_valid_lines,
    raw_text,
)

__all__ = ["MAX_RECORD_LINES", "csv_header", "infer_csv_type", "iter_csv_records", "read_csv"]

# Used only to *type* columns from the first chunk; the real check is the cast itself.
_INT_RE = r"^[+-]?\d+$"
_FLOAT_RE = r"(?i)^[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf|infinity|nan)$"
# A column is numeric when at least this share of its non-missing first-chunk cells parse.
NUMERIC_SHARE = 0.99
# A quoted field may span at most this many lines; beyond, its first line is a bad row.
MAX_RECORD_LINES = 10_000
# Bytes that may stand in for a newline inside a quoted field while pyarrow parses a chunk
# line by line (one that does not occur in the chunk is picked).
_NEWLINE_STANDINS = (b"\x00", b"\x1e", b"\x1f", b"\x01", b"\x02")


class _Quotes:
    """Whether a CSV line leaves a quoted field open, following pyarrow's quoting rules.

    A quote opens a field only at its start; ``""`` inside a quoted field is a literal quote;
    a ``"`` inside an unquoted field is a literal character. Possessive regexes (Python 3.11+)
    keep the check linear in the line's length; lines without ``"`` are never matched.
    """

    def __init__(self, delimiter: str) -> None:
        d = re.escape(delimiter.encode())
        body = rb'(?:[^"]|"")*+'  # inside a quoted field: anything, with "" for a quote
        field_ = rb'(?:"' + body + rb'"(?!")[^' + d + rb"]*|[^\"" + d + rb"][^" + d + rb"]*|)"
        rest = rb"(?:" + d + field_ + rb")*"
        # from a closed state: complete fields, then a quoted field left open
        self._opens = re.compile(rb"(?:" + field_ + d + rb')*"' + body)
        # from an open state: still open, or closes then reopens a later field
        self._reopens = re.compile(
            body + rb'(?:"(?!")[^' + d + rb"]*" + rest + d + rb'"' + body + rb")?"
        )

    def opens(self, line: bytes) -> bool:
        return b'"' in line and self._opens.fullmatch(line) is not None

    def stays_open(self, line: bytes) -> bool:
        return b'"' not in line or self._reopens.fullmatch(line) is not None


def iter_csv_records(
    path: Path,
    block_size: int,
    on_unterminated: Callable[[int, bytes], None],
    dialect: Dialect | None = None,
) -> Iterator[Chunk]:
    """Like :func:`iter_line_chunks`, but the lines of one quoted multi-line field are merged.

    ``dialect`` gives the delimiter and the encoding (lines are transcoded to UTF-8).

    A record's lines are joined with ``\n``; its number is the line where it starts. A quote
    still open after :data:`MAX_RECORD_LINES` lines or at the end of the file is reported
    through ``on_unterminated(line, raw)`` (only that first line; the next line starts afresh).
    """
    dialect = dialect or Dialect()
    quotes = _Quotes(dialect.delimiter)
    pending: list[tuple[int, bytes]] = []  # lines of a record whose quote is still open
    for first, lines, nbytes in iter_line_chunks(path, block_size, dialect):
        if not pending and not any(b'"' in line for line in lines):  # the common case
            yield np.arange(first, first + len(lines), dtype=np.int64), lines, nbytes
            continue
        numbers, records = _group(quotes, pending, first, lines, on_unterminated, final=False)
        yield np.asarray(numbers, dtype=np.int64), records, nbytes
    if pending:
        numbers, records = _group(quotes, pending, 0, [], on_unterminated, final=True)
        yield np.asarray(numbers, dtype=np.int64), records, 0


def _group(
    quotes: _Quotes,
    pending: list[tuple[int, bytes]],
    first: int,
    lines: list[bytes],
    on_unterminated: Callable[[int, bytes], None],
    final: bool,
) -> tuple[list[int], list[bytes]]:
    """Merge lines into records; ``pending`` carries a record still open across chunks."""
    work = pending + [(first + i, line) for i, line in enumerate(lines)]
    pending.clear()
    numbers: list[int] = []
    records: list[bytes] = []
    i = 0
    while i < len(work):
        number, line = work[i]
        if not quotes.opens(line):
            numbers.append(number)
            records.append(line)
            i += 1
            continue
        j, still_open = i + 1, True  # find the line that closes the quote
        while j < len(work) and still_open and j - i < MAX_RECORD_LINES:
            still_open = quotes.stays_open(work[j][1])
            j += 1
        if not still_open:
            numbers.append(number)
            records.append(b"\n".join(piece for _, piece in work[i:j]))
            i = j
        elif j - i >= MAX_RECORD_LINES or final:
            on_unterminated(number, line)
            i += 1  # only the opening line is bad: read on from the next line
        else:  # the quote may close in the next chunk
            pending.extend(work[i:])
            break
    return numbers, records


def _clean(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trim spaces and turn missing-value tokens into nulls before a cast."""
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(
        pc.is_in(trimmed, pa.array(NULL_TOKENS)), pa.scalar(None, pa.string()), trimmed
    )


def infer_csv_type(column: pa.ChunkedArray | pa.Array) -> pa.DataType:
    """int64, float64 or string for a column of CSV strings (numeric when >= 99% parse)."""
    values = _clean(column)
    present = len(values) - values.null_count
    if present == 0:
        return pa.string()
    for pattern, dtype in ((_INT_RE, pa.int64()), (_FLOAT_RE, pa.float64())):
        matches = pc.sum(pc.match_substring_regex(values, pattern)).as_py() or 0
        if matches >= NUMERIC_SHARE * present:
            return dtype
    return pa.string()


def _cast_ok(values: pa.ChunkedArray, dtype: pa.DataType) -> Callable[[int, int], bool]:
    def ok(lo: int, hi: int) -> bool:
        try:
            pc.cast(values.slice(lo, hi - lo), dtype)
            return True
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False

    return ok


def csv_header(path: Path, label: str, dialect: Dialect | None = None) -> list[str]:
    """The column names on the first line of a CSV file (read with ``dialect``)."""
    dialect = dialect or Dialect()
    delimiter = dialect.delimiter
    for _, lines, _ in iter_line_chunks(path, 1 << 16, dialect):
        try:
            header = lines[0].rstrip(b"\r").decode("utf-8")
        except UnicodeDecodeError as exc:
            column = lines[0][: exc.start].count(delimiter.encode()) + 1
            raise DataError(
                f"The header (row 1) of '{label}' is not valid UTF-8 in column {column}. "
                "Set data.encoding to its encoding (e.g. data.encoding=cp1252) or save it as UTF-8."
            ) from None
        if not header.strip():
            raise DataError(
                f"The header (row 1) of '{label}' is empty. Expected the column names on the "
                "first line."
            )
        try:
            names = next(csv.reader([header], delimiter=delimiter))
        except csv.Error as exc:  # e.g. a cell over csv's field limit (128 KiB)
            raise DataError(
                f"The header (row 1) of '{label}' cannot be read: {exc}. Expected a line of "
                "column names."
            ) from None
        check_unique_names(label, names)
        return names
    raise DataError(f"'{label}' is empty: expected a header line with the column names.")


def read_csv(path: Path, label: str, ctx: Context) -> Iterator[pa.Table]:
    """Yield tables of good rows of one CSV file (typed by ``ctx.schema``), quarantining the rest."""
    names: list[str] | None = None

    def unterminated(line: int, raw: bytes) -> None:
        ctx.rows_read += 1
        detail = f"a quoted field opened here is not closed within {MAX_RECORD_LINES} lines"
        ctx.quarantine.add(label, line, "unterminated_quote", detail, raw_text(raw))

    chunks = iter_csv_records(path, ctx.block_size, unterminated, ctx.dialect)
    for numbers, lines, nbytes in chunks:
        if not lines:
            continue
        skip_header = names is None
        if names is None:
            names = csv_header(path, label, ctx.dialect)
            if ctx.schema is not None and names != ctx.schema.names:
                raise DataError(
                    format_message(
                        f"The columns of '{label}' differ from the first file's.",
                        expected=str(ctx.schema.names),
                        got=names,
                        fix="Prepare files with different columns separately.",
                    )
                )
        rows_before = ctx.rows_read
        kept, numbers = keep_valid_lines(ctx, label, numbers, lines, skip_header)
        table = _parse_csv_chunk(ctx, label, names, kept, numbers) if kept else None
        ctx.progress.update(nbytes, ctx.rows_read - rows_before)
        if table is not None and table.num_rows:
            yield table


def _standins(label: str, kept: list[bytes], data: bytes) -> list[tuple[bytes, bytes]]:
    """``(byte, stand-in)`` for ``\n`` in records and ``\r`` inside (not ending) a record."""
    needed = [b"\n"] if any(b"\n" in record for record in kept) else []
    if any(b"\r" in record.rstrip(b"\r") for record in kept):
        needed.append(b"\r")
    free = [s for s in _NEWLINE_STANDINS if s not in data]
    if len(free) < len(needed):  # pragma: no cover - a chunk holding all five control bytes
        raise DataError(f"'{label}': cannot parse a chunk with newlines in quoted fields.")
    return list(zip(needed, free, strict=False))


def _swap(record: bytes, swaps: list[tuple[bytes, bytes]]) -> bytes:
    """``record`` with its ``\n`` and inner ``\r`` replaced (a final ``\r`` ends the line)."""
    body = record.rstrip(b"\r")
    for byte, standin in swaps:
        body = body.replace(byte, standin)
    return body + record[len(body) :]


def _parse_csv_chunk(
    ctx: Context, label: str, names: list[str], kept: list[bytes], numbers: np.ndarray
) -> pa.Table:
    bad_rows: list[int] = []  # 1-based positions in `kept`, from pyarrow
    data = b"\n".join(kept)
    # A quoted field holding a newline, or a bare "\r" inside a record (pyarrow ends a row at
    # either): parse the chunk one record per line (so pyarrow's row numbers are ours), with
    # bytes absent from the chunk standing in for them.
    swaps = _standins(label, kept, data)
    if swaps:
        data = b"\n".join(_swap(record, swaps) for record in kept)

    def on_invalid(row: pcsv.InvalidRow) -> str:
        bad_rows.append(row.number)
        detail = f"expected {row.expected_columns} columns, got {row.actual_columns}"
        line = int(numbers[row.number - 1])
        ctx.quarantine.add(
            label, line, "wrong_column_count", detail, raw_text(kept[row.number - 1])
        )
        return "skip"

    table = pcsv.read_csv(
        io.BytesIO(data),
        # one block for the whole chunk: a long line (up to MAX_LINE_BYTES) is not "straddling"
        read_options=pcsv.ReadOptions(
            column_names=names, use_threads=False, block_size=max(1 << 20, len(data) + 1)
        ),
        parse_options=pcsv.ParseOptions(
            delimiter=ctx.delimiter, invalid_row_handler=on_invalid, newlines_in_values=False
        ),
        convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
    )
    for byte, standin in swaps:  # put the newlines back into the (string) cells
        table = pa.Table.from_arrays(
            [pc.replace_substring(col, standin.decode(), byte.decode()) for col in table.columns],
            names=names,
        )
    good = np.ones(len(kept), dtype=bool)
    good[np.asarray(bad_rows, dtype=np.int64) - 1] = False
    lines, raw = numbers[good], [k for k, g in zip(kept, good, strict=True) if g]
    if ctx.schema is None:  # type the columns from this first chunk (or the user's schema)
        types = [ctx.schema_hint.get(n) or infer_csv_type(table[n]) for n in names]
        ctx.schema = pa.schema(list(zip(names, types, strict=True)))
    # Convert, then validate: a failed cast is narrowed down to its bad cells.
    bad: dict[int, str] = {}
    for name, dtype in zip(ctx.schema.names, ctx.schema.types, strict=True):
        if pa.types.is_string(dtype):
            continue
        values = _clean(table[name])
        ok = _cast_ok(values, dtype)
        if ok(0, len(values)):
            continue
        for i in find_bad(len(values), ok):
            bad.setdefault(i, f"column '{name}': cannot parse {values[i].as_py()!r} as {dtype}")
    if bad:
        for i, detail in sorted(bad.items()):
            ctx.quarantine.add(label, int(lines[i]), "invalid_number", detail, raw_text(raw[i]))
        keep = np.ones(table.num_rows, dtype=bool)
        keep[list(bad)] = False
        table = table.filter(pa.array(keep))
    columns = [
        col if pa.types.is_string(t) else pc.cast(_clean(col), t)
        for col, t in zip(table.columns, ctx.schema.types, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=ctx.schema)
