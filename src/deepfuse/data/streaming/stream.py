"""The row stream: reads a plan chunk by chunk, applies per-chunk ops, shuffles in windows.

Shuffling is a *window* shuffle: rows are read (in the epoch's unit order) until at least
``buffer_size`` rows are held, that window is permuted with an RNG seeded by
``(seed, epoch, rank, window index)`` and handed out, then the next window is read. Together with
the per-epoch unit-order shuffle this mixes rows across files and row groups, and it makes the
stream's position four integers (plan slice, row offset, window index, rows already taken from
the window): resuming re-reads one window (at most ``buffer_size`` + one read chunk of rows),
re-derives the identical permutation and skips the rows already emitted. Nothing is replayed or
skipped, and memory never exceeds one window plus the chunk being read.

Where the chunks come from is a :class:`ChunkFeed`: :class:`LocalFeed` reads and transforms them
in this process; :class:`~deepfuse.data.streaming.workers.WorkerFeed` has worker processes do it.
Either way the stream asks for the chunks in plan order, so the rows, windows and positions are
the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from deepfuse._utils.errors import DataError
from deepfuse.data.streaming.plan import Slice
from deepfuse.data.streaming.sources import Source

Columns = dict[str, np.ndarray]
Op = tuple[str, Any, str]  # (kind, argument, batch_format) with kind in select/filter/map


def to_numpy(data: pa.RecordBatch | Columns) -> Columns:
    """A record batch (or a column dict) as ``{name: numpy array}`` (strings become objects)."""
    if isinstance(data, dict):
        return {k: np.asarray(v) for k, v in data.items()}
    return {n: c.to_numpy(zero_copy_only=False) for n, c in zip(data.schema.names, data.columns)}


def to_arrow(data: pa.RecordBatch | Columns) -> pa.RecordBatch:
    """A column dict (or record batch) as a ``pyarrow.RecordBatch``."""
    return data if isinstance(data, pa.RecordBatch) else pa.RecordBatch.from_pydict(data)


def _length(data: pa.RecordBatch | Columns) -> int:
    if isinstance(data, pa.RecordBatch):
        return data.num_rows
    return len(next(iter(data.values()))) if data else 0


def apply_ops(rb: pa.RecordBatch, ops: Sequence[Op]) -> Columns:
    """Runs select / filter / map ops, in the order they were chained, on one chunk."""
    data: pa.RecordBatch | Columns = rb
    for kind, arg, fmt in ops:
        if kind == "select":
            data = (
                data.select(arg) if isinstance(data, pa.RecordBatch) else {k: data[k] for k in arg}
            )
        elif kind == "filter" and isinstance(arg, pc.Expression):
            data = to_arrow(data).filter(arg)
        else:
            view = to_arrow(data) if fmt == "arrow" else to_numpy(data)
            out = arg(view)
            if kind == "filter":
                mask = np.asarray(
                    out.to_numpy(zero_copy_only=False) if hasattr(out, "to_numpy") else out
                )
                if mask.dtype != bool or mask.shape != (_length(view),):
                    raise DataError(
                        f"filter function returned {mask.dtype} of shape {mask.shape}: expected a "
                        f"boolean mask of shape ({_length(view)},), one value per row"
                    )
                data = (
                    view.filter(pa.array(mask))
                    if fmt == "arrow"
                    else {k: v[mask] for k, v in view.items()}
                )
            elif not isinstance(out, dict | pa.RecordBatch):
                raise DataError(
                    f"map function returned {type(out).__name__}: expected a dict of arrays "
                    "(batch_format='numpy') or a pyarrow.RecordBatch (batch_format='arrow')"
                )
            else:
                data = out
    return to_numpy(data)


class ChunkFeed(Protocol):
    """Hands out a plan's chunks, transformed, in plan order."""

    def next_chunk(self, s: int, off: int) -> tuple[int, Columns] | None:
        """The chunk of plan slice ``s`` starting ``off`` rows in (rows counted before ops).

        Returns ``(rows read from the unit, columns after the ops)``, or ``None`` at the end of
        the slice. Calls come in order: the next one asks for ``(s, off + rows read)``, or for
        ``(s + 1, 0)`` after ``None``.
        """
        ...

    def close(self) -> None:
        """Releases readers (and worker processes); the feed is not used afterwards."""
        ...


class LocalFeed:
    """Reads and transforms chunks in this process, reusing the open reader while calls follow on.

    Example:
        >>> import pyarrow.dataset as pads
        >>> from deepfuse.data.streaming.sources import Source
        >>> src = Source(pads.dataset(pa.table({"a": [1, 2, 3]})), "json")  # in-memory: one unit
        >>> feed = LocalFeed(src, [(0, 1, None)], [], read_batch_size=8)
        >>> rows, cols = feed.next_chunk(0, 0)
        >>> rows, cols["a"].tolist(), feed.next_chunk(0, rows)
        (2, [2, 3], None)
    """

    def __init__(
        self, source: Source, plan: list[Slice], ops: Sequence[Op], read_batch_size: int
    ) -> None:
        self.source, self.plan, self.ops = source, plan, ops
        self.read_batch_size = read_batch_size
        self._reader: Iterator[pa.RecordBatch] | None = None
        self._reader_at = (-1, -1)  # the (slice, offset) the open reader yields next

    def next_chunk(self, s: int, off: int) -> tuple[int, Columns] | None:
        if self._reader is None or self._reader_at != (s, off):
            unit, start, stop = self.plan[s]
            self._reader = self.source.read(unit, start + off, stop, self.read_batch_size)
        rb = next(self._reader, None)
        if rb is None:
            self._reader, self._reader_at = None, (-1, -1)
            return None
        self._reader_at = (s, off + rb.num_rows)
        return rb.num_rows, apply_ops(rb, self.ops)

    def close(self) -> None:
        self._reader = None


