"""CSV and JSON-lines readers that stream a file in line-aligned chunks and sort good rows from bad.

Each chunk is a list of physical lines, so every row keeps its exact 1-based line number:

1. invalid UTF-8: the chunk is decoded at once; only a chunk that fails is checked line by line.
2. CSV column count: ``pyarrow.csv`` parses the chunk (all columns as strings) and reports rows
   with the wrong number of fields through ``invalid_row_handler``.
3. CSV numbers: convert-then-validate; each numeric column is cast with ``pyarrow.compute``, and
   when a cast fails the bad cells are found by bisection (a few casts per bad cell, not a
   Python loop over the chunk).
4. JSON lines: ``pyarrow.json`` parses the chunk against a fixed schema; bad lines (syntax, a value
   of the wrong type, an unexpected field) are found by the same bisection.

Limitation: one record per physical line (a quoted CSV field may not contain a newline; such a
record is split and its pieces quarantined as wrong column counts, never dropped).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson

from deepfuse._utils.errors import DataError, format_message
from deepfuse.data.prepare._sink import Progress, Quarantine

# Cells that mean "missing" in a numeric column (they become null, not bad rows).
NULL_TOKENS = ["", "NA", "N/A", "NULL", "null", "None", "#N/A"]
# Used only to *type* columns from the first chunk; the real check is the cast itself.
_INT_RE = r"^[+-]?\d+$"
_FLOAT_RE = r"(?i)^[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf|infinity|nan)$"
# A column is numeric when at least this share of its non-missing first-chunk cells parse.
NUMERIC_SHARE = 0.99


@dataclass
class Context:
    """State shared by every file of one ``prepare`` call."""

    quarantine: Quarantine
    progress: Progress
    block_size: int
    schema_hint: dict[str, pa.DataType] = field(default_factory=dict)
    schema: pa.Schema | None = None  # fixed by the first chunk, then enforced on every file
    rows_read: int = 0  # counted apart from the good/bad split, to check that nothing vanished


def iter_line_chunks(path: Path, block_size: int) -> Iterator[tuple[int, list[bytes], int]]:
    """Yield ``(first_line_number, lines, bytes_read)``; lines hold no ``\\n``. Bounded memory."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        carry, lineno = b"", 1
        while True:
            block = fh.read(block_size)
            if not block:
                if carry:
                    yield lineno, [carry], 0
                return
            data = carry + block
            cut = data.rfind(b"\n")
            if cut < 0:  # a line longer than the block: keep reading
                carry = data
                continue
            carry = data[cut + 1 :]
            lines = data[:cut].split(b"\n")
            yield lineno, lines, len(block)
            lineno += len(lines)


def _raw(line: bytes) -> str:
    return line.rstrip(b"\r").decode("utf-8", errors="backslashreplace")


def _keep_valid_lines(
    ctx: Context, label: str, first: int, lines: list[bytes], skip_first: bool
) -> tuple[list[bytes], np.ndarray]:
    """Drop blank lines (not rows) and quarantine invalid UTF-8; return kept lines + numbers."""
    numbers = np.arange(first, first + len(lines), dtype=np.int64)
    keep = [bool(line.strip()) for line in lines]
    if skip_first:
        keep[0] = False
    ctx.rows_read += sum(keep)
    try:
        b"\n".join(lines).decode("utf-8")
    except UnicodeDecodeError:  # rare: find the culprits line by line, in this chunk only
        for i, line in enumerate(lines):
            if keep[i]:
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    keep[i] = False
                    detail = f"invalid UTF-8 byte at offset {exc.start}"
                    ctx.quarantine.add(label, int(numbers[i]), "invalid_utf8", detail, _raw(line))
    mask = np.array(keep, dtype=bool)
    return [line for line, k in zip(lines, keep, strict=True) if k], numbers[mask]


