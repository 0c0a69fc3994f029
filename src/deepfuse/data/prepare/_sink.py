"""Where prepared rows go: Parquet shards, the staging folder, progress (bad rows: the one
:class:`~deepfuse.data.quarantine.Quarantine`).

Everything is written into a staging folder beside the output (``.<name>.prepare-*.tmp``), fsynced,
then renamed onto the output in one step, so a folder under the final name is always complete.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

REPORT_NAME = "_report.json"


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file or folder to disk (folders: so a rename inside them survives a crash)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if Path(path).is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:  # some filesystems/platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Staging:
    """A temporary folder in the output's parent, published by one rename (or removed)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        self.dir = out.parent / f".{out.name}.prepare-{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
        self.dir.mkdir()

    def publish(self, target: Path) -> None:
        """fsync everything, then rename the staging folder onto ``target`` (replacing it)."""
        for child in self.dir.iterdir():
            fsync_path(child)
        fsync_path(self.dir)
        trash = None
        if target.exists():
            # Move the old output aside first: rename cannot replace a non-empty folder.
            trash = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}.tmp"
            os.rename(target, trash)
        os.rename(self.dir, target)
        fsync_path(target.parent)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class ShardWriter:
    """Writes tables into ``part-00000.parquet``, ... of ``rows_per_shard`` rows each.

    Rows are buffered up to ``row_group_size`` so every row group but a shard's last is full
    (readers stream one row group at a time, so its size bounds their memory).
    """

    def __init__(self, folder: Path, *, rows_per_shard: int, row_group_size: int) -> None:
        self.folder = folder
        self.rows_per_shard = rows_per_shard
        self.row_group_size = min(row_group_size, rows_per_shard)
        self.schema: pa.Schema | None = None
        self.shards: list[str] = []
        self.rows_written = 0
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._writer: pq.ParquetWriter | None = None
        self._shard_rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self.schema is None:
            self.schema = table.schema
        elif table.schema != self.schema:
            table = table.select(self.schema.names).cast(self.schema)
        self._buffer.append(table)
        self._buffered += table.num_rows
        if self._buffered >= self.row_group_size:
            merged = pa.concat_tables(self._buffer)
            full = (merged.num_rows // self.row_group_size) * self.row_group_size
            self._emit(merged.slice(0, full))
            rest = merged.slice(full)
            self._buffer, self._buffered = ([rest] if rest.num_rows else []), rest.num_rows

    def close(self) -> None:
        if self._buffer:
            self._emit(pa.concat_tables(self._buffer))
            self._buffer, self._buffered = [], 0
        self._close_shard()

    def _emit(self, table: pa.Table) -> None:
        while table.num_rows:
            if self._writer is None:
                name = f"part-{len(self.shards):05d}.parquet"
                self._writer = pq.ParquetWriter(self.folder / name, table.schema)
                self.shards.append(name)
            piece = table.slice(0, self.rows_per_shard - self._shard_rows)
            self._writer.write_table(piece, row_group_size=self.row_group_size)
            self._shard_rows += piece.num_rows
            self.rows_written += piece.num_rows
            table = table.slice(piece.num_rows)
            if self._shard_rows >= self.rows_per_shard:
                self._close_shard()

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            fsync_path(self.folder / self.shards[-1])
            self._writer, self._shard_rows = None, 0


class Progress:
    """A tqdm bar on a terminal; plain lines every few seconds when not a TTY or under CI."""

    def __init__(self, total: int | None, *, enabled: bool | None, desc: str = "prepare") -> None:
        self.enabled = True if enabled is None else enabled
        self.total, self.done, self.rows, self.desc = total, 0, 0, desc
        self._bar: Any = None
        self._last = time.monotonic()
        if self.enabled and sys.stderr.isatty() and not os.environ.get("CI"):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, unit="B", unit_scale=True, desc=desc, leave=False)

    def update(self, nbytes: int, rows: int) -> None:
        self.done += nbytes
        self.rows += rows
        if self._bar is not None:
            self._bar.update(nbytes)
            self._bar.set_postfix(rows=self.rows, refresh=False)
        elif self.enabled and time.monotonic() - self._last >= 5.0:
            self._last = time.monotonic()
            self._line()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            self._line()

    def _line(self) -> None:
        total = f" / {self.total / 1e6:.1f} MB" if self.total else ""
        print(
            f"{self.desc}: {self.done / 1e6:.1f} MB{total}, {self.rows} rows",
            file=sys.stderr,
            flush=True,
        )