FeedFactory = Callable[[int, int], ChunkFeed]  # (first slice, its offset) -> a started feed


class RowStream:
    """Rows of one rank's plan for one epoch, window-shuffled, with a resumable position.

    Args:
        source: Where the rows come from.
        plan: This rank's slices (see :func:`~deepfuse.data.streaming.plan.make_plan`).
        ops: Per-chunk select/filter/map ops.
        window_rows: Rows held before a window is released (the shuffle buffer); 1 = no buffer.
        seed: Shuffle seed, or ``None`` to keep rows in read order.
        epoch: Epoch, mixed into the window RNG.
        rank: Rank, mixed into the window RNG.
        read_batch_size: Rows per record batch read from disk.
        state: A position from :meth:`state` to resume from, or ``None`` to start the epoch.
        feed: Starts the chunk feed at the stream's first position; default: a
            :class:`LocalFeed`. Call :meth:`close` when done with the stream.
    """

    def __init__(
        self,
        source: Source,
        plan: list[Slice],
        ops: Sequence[Op],
        window_rows: int,
        seed: int | None,
        epoch: int,
        rank: int,
        read_batch_size: int,
        state: dict[str, int] | None = None,
        feed: FeedFactory | None = None,
    ) -> None:
        self.source, self.plan, self.ops = source, plan, ops
        self.window_rows, self.seed, self.epoch, self.rank = max(window_rows, 1), seed, epoch, rank
        self.read_batch_size = read_batch_size
        st = state or {}
        self.slice, self.offset = st.get("slice", 0), st.get("offset", 0)  # window start
        self.window, self.consumed = st.get("window", 0), st.get("consumed", 0)
        self._cols: Columns | None = None
        self._len = 0
        self._next = (self.slice, self.offset)  # where the window after this one starts
        self._last = False
        self.peak_rows = 0  # most rows held at once (window), for memory checks
        if feed is None:
            self._feed: ChunkFeed = LocalFeed(source, plan, ops, read_batch_size)
        else:
            self._feed = feed(self.slice, self.offset)

    def close(self) -> None:
        """Stops the chunk feed (worker processes exit); safe to call more than once."""
        self._feed.close()

    def state(self) -> dict[str, int]:
        """Position of the next row to emit: plan slice and offset of the window, window, taken."""
        return {
            "slice": self.slice,
            "offset": self.offset,
            "window": self.window,
            "consumed": self.consumed,
        }

    def _fill(self) -> None:
        self._cols = None  # the previous window is fully taken: free it before reading more
        chunks: list[Columns] = []
        n, s, off = 0, self.slice, self.offset
        while n < self.window_rows and s < len(self.plan):
            got = self._feed.next_chunk(s, off)
            if got is None:
                s, off = s + 1, 0
                continue
            raw, cols = got
            off += raw  # offsets count rows read, before filters: stable across resumes
            rows = _length(cols)
            if rows:
                chunks.append(cols)
                n += rows
        self._next = (s, off)
        self._last = s >= len(self.plan)  # nothing left after this window
        self._len = n
        if not chunks:
            self._cols = {}
            return
        rng = (
            None
            if self.seed is None
            else np.random.default_rng([self.seed, self.epoch, self.rank, self.window])
        )
        perm = None if rng is None else rng.permutation(n)
        cols: Columns = {}
        for k in chunks[0]:
            # column by column so only one column's concatenation is alive at a time
            col = chunks[0][k] if len(chunks) == 1 else np.concatenate([c[k] for c in chunks])
            cols[k] = col if perm is None else col[perm]
        self._cols = cols
        self.peak_rows = max(self.peak_rows, n)

    def _ready(self) -> bool:
        """Makes sure the current window has a row left; False at the end of the epoch."""
        if self._cols is None:
            self._fill()
        while self.consumed >= self._len:
            if self._last:
                return False
            self.slice, self.offset = self._next
            self.window, self.consumed = self.window + 1, 0
            self._fill()
        return True

    def take(self, n: int) -> Columns | None:
        """Up to ``n`` next rows as columns (fewer only at the end), or ``None`` when done."""
        parts: list[Columns] = []
        need = n
        while need > 0 and self._ready():
            assert self._cols is not None
            k = min(need, self._len - self.consumed)
            a = self.consumed
            parts.append({c: v[a : a + k] for c, v in self._cols.items()})
            self.consumed += k
            need -= k
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}

    def chunks(self) -> Iterator[Columns]:
        """The rest of the stream, one window remainder at a time (for unbatched iteration)."""
        while self._ready():
            out = self.take(self._len - self.consumed)
            if out is not None:
                yield out
