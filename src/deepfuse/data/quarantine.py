"""The one quarantine: bad rows are left out of the data and recorded, never dropped silently.

Used by ``deepfuse prepare`` (``<out>/_quarantine.jsonl``) and by every streaming source
(``scan_csv`` / ``scan_jsonl`` / ``scan_images`` / ``scan_text``: ``ds.quarantined`` and their
``quarantine=`` file). One JSON object per line, always these fields in this order: ``file``,
``line`` (1-based, or ``null`` for a whole file such as an image), ``reason`` (a short code such
as ``invalid_number`` or ``corrupt_image``), ``detail`` (human-readable) and ``raw`` (the
offending text, or ``null``).

The JSON-lines file is the single source of truth, so memory stays bounded (this process keeps
counts, and the ``(file, line)`` keys when deduplicating, never the records) and records written
by any process (prefetch threads, data-loading worker processes) end up in one report:

* each record is appended with one ``write`` on an ``O_APPEND`` descriptor, under an advisory
  ``flock``, so a line lands whole and at the end; a line cut by a crash is skipped on reading,
  and the next record starts on a fresh line;
* before appending, the records other processes added since this one last looked are read
  (only those bytes), so a second epoch, a resumed run or another worker meeting the same
  ``(file, line)`` adds nothing;
* records already in the file when it is opened (an earlier, resumed run) count as known.

Without a path the file lives in the temp folder and is deleted with the quarantine.

Example:
    >>> import warnings
    >>> q = Quarantine()
    >>> q.add("a.csv", 3, "invalid_number", "column 'x'", "oops,1")
    >>> q.add("a.csv", 3, "invalid_number", "column 'x'", "oops,1")  # met again: known
    >>> q.add("b.png", None, "corrupt_image", "cannot identify image file")
    >>> [(r["file"], r["line"], r["reason"]) for r in q.records]
    [('a.csv', 3, 'invalid_number'), ('b.png', None, 'corrupt_image')]
    >>> len(q), q.by_reason()
    (2, {'corrupt_image': 1, 'invalid_number': 1})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     _ = q.end_epoch(0, "scan_csv")
    >>> str(caught[0].message)
    "scan_csv: 2 malformed row(s) skipped in epoch 0 (2 in total): 'a.csv' (line 3); 'b.png' (line None); see ds.quarantined"
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import uuid
import warnings
import weakref
from pathlib import Path
from typing import Any

from deepfuse._utils.bounded import loads_json
from deepfuse._utils.errors import DataError

try:  # advisory locks between processes; absent on Windows, where threads still serialise
    import fcntl
except ImportError:  # pragma: no cover - POSIX test machines
    fcntl = None  # type: ignore[assignment]

__all__ = ["QUARANTINE_NAME", "Quarantine"]

#: The quarantine file ``deepfuse prepare`` writes beside its shards.
QUARANTINE_NAME = "_quarantine.jsonl"

Key = tuple[str, int | None]


class Quarantine:
    """Bad rows, one JSON line each, in an append-only file shared by every process.

    Args:
        path: The ``.jsonl`` file to append to (its folder is created on the first record).
            ``None``: a private temp file, removed when this object is garbage-collected.
        dedupe: Record each ``(file, line)`` once however often it is met (streaming: every
            epoch meets the same bad rows). ``False`` when every row is met once (``prepare``):
            then not even the keys are held in memory.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, dedupe: bool = True) -> None:
        self._owned = path is None
        if path is None:
            path = Path(tempfile.gettempdir()) / f"deepfuse-quarantine-{uuid.uuid4().hex}.jsonl"
            # only the creating process removes it: not forked or pickled worker copies
            weakref.finalize(self, _unlink, str(path), os.getpid())
        self.path = Path(path)
        self.dedupe = dedupe
        self._met: dict[Key, None] = {}  # met this epoch, in order (for the epoch's warning)
        self._reset()

    def _reset(self) -> None:
        """Per-process state (a pickled copy starts from an empty view of the file)."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._offset = 0  # bytes of the file already counted
        self._cut = False  # the file ends inside a line (a crash mid-write)
        self._keys: set[Key] = set()
        self._counts: dict[str, int] = {}

    def __getstate__(self) -> dict[str, Any]:  # a worker process appends to the same file
        return {"path": str(self.path), "dedupe": self.dedupe, "owned": self._owned}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self.dedupe, self._met = Path(state["path"]), state["dedupe"], {}
        self._owned = state["owned"]
        self._reset()

    # ------------------------------------------------------------------------- writing

    def add(
        self, file: str, line: int | None, reason: str, detail: str, raw: str | None = None
    ) -> None:
        """Records one bad row (unless deduplicating and ``(file, line)`` is already recorded)."""
        key: Key = (file, line)
        self._met[key] = None
        if self.dedupe and key in self._keys:
            return
        record = {"file": file, "line": line, "reason": reason, "detail": detail, "raw": raw}
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._locked(create=True) as fd:
            if self.dedupe and key in self._keys:  # another process wrote it meanwhile
                return
            if self._cut:  # start on a fresh line after a crash remnant
                data, self._cut = b"\n" + data, False
            os.write(fd, data)  # one write on O_APPEND: the line lands whole, at the end
            self._offset += len(data)
            self._count(key, reason)

    def flush(self) -> None:
        """Flushes the records written so far to disk (``fsync``)."""
        with self._locked(create=False) as fd:
            if fd is not None:
                os.fsync(fd)

    def close(self) -> None:
        """Flushes the file; nothing stays open between calls, so this is all closing needs."""
        self.flush()

    # ------------------------------------------------------------------------- reading

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every recorded bad row (once per ``(file, line)`` when deduplicating), in file order."""
        out, keys = [], set()
        for r in _read_records(self.path):
            key = (r["file"], r["line"])
            if not self.dedupe or key not in keys:
                keys.add(key)
                out.append(r)
        return out

    def by_reason(self) -> dict[str, int]:
        """Bad-row count per reason (every process's records), sorted by reason.

        Example:
            >>> Quarantine().by_reason()
            {}
        """
        with self._locked(create=False):
            return dict(sorted(self._counts.items()))

    def __len__(self) -> int:
        return sum(self.by_reason().values())

    def end_epoch(self, epoch: int, what: str) -> str | None:
        """The epoch's summary line (also issued as a warning), or ``None`` if it met no bad row."""
        met, self._met = list(self._met), {}
        if not met:
            return None
        by_file: dict[str, list[int | None]] = {}
        for file, line in met:
            by_file.setdefault(file, []).append(line)
        for lines in by_file.values():
            lines.sort(key=lambda n: -1 if n is None else n)
        where = "; ".join(
            f"{file!r} (line{'s' if len(lines) > 1 else ''} "
            f"{', '.join(str(n) for n in lines[:5])}{', ...' if len(lines) > 5 else ''})"
            for file, lines in list(by_file.items())[:3]
        )
        more = f" and {len(by_file) - 3} more file(s)" if len(by_file) > 3 else ""
        target = "" if self._owned else f" and '{self.path}'"
        message = (
            f"{what}: {len(met)} malformed row(s) skipped in epoch {epoch} "
            f"({len(self)} in total): {where}{more}; see ds.quarantined{target}"
        )
        warnings.warn(message, UserWarning, stacklevel=4)  # the user's loop over the dataset
        return message

    # ------------------------------------------------------------------------- the file

    @contextlib.contextmanager
    def _locked(self, *, create: bool) -> Any:
        """Opens the file under this process's lock and its ``flock``, caught up with the other
        writers; yields the descriptor, or ``None`` when the file does not exist and ``create``
        is false. Nothing stays open afterwards (no descriptor to leak or share with a fork).
        """
        if self._pid != os.getpid():  # a forked copy: the lock may have been held at the fork
            self._pid, self._lock = os.getpid(), threading.Lock()
        with self._lock:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0)
                fd = os.open(self.path, flags, 0o666)
            except FileNotFoundError:
                yield None
                return
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)  # released by close()
                self._catch_up(fd)
                yield fd
            finally:
                os.close(fd)

    def _catch_up(self, fd: int) -> None:
        """Counts the records appended (by any process) since this one last looked."""
        size = os.fstat(fd).st_size
        if size <= self._offset:
            return
        data = os.pread(fd, size - self._offset, self._offset)
        self._offset = size
        lines = data.split(b"\n")
        self._cut = bool(lines[-1])  # no final newline: a line cut by a crash
        for raw in lines[:-1]:
            record = _parse(raw)
            if record is not None:
                key = (record["file"], record["line"])
                if not self.dedupe or key not in self._keys:
                    self._count(key, record["reason"])

    def _count(self, key: Key, reason: str) -> None:
        if self.dedupe:
            self._keys.add(key)
        self._counts[reason] = self._counts.get(reason, 0) + 1


def _parse(raw: bytes) -> dict[str, Any] | None:
    """One record, or ``None`` for a blank or cut line."""
    if not raw.strip():
        return None
    try:
        record = loads_json(raw, what="quarantine record")
    except DataError:  # a line cut by a crash mid-write
        return None
    return record if isinstance(record, dict) and "file" in record else None


def _read_records(path: Path) -> list[dict[str, Any]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return [r for r in map(_parse, data.split(b"\n")) if r is not None]


def _unlink(path: str, pid: int) -> None:
    if os.getpid() != pid:  # a forked worker collecting its copy must not delete the file
        return
    with contextlib.suppress(OSError):
        os.unlink(path)
