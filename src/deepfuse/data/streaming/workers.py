"""Worker processes that read and transform chunks; the parent keeps order, shuffle and state.

With ``k`` workers, worker ``i`` takes the epoch's plan slices ``first + i, first + i + k, ...``
(``first`` is the slice the stream starts or resumes at; that one starts at the resumed row
offset, the others at 0). For each slice it reads the same chunks the parent would read
(:meth:`Source.read` with the same batch size), runs the select/filter/map ops and sends
``(slice, offset, rows read, columns)`` down its own pipe. The parent's :class:`RowStream` asks for
chunks in plan order and :class:`WorkerFeed` reads each from the pipe of the worker that owns its
slice, so windows, shuffles, batches and resume positions are the same as without workers.

Transfer: a JSON header, then the columns as Arrow IPC (serialized schema + record batch) sent with
``Connection.send_bytes``: nothing is pickled, nothing executable comes back from a worker, and the
parent reads the arrays zero-copy from the received bytes. Numpy dtypes are restored on arrival;
multi-dimensional columns (images) go as Arrow fixed-shape tensors. Bad CSV/JSON rows a worker
quarantines are replayed into this process's report with the chunk they belong to.

Memory: a worker's sender thread takes chunks from a queue of ``depth`` and writes them to the pipe
while the worker computes the next, so at most ``k * (depth + 2)`` chunks are in flight (plus what
fits in the OS pipe buffer, 64 KiB on Linux). Parallelism comes from slices (Parquet row groups,
CSV/JSON files): while the parent drains one slice, the other workers can only get ``depth`` chunks
ahead, so units of a few read chunks each parallelise best.

Start: ``fork`` where the platform has it (user lambdas in ``map`` work, nothing is pickled);
elsewhere, or with ``start_method="spawn"``, the source and ops are pickled into the workers, so
maps must be module-level functions. Workers are daemons, ignore Ctrl-C (the parent decides) and
are stopped by :meth:`WorkerFeed.close`, by garbage collection, or at interpreter exit.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import queue
import signal
import threading
import time
import traceback
import weakref
from collections.abc import Sequence
from multiprocessing.reduction import ForkingPickler
from typing import Any

import numpy as np
import pyarrow as pa

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.data.streaming.plan import Slice
from deepfuse.data.streaming.sources import Source
from deepfuse.data.streaming.stream import Columns, Op, _length, apply_ops

_DTYPES_KEY = b"deepfuse.dtypes"
_POLL_S = 0.1  # how often blocked puts/gets look at the stop flag and worker liveness


def default_start_method() -> str:
    """``"fork"`` where available (Linux), else ``"spawn"``.

    Example:
        >>> default_start_method() in ("fork", "spawn")
        True
    """
    return "fork" if "fork" in mp.get_all_start_methods() else "spawn"


# ---------------------------------------------------------------------------------- transfer
def encode_columns(cols: Columns) -> list[pa.Buffer]:
    """Columns as Arrow IPC: ``[serialized schema, serialized record batch]``.

    The numpy dtypes ride along as schema metadata, so :func:`decode_columns` restores them.

    Example:
        >>> cols = decode_columns(encode_columns({"a": np.arange(3), "img": np.ones((3, 2, 2))}))
        >>> cols["a"].tolist(), cols["img"].shape
        ([0, 1, 2], (3, 2, 2))
    """
    arrays, dtypes = [], {}
    for name, col in cols.items():
        arr = np.asarray(col)
        dtypes[name] = arr.dtype.str
        try:
            if arr.ndim > 1:  # (N, ...) -> one fixed-shape tensor per row
                arrays.append(
                    pa.FixedShapeTensorArray.from_numpy_ndarray(np.ascontiguousarray(arr))
                )
            else:
                arrays.append(pa.array(arr))
        except (pa.ArrowException, TypeError, ValueError) as err:
            raise DataError(
                f"column {name!r} ({arr.dtype}, shape {arr.shape}) cannot be sent from a worker "
                f"process as Arrow data ({err}): expected numbers, booleans, strings or "
                "fixed-shape numeric arrays; convert it in map(...) or use num_workers=0"
            ) from err
    meta = {_DTYPES_KEY: json.dumps(dtypes).encode()}
    rb = pa.RecordBatch.from_arrays(arrays, names=list(cols), metadata=meta)
    return [rb.schema.serialize(), rb.serialize()]  # one exact-size copy of the data


def decode_columns(parts: Sequence[Any]) -> Columns:
    """Inverse of :func:`encode_columns` (numeric columns are zero-copy views, so read-only)."""
    schema = pa.ipc.read_schema(pa.py_buffer(parts[0]))
    rb = pa.ipc.read_record_batch(pa.py_buffer(parts[1]), schema)
    dtypes = json.loads(schema.metadata[_DTYPES_KEY])
    out: Columns = {}
    for name, col in zip(schema.names, rb.columns):
        if isinstance(col, pa.FixedShapeTensorArray):
            arr = col.to_numpy_ndarray()
        else:
            arr = col.to_numpy(zero_copy_only=False)
        want = np.dtype(dtypes[name])
        out[name] = arr if arr.dtype == want else arr.astype(want)  # e.g. '<U3' came back as str
    return out


def describe_unit(source: Source, unit: int) -> str:
    """``"file 'a.parquet', row group 2"`` (or just the file for CSV/JSON), for error messages."""
    frag = source.units[unit]
    where = f"file {getattr(frag, 'path', '?')!r}"
    if source.fmt == "parquet":
        where += f", row group {frag.row_groups[0].id}"
    return where


# ---------------------------------------------------------------------------------- worker side
def _header(*fields: Any) -> bytes:
    return json.dumps(fields).encode()


def _put(outbox: queue.Queue, stop: Any, item: list | None) -> bool:
    """Queues ``item`` for the sender thread; False once the parent stopped or died."""
    parent = mp.parent_process()
    while not stop.is_set():
        try:
            outbox.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            if parent is not None and not parent.is_alive():  # killed parent: do not linger
                return False
    return False


def _report_of(source: Source) -> Any | None:
    """The source's bad-row report (CSV/JSON quarantine), if it has one."""
    return getattr(getattr(source, "rows", None), "report", None)


