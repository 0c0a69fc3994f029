"""``scan_text`` / ``read_text``: text files (one row each) or their lines as lazy streams.

``mode="files"``: one row per file, ``{"text": str, "label": int64}`` with ``labels="folders"``
(``root/pos/*.txt``, ``root/neg/*.txt``, like aclImdb). ``mode="lines"``: one row per line
(``"text"``, plus ``"line"``, 1-based, with ``line_numbers=True``).

Lines are split here, in bounded blocks, rather than by pyarrow's CSV reader: a CSV reader
needs a one-byte delimiter that never occurs in the text, and no such byte exists for
arbitrary text (with ``"\\x1e"`` a line containing it fails the whole file, pyarrow 26:
"Expected 1 columns, got 2"); it also treats a lone ``"\\r"`` as a line break, which would shift
line numbers. A line ends at ``"\\n"`` (a trailing ``"\\r"`` is dropped); memory holds one block
(1 MiB) plus one batch of lines, however large the file. UTF-8 is validated by pyarrow (a cast
to string); a line or file that is not valid UTF-8 is dropped and recorded in
``ds.quarantined`` (reason ``invalid_utf8``), never a crash.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_bytes(b"first\\nsecond \\xff\\r\\nthird")
    >>> ds = scan_text(root, mode="lines", line_numbers=True)
    >>> [(int(n), t) for b in ds for n, t in zip(b["line"], b["text"])]
    [(1, 'first'), (3, 'third')]
    >>> [(r["line"], r["reason"]) for r in ds.quarantined]
    [(2, 'invalid_utf8')]
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.data.quarantine import Quarantine
from deepfuse.data.streaming.listing import (
    PATH,
    FileDataset,
    Listing,
    list_files,
    listing_source,
    open_binary,
)
from deepfuse.data.streaming.paths import PathLike
from deepfuse.data.streaming.sources import Source

_BOM = b"\xef\xbb\xbf"
_BLOCK = 1 << 20  # bytes read at a time when splitting lines


def _utf8_detail(data: bytes) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return f"invalid UTF-8 byte at offset {err.start}"
    return "invalid UTF-8"


def _decode(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Binary values as strings plus a validity mask (cast validates all at once; fallback per row)."""
    try:
        return values.cast(pa.string()), np.ones(len(values), dtype=bool)
    except pa.ArrowInvalid:  # rare: find the invalid values, in this chunk only
        raw = values.to_pylist()
        ok = np.ones(len(raw), dtype=bool)
        for i, b in enumerate(raw):
            try:
                b.decode("utf-8")
            except UnicodeDecodeError:
                ok[i] = False
        return values.filter(pa.array(ok)).cast(pa.string()), ok