def find_bad(n: int, ok: Callable[[int, int], bool]) -> list[int]:
    """Indices in ``range(n)`` whose single-element slice fails ``ok(lo, hi)`` (bisection)."""
    bad, stack = [], [(0, n)]
    while stack:
        lo, hi = stack.pop()
        if hi <= lo or ok(lo, hi):
            continue
        if hi - lo == 1:
            bad.append(lo)
            continue
        mid = (lo + hi) // 2
        stack += [(mid, hi), (lo, mid)]
    return sorted(bad)


def _clean(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trim spaces and turn missing-value tokens into nulls before a numeric cast."""
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(
        pc.is_in(trimmed, pa.array(NULL_TOKENS)), pa.scalar(None, pa.string()), trimmed
    )


def _infer_csv_type(column: pa.ChunkedArray) -> pa.DataType:
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


def read_csv(path: Path, label: str, ctx: Context) -> Iterator[pa.Table]:
    """Yield tables of good rows of one CSV file (typed by ``ctx.schema``), quarantining the rest."""
    names: list[str] | None = None
    for first, lines, nbytes in iter_line_chunks(path, ctx.block_size):
        skip_header = names is None
        if names is None:
            try:
                header = lines[0].rstrip(b"\r").decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(f"The header line of '{label}' is not valid UTF-8.") from None
            names = next(csv.reader([header]))
            if ctx.schema is not None and names != ctx.schema.names:
                raise DataError(
                    format_message(
                        f"The columns of '{label}' differ from the first file's.",
                        expected=str(ctx.schema.names),
                        got=names,
                        fix="Prepare files with different columns separately.",
                    )
                )
        kept, numbers = _keep_valid_lines(ctx, label, first, lines, skip_header)
        rows_before = ctx.quarantine.count
        table = _parse_csv_chunk(ctx, label, names, kept, numbers) if kept else None
        rows = (table.num_rows if table is not None else 0) + ctx.quarantine.count - rows_before
        ctx.progress.update(nbytes, rows)
        if table is not None and table.num_rows:
            yield table


def _parse_csv_chunk(
    ctx: Context, label: str, names: list[str], kept: list[bytes], numbers: np.ndarray
) -> pa.Table:
    bad_rows: list[int] = []  # 1-based positions in `kept`, from pyarrow

    def on_invalid(row: pcsv.InvalidRow) -> str:
        bad_rows.append(row.number)
        detail = f"expected {row.expected_columns} columns, got {row.actual_columns}"
        line = int(numbers[row.number - 1])
        ctx.quarantine.add(label, line, "wrong_column_count", detail, row.text)
        return "skip"

    table = pcsv.read_csv(
        io.BytesIO(b"\n".join(kept)),
        read_options=pcsv.ReadOptions(column_names=names, use_threads=False),
        parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=False),
        convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
    )
    good = np.ones(len(kept), dtype=bool)
    good[np.asarray(bad_rows, dtype=np.int64) - 1] = False
    lines, raw = numbers[good], [k for k, g in zip(kept, good, strict=True) if g]
    if ctx.schema is None:  # type the columns from this first chunk (or the user's schema)
        types = [ctx.schema_hint.get(n) or _infer_csv_type(table[n]) for n in names]
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
            ctx.quarantine.add(label, int(lines[i]), "invalid_number", detail, _raw(raw[i]))
        keep = np.ones(table.num_rows, dtype=bool)
        keep[list(bad)] = False
        table = table.filter(pa.array(keep))
    columns = [
        col if pa.types.is_string(t) else pc.cast(_clean(col), t)
        for col, t in zip(table.columns, ctx.schema.types, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=ctx.schema)


# ----------------------------------------------------------------------------- JSON lines


def _json_schema(lines: list[bytes], hint: dict[str, pa.DataType], label: str) -> pa.Schema | None:
    """Infer a schema from the first chunk's valid lines (all-null fields become strings)."""
    sample = [ln for ln in lines if _json_object(ln)]
    if not sample:
        return None
    try:
        inferred = pjson.read_json(io.BytesIO(b"\n".join(sample))).schema
    except pa.ArrowInvalid:  # conflicting types: vote per field over the first lines
        inferred = _vote_schema(sample[:_VOTE_LINES], label)
    fields = [
        pa.field(f.name, hint.get(f.name) or (pa.string() if pa.types.is_null(f.type) else f.type))
        for f in inferred
    ]
    return pa.schema(fields + [pa.field(n, t) for n, t in hint.items() if n not in inferred.names])


_VOTE_LINES = 10_000


def _vote_schema(sample: list[bytes], label: str) -> pa.Schema:
    """Each field takes its most common non-null type (int64 and double together -> double)."""
    votes: dict[str, dict[pa.DataType, int]] = {}
    for line in sample:
        try:
            schema = pjson.read_json(io.BytesIO(line)).schema
        except pa.ArrowInvalid:
            continue
        for f in schema:
            counts = votes.setdefault(f.name, {})
            if not pa.types.is_null(f.type):
                counts[f.type] = counts.get(f.type, 0) + 1
    fields = []
    for name, counts in votes.items():
        if {pa.int64(), pa.float64()} <= set(counts):
            counts[pa.float64()] += counts.pop(pa.int64())
        best = max(counts.items(), key=lambda kv: kv[1])[0] if counts else pa.null()
        fields.append(pa.field(name, best))
    if not fields:
        raise DataError(f"Cannot infer a schema from the first rows of '{label}'.")
    return pa.schema(fields)


def _json_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def read_jsonl(path: Path, label: str, ctx: Context) -> Iterator[pa.Table]:
    """Yield tables of good rows of one JSON-lines file, quarantining the rest."""
    for first, lines, nbytes in iter_line_chunks(path, ctx.block_size):
        kept, numbers = _keep_valid_lines(ctx, label, first, lines, skip_first=False)
        if ctx.schema is None and kept:
            ctx.schema = _json_schema(kept, ctx.schema_hint, label)
        rows_before = ctx.quarantine.count
        table = None
        if ctx.schema is None:  # no JSON object yet: every kept line is malformed
            for line, number in zip(kept, numbers, strict=True):
                detail = "not a JSON object on one line"
                ctx.quarantine.add(label, int(number), "invalid_json", detail, _raw(line))
        elif kept:
            table = _parse_json_chunk(ctx, label, kept, numbers)
        rows = (table.num_rows if table is not None else 0) + ctx.quarantine.count - rows_before
        ctx.progress.update(nbytes, rows)
        if table is not None and table.num_rows:
            yield table


def _parse_json_chunk(ctx: Context, label: str, kept: list[bytes], numbers: np.ndarray) -> pa.Table:
    options = pjson.ParseOptions(explicit_schema=ctx.schema, unexpected_field_behavior="error")

    def parse(lo: int, hi: int) -> pa.Table:
        table = pjson.read_json(io.BytesIO(b"\n".join(kept[lo:hi])), parse_options=options)
        return table.select(ctx.schema.names)

    def ok(lo: int, hi: int) -> bool:
        try:
            parse(lo, hi)
            return True
        except pa.ArrowInvalid:
            return False

    try:
        return parse(0, len(kept))
    except pa.ArrowInvalid:
        pass
    bad = find_bad(len(kept), ok)
    for i in bad:
        if _json_object(kept[i]):
            try:
                parse(i, i + 1)
                detail = "unknown error"  # pragma: no cover - bisection only returns failures
            except pa.ArrowInvalid as exc:
                detail = " ".join(str(exc).split())
            reason = "invalid_value"
        else:
            reason, detail = "invalid_json", "not a JSON object on one line"
        ctx.quarantine.add(label, int(numbers[i]), reason, detail, _raw(kept[i]))
    bad_set = set(bad)
    kept[:] = [line for i, line in enumerate(kept) if i not in bad_set]
    return parse(0, len(kept)) if kept else ctx.schema.empty_table()