def _record_adds(source: Source) -> list[list[Any]]:
    """Makes the worker's copy of the bad-row report log its ``add`` calls instead of writing.

    The calls travel to the parent with the chunk they were made for and are recorded there, in
    plan order, so the quarantine file holds the same records in the same order as without
    workers.
    """
    calls: list[list[Any]] = []
    report = _report_of(source)
    if report is not None:

        def logged_add(*args: Any) -> None:
            calls.append(list(args))  # (file, line, reason, detail, raw): JSON-able

        report.add = logged_add  # this process's copy only
    return calls


def _take(calls: list[list[Any]]) -> list[list[Any]]:
    out = list(calls)
    calls.clear()
    return out


def _send_all(conn: Any, outbox: queue.Queue) -> None:
    """Sender thread: writes queued messages to the pipe (the worker computes meanwhile)."""
    while (parts := outbox.get()) is not None:
        try:
            for part in parts:
                conn.send_bytes(part)  # buffer protocol: the Arrow buffers go out uncopied
        except OSError:  # the parent closed its end: nobody wants the rest
            return


def _work(
    index: int,
    k: int,
    source: Source,
    plan: list[Slice],
    ops: Sequence[Op],
    read_batch_size: int,
    first: tuple[int, int],
    depth: int,
    conn: Any,
    stop: Any,
) -> None:
    """Worker body: slices ``first[0] + index :: k``, each chunk as header (+ schema, batch)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: parent decides
    outbox: queue.Queue = queue.Queue(maxsize=depth)
    sender = threading.Thread(target=_send_all, args=(conn, outbox), daemon=True)
    sender.start()
    calls = _record_adds(source)
    s, where = first[0] + index, "before reading"
    try:
        for s in range(first[0] + index, len(plan), k):
            unit, start, stop_row = plan[s]
            off = first[1] if s == first[0] else 0
            where = describe_unit(source, unit)
            for rb in source.read(unit, start + off, stop_row, read_batch_size):
                cols = apply_ops(rb, ops)
                parts = encode_columns(cols) if _length(cols) else []
                head = _header("chunk", s, off, rb.num_rows, len(parts), _take(calls))
                if not _put(outbox, stop, [head, *parts]):
                    return
                off += rb.num_rows
            if not _put(outbox, stop, [_header("end", s, _take(calls))]):
                return
    except BaseException as err:  # reported to the parent, which raises it with the unit named
        text = f"{type(err).__name__}: {err}"
        if not _put(outbox, stop, [_header("error", s, where, text, traceback.format_exc())]):
            return
    # done: let the sender flush what the parent has not read yet, unless told to stop
    if _put(outbox, stop, None):
        while sender.is_alive() and not stop.is_set():
            sender.join(_POLL_S)


# ---------------------------------------------------------------------------------- parent side
def _shutdown(procs: list[Any], stop: Any) -> None:
    """Stops workers: flag, short join, then terminate/kill; safe to call more than once."""
    stop.set()  # workers stop within _POLL_S unless busy in a read or map
    deadline = time.monotonic() + 2.0
    for p in procs:
        p.join(timeout=max(deadline - time.monotonic(), 0.0))
    for p in procs:
        if p.is_alive():
            p.terminate()
            p.join(timeout=1.0)
        if p.is_alive():
            p.kill()
            p.join()


class WorkerFeed:
    """A :class:`~deepfuse.data.streaming.stream.ChunkFeed` whose chunks come from worker processes.

    Args:
        source: Where the rows come from (its units are listed before the workers start).
        plan: This rank's slices for the epoch.
        ops: Per-chunk select/filter/map ops, run in the workers.
        read_batch_size: Rows per read chunk (the same as without workers).
        first: ``(slice, offset)`` the stream starts at.
        num_workers: Number of worker processes, >= 1.
        depth: Chunks each worker may have ready ahead (queue size), >= 1.
        start_method: ``"fork"``, ``"spawn"`` or ``"forkserver"``; ``None`` picks
            :func:`default_start_method`.

    Example:
        >>> import pyarrow.dataset as pads
        >>> src = Source(pads.dataset(pa.table({"a": list(range(5))})), "json")  # one unit
        >>> feed = WorkerFeed(src, [(0, 0, None)], [], 2, (0, 0), num_workers=1, depth=2)
        >>> [feed.next_chunk(0, 0)[1]["a"].tolist(), feed.next_chunk(0, 2)[0]]
        [[0, 1], 2]
        >>> feed.close()
    """

    def __init__(
        self,
        source: Source,
        plan: list[Slice],
        ops: Sequence[Op],
        read_batch_size: int,
        first: tuple[int, int],
        *,
        num_workers: int,
        depth: int,
        start_method: str | None = None,
    ) -> None:
        method = start_method or default_start_method()
        allowed = mp.get_all_start_methods()
        if method not in allowed:
            raise ConfigError(
                f"start_method {method!r} is not available here: expected one of {allowed}"
            )
        self.source, self.plan, self.first, self.k = source, plan, first, max(int(num_workers), 1)
        _ = source.units  # list fragments once here, not once per worker
        self._report = _report_of(source)
        ctx = mp.get_context(method)
        args = (source, plan, tuple(ops), read_batch_size, first)
        if method != "fork":
            _check_picklable(args, method)
        self._stop = ctx.Event()
        self._procs: list[Any] = []
        self._conns: list[Any] = []
        # registered before starting, so a failed start still cleans up what did start
        self._finalizer = weakref.finalize(self, _shutdown, self._procs, self._stop)
        for i in range(self.k):
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_work,
                args=(i, self.k, *args, max(int(depth), 1), writer, self._stop),
                name=f"deepfuse-stream-worker-{i}",
                daemon=True,  # never outlives the parent
            )
            self._procs.append(proc)
            proc.start()
            writer.close()  # the worker holds the only write end: its exit reads as EOF here
            self._conns.append(reader)
        self._expect = first  # the (slice, offset) the next call must ask for

    def next_chunk(self, s: int, off: int) -> tuple[int, Columns] | None:
        if (s, off) != self._expect:  # the stream reads in plan order; anything else is a bug
            raise RuntimeError(f"WorkerFeed asked for {(s, off)}, expected {self._expect}")
        w = (s - self.first[0]) % self.k
        msg = json.loads(self._recv(w, s))
        if msg[0] == "error":
            _, bad, where, text, tb = msg
            raise DataError(
                f"stream worker failed on plan slice {bad} ({where}): {text}; fix the map/filter "
                f"function or the file (or use num_workers=0 to debug in-process). "
                f"Worker traceback:\n{tb}"
            )
        if msg[1] != s or (msg[0] == "chunk" and msg[2] != off):
            raise RuntimeError(f"worker sent {msg[:3]} while {(s, off)} was expected")
        for args in msg[-1]:  # bad rows the worker met: into this process's report
            self._report.add(*args)
        if msg[0] == "end":
            self._expect = (s + 1, 0)
            return None
        _, _, _, rows, n_parts, _ = msg
        parts = [self._recv(w, s) for _ in range(n_parts)]
        self._expect = (s, off + rows)
        return rows, decode_columns(parts) if parts else {}

    def _recv(self, w: int, s: int) -> bytes:
        """Next message of worker ``w``; raises if the feed was closed or the worker died."""
        conn, proc = self._conns[w], self._procs[w]
        while True:
            if not self._finalizer.alive:
                raise DataError("the stream's worker processes were stopped; start a new iteration")
            try:
                if conn.poll(_POLL_S):
                    return conn.recv_bytes()
            except EOFError:
                pass  # the worker closed its end: it exited
            else:
                if proc.is_alive():
                    continue
            proc.join(timeout=1.0)
            raise DataError(
                f"stream worker {w} exited with code {proc.exitcode} while reading plan slice "
                f"{s} ({describe_unit(self.source, self.plan[s][0])}): expected it to send "
                "rows; a negative code is the signal that killed it (-9: often out of "
                "memory; lower prefetch depth, num_workers or read_batch_size)"
            )

    def close(self) -> None:
        """Stops and reaps the worker processes (also done on garbage collection)."""
        self._finalizer()

    @property
    def processes(self) -> list[Any]:
        """The worker ``Process`` objects (for diagnostics and tests)."""
        return list(self._procs)


def _check_picklable(args: tuple, method: str) -> None:
    try:
        ForkingPickler.dumps(args)
    except Exception as err:
        raise ConfigError(
            f"num_workers with start_method={method!r} must pickle the source and the "
            f"map/filter functions, which failed: {err}. Use module-level functions instead of "
            "lambdas or local functions, or start_method='fork' where the platform has it "
            f"(available: {mp.get_all_start_methods()})"
        ) from err