class TextFileDecoder:
    """Decode step for ``mode="files"``: reads each listed file whole, validates UTF-8."""

    def __init__(self, fs: Any, report: Quarantine) -> None:
        self.fs, self.report = fs, report

    def __call__(self, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        data = []
        for path in cols[PATH]:
            try:
                with open_binary(self.fs, path) as fh:
                    data.append(fh.read().removeprefix(_BOM))
            except OSError as err:  # vanished or unreadable since the listing
                data.append(None)
                self.report.add(str(path), None, "unreadable_file", f"{type(err).__name__}: {err}")
        read = [i for i, d in enumerate(data) if d is not None]
        texts, ok = _decode(pa.array([data[i] for i in read], pa.binary()))
        keep = np.zeros(len(data), dtype=bool)
        for j, i in enumerate(read):
            keep[i] = ok[j]
            if not ok[j]:
                self.report.add(str(cols[PATH][i]), None, "invalid_utf8", _utf8_detail(data[i]))
        out = {"text": texts.to_numpy(zero_copy_only=False)}
        out.update({k: v[keep] for k, v in cols.items() if k != PATH})
        if "y" in out:
            out["label"] = out.pop("y")
        return out


class LineSource(Source):
    """A :class:`Source` whose units are text files and whose rows are their lines.

    Rows carry ``_bytes`` (the line, binary), ``_file`` (index into ``files``), ``line``
    (1-based) and, with labels, ``y``.
    """

    def __init__(self, fs: Any, files: list[str], labels: np.ndarray | None) -> None:
        self.fs, self.files, self.labels = fs, files, labels
        # no pyarrow dataset reads the lines: Source gets an empty stand-in (for its attributes)
        super().__init__(pads.dataset(self.schema.empty_table()), "lines")
        self._units = list(range(len(files)))  # unit i = file i

    def with_options(self, columns: Any = None, filter: Any = None) -> Source:
        raise DataError("text lines are read whole: select/filter after the decode step")

    @property
    def schema(self) -> pa.Schema:
        fields = [("_bytes", pa.binary()), ("_file", pa.int32()), ("line", pa.int64())]
        return pa.schema(fields + ([("y", pa.int64())] if self.labels is not None else []))

    def _blocks(self, unit: int) -> Iterator[bytes]:
        with open_binary(self.fs, self.files[unit]) as fh:
            while block := fh.read(_BLOCK):
                yield block

    def count(self, unit: int) -> int:
        """Lines in file ``unit`` (a counting pass over its blocks; cached)."""
        if unit not in self._counts:
            n, last = 0, b"\n"
            for block in self._blocks(unit):
                n, last = n + block.count(b"\n"), block[-1:]
            self._counts[unit] = n + (last != b"\n")  # a last line without "\n" still counts
        return self._counts[unit]

    def _lines(self, unit: int) -> Iterator[bytes]:
        carry: list[bytes] = []  # pieces of a line spanning blocks (joined once: no quadratic copy)
        for block in self._blocks(unit):
            parts = block.split(b"\n")
            if len(parts) == 1:
                carry.append(block)
                continue
            parts[0] = b"".join([*carry, parts[0]])
            last = parts.pop()  # the unfinished line (b"" when the block ends with \n)
            carry = [last] if last else []
            yield from parts
        if carry:
            yield b"".join(carry)

    def read(
        self, unit: int, start: int = 0, stop: int | None = None, batch_size: int = 65_536
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of lines ``[start, stop)`` (0-based) of file ``unit``."""
        pending: list[bytes] = []
        first = start  # 0-based index of pending[0]
        for i, line in enumerate(self._lines(unit)):
            if i < start:
                continue
            if stop is not None and i >= stop:
                break
            if i == 0:
                line = line.removeprefix(_BOM)
            pending.append(line.removesuffix(b"\r"))
            if len(pending) == batch_size:
                yield self._batch(unit, first, pending)
                first, pending = first + len(pending), []
        if pending:
            yield self._batch(unit, first, pending)

    def _batch(self, unit: int, first: int, lines: list[bytes]) -> pa.RecordBatch:
        n = len(lines)
        cols = [
            pa.array(lines, pa.binary()),
            pa.array(np.full(n, unit, np.int32)),
            pa.array(np.arange(first + 1, first + n + 1, dtype=np.int64)),  # 1-based
        ]
        if self.labels is not None:
            cols.append(pa.array(np.full(n, self.labels[unit], np.int64)))
        return pa.RecordBatch.from_arrays(cols, schema=self.schema)


class LineDecoder:
    """Decode step for ``mode="lines"`` (arrow map): UTF-8 validation, quarantine, renames."""

    def __init__(self, files: list[str], report: Quarantine, line_numbers: bool) -> None:
        self.files, self.report, self.line_numbers = files, report, line_numbers

    def __call__(self, rb: pa.RecordBatch) -> pa.RecordBatch:
        texts, ok = _decode(rb.column("_bytes"))
        if not ok.all():
            bad = rb.filter(pa.array(~ok))
            for raw, f, line in zip(
                *(bad.column(c).to_pylist() for c in ("_bytes", "_file", "line"))
            ):
                detail = _utf8_detail(raw)
                shown = raw.decode("utf-8", errors="backslashreplace")
                self.report.add(self.files[f], line, "invalid_utf8", detail, shown)
            rb = rb.filter(pa.array(ok))
        cols, names = [texts], ["text"]
        if self.line_numbers:
            cols, names = [*cols, rb.column("line")], [*names, "line"]
        if "y" in rb.schema.names:
            cols, names = [*cols, rb.column("y")], [*names, "label"]
        return pa.RecordBatch.from_arrays(cols, names)


def scan_text(
    source: PathLike,
    *,
    mode: str = "files",
    labels: str | None = None,
    line_numbers: bool = False,
    quarantine: str | os.PathLike | None = None,
    chunk_rows: int = 256,
) -> FileDataset:
    """Lazily streams text files (``mode="files"``) or their lines (``mode="lines"``).

    Args:
        source: A folder (``*.txt`` files, recursively), glob, file, fsspec URL, or a list.
        mode: ``"files"``: one row per file. ``"lines"``: one row per line.
        labels: ``"folders"``: ``source`` is a root with one subfolder per class
            (``root/<class>/*.txt``); adds an int64 ``label`` column (sorted class names ->
            index, in ``ds.class_names``). ``None``: no label.
        line_numbers: With ``mode="lines"``, add the 1-based ``line`` column.
        quarantine: A ``.jsonl`` file to append bad rows to (reason ``invalid_utf8``); they
            are also in ``ds.quarantined``.
        chunk_rows: ``mode="files"``: files per unit and decode step. ``mode="lines"``: lines
            per read chunk (units are whole files).

    Returns:
        A :class:`~deepfuse.data.streaming.listing.FileDataset` of ``text`` (str) rows.

    Example:
        >>> ds = scan_text("aclImdb/train", labels="folders").shuffle(25_000, seed=0)  # doctest: +SKIP
        >>> next(iter(ds.batch(32, to_tensor=encode)))  # doctest: +SKIP
    """
    if mode not in ("files", "lines"):
        raise ConfigError(f"mode={mode!r} is not valid: expected 'files' or 'lines'")
    listing: Listing = list_files(source, "text", labels)
    report = Quarantine(quarantine)
    what = f"text {mode}, {len(listing.paths)} file(s)"
    if mode == "files":
        src: Source = listing_source(listing.table(), chunk_rows)
        decoder: Any = TextFileDecoder(listing.fs, report)
        batch_format = "numpy"
    else:
        src = LineSource(listing.fs, listing.paths, listing.labels)
        decoder, batch_format = LineDecoder(listing.paths, report, line_numbers), "arrow"
    ds = FileDataset.over(listing, src, report, chunk_rows, what)
    return ds.map(decoder, batch_format=batch_format)  # type: ignore[return-value]


def read_text(source: PathLike, **options: Any) -> pa.Table:
    """Eager twin of :func:`scan_text`: ``scan_text(source, **options).collect()``.

    Example:
        >>> table = read_text("corpus/", mode="lines")  # doctest: +SKIP
    """
    return scan_text(source, **options).collect()
