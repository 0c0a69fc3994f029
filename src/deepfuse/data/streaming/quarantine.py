"""The quarantine report of a streaming source: bad rows are dropped from the stream and recorded.

One JSON object per line, with the fields of ``deepfuse prepare``'s ``_quarantine.jsonl``:
``file``, ``line`` (1-based, or ``null`` for whole files), ``reason`` (a short code such as
``corrupt_image`` or ``invalid_utf8``), ``detail`` (human-readable) and ``raw`` (the offending
text, or ``null``).

The JSON-lines file is the single source of truth, so records written by any process (prefetch
threads, data-loading worker processes) end up in one report: each record is appended with one
``write`` on an ``O_APPEND`` descriptor, under an advisory ``flock``, after checking that the same
``(file, line)`` is not there yet; a second epoch over the same bad row adds nothing. (CSV/JSON
sources keep theirs in memory: :class:`deepfuse.data.streaming.bad_rows.QuarantineReport`; image
and text decoding may run in forked worker processes, hence the file here.)
Without a user path the file lives in the temp folder and is deleted with the report.

Example:
    >>> report = QuarantineLog()
    >>> report.add("a.png", None, "corrupt_image", "cannot identify image file")
    >>> report.add("a.png", None, "corrupt_image", "cannot identify image file")  # 2nd epoch
    >>> [(r["file"], r["reason"]) for r in report.records]
    [('a.png', 'corrupt_image')]
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import uuid
import weakref
from pathlib import Path
from typing import Any

try:  # advisory locks between processes; absent on Windows, where threads still serialise
    import fcntl
except ImportError:  # pragma: no cover - POSIX test machines
    fcntl = None  # type: ignore[assignment]

Key = tuple[str, int | None]


class QuarantineLog:
    """Deduplicated, append-only record of the rows a source dropped.

    Args:
        path: The ``.jsonl`` file to append to (its folder is created); records already in it
            (from an earlier, resumed run) count as known. ``None``: a private temp file,
            removed when the report is garbage-collected.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self._owned = path is None
        if path is None:
            path = Path(tempfile.gettempdir()) / f"deepfuse-quarantine-{uuid.uuid4().hex}.jsonl"
            # only the creating process removes it: not forked or pickled worker copies
            weakref.finalize(self, _unlink, str(path), os.getpid())
        self.path = Path(path)
        self._seen: set[Key] = set()  # this process's cache of keys known to be in the file
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path)}  # a worker process appends to the same file

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._owned, self.path = False, Path(state["path"])
        self._seen, self._lock = set(), threading.Lock()

    def add(
        self, file: str, line: int | None, reason: str, detail: str, raw: str | None = None
    ) -> None:
        """Records one bad row unless ``(file, line)`` is already recorded."""
        key: Key = (file, line)
        if key in self._seen:
            return
        record = {"file": file, "line": line, "reason": reason, "detail": detail, "raw": raw}
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)  # released by close()
                if key not in self._keys():
                    os.write(fd, data)  # one write on O_APPEND: the line lands whole, at the end
                    os.fsync(fd)
            finally:
                os.close(fd)
            self._seen.add(key)

    def _keys(self) -> set[Key]:
        return {(r["file"], r["line"]) for r in self._read()}

    def _read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:  # a line cut by a crash mid-write: not a record
                    continue
        return out

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every recorded bad row (deduplicated), in the order first seen."""
        out, keys = [], set()
        for r in self._read():
            key = (r["file"], r["line"])
            if key not in keys:
                keys.add(key)
                out.append(r)
        return out

    def by_reason(self) -> dict[str, int]:
        """Bad-row count per reason, sorted by reason.

        Example:
            >>> QuarantineLog().by_reason()
            {}
        """
        counts: dict[str, int] = {}
        for r in self.records:
            counts[r["reason"]] = counts.get(r["reason"], 0) + 1
        return dict(sorted(counts.items()))

    def __len__(self) -> int:
        return len(self.records)


def _unlink(path: str, pid: int) -> None:
    if os.getpid() != pid:  # a forked worker collecting its copy must not delete the file
        return
    with contextlib.suppress(OSError):
        os.unlink(path)
