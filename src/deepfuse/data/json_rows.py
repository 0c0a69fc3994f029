r"""JSON-lines rows: schema inference and bad-line checks (see :mod:`deepfuse.data.tabular_rows`).

Example:
    >>> import tempfile, pathlib
    >>> from deepfuse.data.tabular_rows import ListSink
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.jsonl"
    >>> _ = path.write_bytes(b'{"x": 1}\n{"x": 2\n{"x": "three"}\n{"x": 4}\n')
    >>> bad = ListSink()
    >>> pa.concat_tables(read_jsonl(path, "t.jsonl", Context(quarantine=bad))).to_pydict()
    {'x': [1, 4]}
    >>> [(r["line"], r["reason"]) for r in bad.records]
    [(2, 'invalid_json'), (3, 'invalid_value')]
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pjson

from deepfuse._utils.bounded import loads_json
from deepfuse._utils.errors import DataError
from deepfuse.data.tabular_rows import (
    Context,
    find_bad,
    iter_line_chunks,
    keep_valid_lines,
    raw_text,
)

__all__ = ["json_schema", "read_jsonl"]


def json_schema(lines: list[bytes], hint: dict[str, pa.DataType], label: str) -> pa.Schema | None:
    """Infer a schema from the first chunk's valid lines (all-null fields become strings)."""
    sample = [ln for ln in lines if _json_object(ln)]
    if not sample:
        return None
    try:
        data = b"\n".join(sample)
        block = pjson.ReadOptions(block_size=max(1 << 20, len(data) + 1))
        inferred = pjson.read_json(io.BytesIO(data), read_options=block).schema
    except pa.ArrowInvalid:  # conflicting types: vote per field over the first lines
        inferred = _vote_schema(sample[:_VOTE_LINES], label)
    fields = [
        pa.field(f.name, hint.get(f.name) or (pa.string() if pa.types.is_null(f.type) else f.type))
        for f in inferred
    ]
    if not fields and not hint:  # only `{}` so far: no column to type; those rows are bad
        return None
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
        return isinstance(loads_json(line, what="JSON line"), dict)
    except ValueError:  # DataError is a ValueError
        return False


def read_jsonl(path: Path, label: str, ctx: Context) -> Iterator[pa.Table]:
    """Yield tables of good rows of one JSON-lines file, quarantining the rest."""
    for first, lines, nbytes in iter_line_chunks(path, ctx.block_size):
        rows_before = ctx.rows_read
        numbers = np.arange(first, first + len(lines), dtype=np.int64)
        kept, numbers = keep_valid_lines(ctx, label, numbers, lines, skip_first=False)
        if ctx.schema is None and kept:
            ctx.schema = json_schema(kept, ctx.schema_hint, label)
        table = None
        if ctx.schema is None:  # no JSON object yet: every kept line is malformed
            for line, number in zip(kept, numbers, strict=True):
                detail = (
                    "an object with no fields"
                    if _json_object(line)
                    else "not a JSON object on one line"
                )
                ctx.quarantine.add(label, int(number), "invalid_json", detail, raw_text(line))
        elif kept:
            table = _parse_json_chunk(ctx, label, kept, numbers)
        ctx.progress.update(nbytes, ctx.rows_read - rows_before)
        if table is not None and table.num_rows:
            yield table


def _parse_json_chunk(ctx: Context, label: str, kept: list[bytes], numbers: np.ndarray) -> pa.Table:
    options = pjson.ParseOptions(
        explicit_schema=ctx.schema, unexpected_field_behavior=ctx.json_unexpected
    )

    def parse(lo: int, hi: int) -> pa.Table:
        data = b"\n".join(kept[lo:hi])
        # one block for the whole chunk: a long line (up to MAX_LINE_BYTES) is not "straddling"
        block = pjson.ReadOptions(block_size=max(1 << 20, len(data) + 1))
        table = pjson.read_json(io.BytesIO(data), read_options=block, parse_options=options)
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
        ctx.quarantine.add(label, int(numbers[i]), reason, detail, raw_text(kept[i]))
    bad_set = set(bad)
    kept[:] = [line for i, line in enumerate(kept) if i not in bad_set]
    return parse(0, len(kept)) if kept else ctx.schema.empty_table()
