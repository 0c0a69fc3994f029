r"""Sort good rows from bad in CSV and JSON-lines files, in line-aligned chunks (bounded memory).

Shared by ``deepfuse prepare`` (which writes Parquet + ``_quarantine.jsonl``) and the streaming
``scan_csv`` / ``scan_jsonl`` (which fall back to it for a file pyarrow cannot read in one go).
Each chunk is a list of *records* with the 1-based physical line where each record starts:

1. CSV records: a record is one line unless a quoted field holds a newline (RFC 4180:
   ``"a\nb"``); lines are merged while the count of ``"`` is odd. A quote left open for
   :data:`~deepfuse.data.csv_rows.MAX_RECORD_LINES` lines or at the end of the file is an ``unterminated_quote`` bad row
   (only its first line; reading resumes on the next line).
2. invalid UTF-8: the chunk is decoded at once; only a chunk that fails is checked record by record.
3. CSV column count: ``pyarrow.csv`` parses the chunk (all columns as strings) and reports rows
   with the wrong number of fields through ``invalid_row_handler``.
4. CSV numbers: convert-then-validate; each non-string column is cast with ``pyarrow.compute``,
   and when a cast fails the bad cells are found by bisection (a few casts per bad cell, not a
   Python loop over the chunk).
5. JSON lines: ``pyarrow.json`` parses the chunk against a fixed schema; bad lines (syntax, a value
   of the wrong type, an unexpected field when asked) are found by the same bisection.

Bad rows go to ``ctx.quarantine.add(file, line, reason, detail, raw)``; good rows come out as
tables typed by ``ctx.schema`` (fixed by the first chunk unless given).

The format-specific readers are :mod:`deepfuse.data.csv_rows` and :mod:`deepfuse.data.json_rows`;
this module holds what they share: the bad-row sink and context, line chunking, UTF-8 checks and
the bisection that finds bad rows.

Example:
    >>> find_bad(10, lambda lo, hi: not lo <= 3 < hi and not lo <= 7 < hi)
    [3, 7]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from deepfuse.data.bad_bytes import MAX_LINE_BYTES, too_long
from deepfuse.data.dialect import Dialect, open_utf8

__all__ = [
    "NULL_TOKENS",
    "BadRowSink",
    "Chunk",
    "Context",
    "ListSink",
    "find_bad",
    "iter_line_chunks",
    "keep_valid_lines",
    "raw_text",
]

# Cells that mean "missing" in a non-string column (they become null, not bad rows).
NULL_TOKENS = ["", "NA", "N/A", "NULL", "null", "None", "#N/A"]


class BadRowSink(Protocol):
    """Where bad rows go: ``prepare``'s quarantine file, or an in-memory list."""

    def add(self, file: str, line: int | None, reason: str, detail: str, raw: str | None) -> None:
        """Record one bad row (``line`` is 1-based, the physical line where the row starts)."""


