"""A lazy file source on top of ``pyarrow.dataset``: ordered units, counted and read in batches.

A :class:`Source` turns a ``pyarrow.dataset.Dataset`` into an ordered list of *units* (one
Parquet row group, or one CSV / JSON-lines file), each of which can be counted and read
record batch by record batch. Nothing here parses files by hand: pyarrow does the reading,
the column projection and the predicate push-down. The ``scan_*`` functions that build one are
in :mod:`deepfuse.data.streaming.scans`; path resolution is in :mod:`deepfuse.data.streaming.paths`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as pads

from deepfuse._utils.errors import DataError

if TYPE_CHECKING:
    from deepfuse.data.streaming.bad_rows import RowChecker

__all__ = ["Source"]

# pyarrow.dataset does not decompress these (pyarrow.csv does; pyarrow 26): it would parse the
# compressed bytes. The row checker reads such files (deepfuse.data.formats.open_decompressed).
_DATASET_CANNOT_OPEN = (".zst",)


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
        if unit not in self._careful and not self.units[unit].path.endswith(_DATASET_CANNOT_OPEN):
            try:
                for rb in self._fast_batches(unit, batch_size):
                    done += rb.num_rows
                    yield rb
                return
            except (pa.ArrowInvalid, UnicodeDecodeError):
                # pyarrow yields a block only when all of it converts, and the checker accepts
                # all that pyarrow accepts: the rows already given are the checker's first ones.
                # A byte the encoding cannot decode: the checker's reader names its offset.
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