class ListSink:
    """A :class:`BadRowSink` that keeps the records in memory (``records``, in arrival order)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add(self, file: str, line: int | None, reason: str, detail: str, raw: str | None) -> None:
        self.records.append(
            {"file": file, "line": line, "reason": reason, "detail": detail, "raw": raw}
        )


class _NoProgress:
    def update(self, nbytes: int, rows: int) -> None:
        pass


@dataclass
class Context:
    """State shared by every file of one read (a ``prepare`` call, or one streamed file).

    Attributes:
        quarantine: Receives the bad rows (:class:`BadRowSink`).
        progress: Anything with ``update(nbytes, rows)``; a no-op by default.
        block_size: Bytes read per chunk (the first chunk types the columns).
        schema_hint: Column types given by the user; the others are inferred.
        schema: Fixed by the first chunk (or given), then enforced on every chunk and file.
        rows_read: Rows met (good + bad), to check that nothing vanished.
        delimiter: CSV field separator.
        encoding: The Python codec of the file being read (:mod:`deepfuse.data.dialect`);
            other than UTF-8, the lines are transcoded to UTF-8 first.
        strict: The encoding was named by the user: an undecodable byte is a ``DataError``
            (else invalid UTF-8 is an ``invalid_utf8`` bad row).
        json_unexpected: A JSON field not in the schema: ``"error"`` (bad row) or ``"ignore"``.
    """

    quarantine: BadRowSink
    progress: Any = field(default_factory=_NoProgress)
    block_size: int = 4 << 20
    schema_hint: dict[str, pa.DataType] = field(default_factory=dict)
    schema: pa.Schema | None = None
    rows_read: int = 0
    delimiter: str = ","
    encoding: str = "utf-8"
    strict: bool = False
    json_unexpected: str = "error"

    @property
    def dialect(self) -> Dialect:
        """The encoding and delimiter of the file being read."""
        return Dialect(self.encoding, self.delimiter, strict=self.strict)

    def use(self, dialect: Dialect) -> None:
        """Read the next file with ``dialect`` (files of one read may differ in encoding)."""
        self.delimiter, self.encoding, self.strict = (
            dialect.delimiter,
            dialect.encoding,
            dialect.strict,
        )


def iter_line_chunks(
    path: Path, block_size: int, dialect: Dialect | None = None
) -> Iterator[tuple[int, list[bytes], int]]:
    """Yield ``(first_line_number, lines, bytes_read)``; lines hold no ``\\n``. Bounded memory.

    The lines are UTF-8 (``dialect``'s encoding transcoded, a BOM removed).

    Raises:
        DataError: A line is longer than :data:`~deepfuse.data.bad_bytes.MAX_LINE_BYTES`, or
            (a transcoded or strict ``dialect``) a byte cannot be decoded.
    """
    with open_utf8(path, dialect) as fh:
        carry, lineno = b"", 1
        while True:
            block = fh.read(block_size)
            if not block:
                if len(carry) > MAX_LINE_BYTES:
                    raise too_long(path, lineno)
                if carry:
                    yield lineno, [carry], 0
                return
            data = carry + block
            cut = data.rfind(b"\n")
            if cut < 0:  # a line longer than the block: keep reading, up to the limit
                if len(data) > MAX_LINE_BYTES:
                    raise too_long(path, lineno)
                carry = data
                continue
            carry = data[cut + 1 :]
            lines = data[:cut].split(b"\n")
            if len(data) > MAX_LINE_BYTES and max(map(len, lines)) > MAX_LINE_BYTES:
                longest = max(range(len(lines)), key=lambda i: len(lines[i]))
                raise too_long(path, lineno + longest)
            yield lineno, lines, len(block)
            lineno += len(lines)


Chunk = tuple[np.ndarray, list[bytes], int]  # (1-based start line per record, records, bytes)


def raw_text(line: bytes) -> str:
    """A line as text for the quarantine's ``raw`` field (bad bytes shown as escapes)."""
    return line.rstrip(b"\r").decode("utf-8", errors="backslashreplace")


def keep_valid_lines(
    ctx: Context, label: str, numbers: np.ndarray, lines: list[bytes], skip_first: bool
) -> tuple[list[bytes], np.ndarray]:
    """Drop blank lines (not rows) and quarantine invalid UTF-8; return kept lines + numbers."""
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
                    ctx.quarantine.add(
                        label, int(numbers[i]), "invalid_utf8", detail, raw_text(line)
                    )
    mask = np.array(keep, dtype=bool)
    return [line for line, k in zip(lines, keep, strict=True) if k], numbers[mask]


def find_bad(n: int, ok: Callable[[int, int], bool]) -> list[int]:
    """Indices in ``range(n)`` whose single-element slice fails ``ok(lo, hi)`` (bisection).

    Example:
        >>> find_bad(10, lambda lo, hi: not lo <= 3 < hi and not lo <= 7 < hi)
        [3, 7]
    """
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
