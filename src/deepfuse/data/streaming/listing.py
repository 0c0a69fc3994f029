"""File listings (images, text files) as lazy sources, and the dataset type they produce.

A listing is small (one path and label per file), so it is held as an in-memory pyarrow table
cut into fixed-size units of ``chunk_rows`` rows (``pyarrow.dataset.InMemoryDataset``, one
fragment per unit). The ordinary :class:`~deepfuse.data.streaming.sources.Source`, plans,
shuffling, sharding and exact resumption then work on it unchanged; the files are opened only
by a per-chunk decode step (a ``map``), which drops bad files and records them in the
dataset's :class:`~deepfuse.data.quarantine.Quarantine`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads

from deepfuse._utils.errors import DataError
from deepfuse.data.quarantine import Quarantine
from deepfuse.data.streaming.dataset import LazyDataset
from deepfuse.data.streaming.paths import PathLike, _resolve
from deepfuse.data.streaming.remote import is_url, url_to_fs
from deepfuse.data.streaming.sources import Source

PATH, ROW = "_path", "_row"  # internal listing columns, dropped by the decode step


@dataclass
class Listing:
    """Files to read: ``fs`` (fsspec filesystem, or ``None`` for local paths), paths, labels."""

    fs: Any
    paths: list[str]
    labels: np.ndarray | None = None  # (N,) int64 class indices
    class_names: list[str] | None = None
    extra: dict[str, Any] | None = None  # further columns (table listings)

    def table(self) -> pa.Table:
        cols: dict[str, Any] = {PATH: pa.array(self.paths, pa.string())}
        if self.labels is not None:
            cols["y"] = pa.array(self.labels, pa.int64())
        cols.update(self.extra or {})
        return pa.table(cols)


def open_binary(fs: Any, path: str) -> IO[bytes]:
    """Opens a local path (``fs is None``) or a path on an fsspec filesystem for reading bytes."""
    return open(path, "rb") if fs is None else fs.open(path, "rb")


def list_files(source: PathLike, fmt: str, labels: str | None) -> Listing:
    """Lists ``source``'s files of format ``fmt`` (``"image"`` / ``"text"``), with class labels.

    Args:
        source: A folder, glob, file, fsspec URL or a list of them.
        fmt: Which extensions count (see :func:`deepfuse.data.formats.scan_suffixes`).
        labels: ``"folders"``: ``source`` is one folder holding one subfolder per class
            (``root/<class>/**/<file>``; class indices follow the sorted class names, as in
            Keras ``image_dataset_from_directory``; files directly under ``root`` are not
            listed). ``None``: no labels.

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for c in ("dog", "cat"):
        ...     (root / c).mkdir(); _ = (root / c / "1.txt").write_text("hi")
        >>> lst = list_files(root, "text", "folders")
        >>> lst.class_names, lst.labels.tolist()
        (['cat', 'dog'], [0, 1])
    """
    if labels is None:
        fs, paths = _resolve(source, fmt)
        return Listing(fs, paths)
    if labels != "folders":
        raise DataError(
            f"labels={labels!r} is not valid here: expected 'folders' (one subfolder per class) "
            "or None; a label column needs a table source (path_column=...)"
        )
    if not isinstance(source, str | os.PathLike):
        raise DataError(
            f"labels='folders' needs one root folder (root/<class>/<file>), got {source!r}; "
            "pass the folder, or labels=None"
        )
    root = os.fspath(source)
    fs, paths = _resolve(root, fmt)
    base = url_to_fs(root)[1] if is_url(root) else root
    names: list[str] = []
    kept: list[str] = []
    for path in paths:
        rel = PurePosixPath(os.path.relpath(path, base) if fs is None else path[len(base) :])
        parts = [p for p in rel.parts if p not in ("/", "")]
        if len(parts) >= 2:  # root/<class>/.../<file>; loose files in root have no class
            kept.append(path)
            names.append(parts[0])
    if not kept:
        raise DataError(
            f"no class subfolders with {fmt} files under {root!r}: labels='folders' expects "
            "root/<class_name>/<file>; pass labels=None for unlabelled files"
        )
    classes = sorted(set(names))
    index = {c: i for i, c in enumerate(classes)}
    return Listing(fs, kept, np.array([index[n] for n in names], np.int64), classes)


def listing_source(table: pa.Table, chunk_rows: int) -> Source:
    """A :class:`Source` over an in-memory listing, one unit per ``chunk_rows`` rows."""
    if chunk_rows < 1:
        raise DataError(f"chunk_rows must be >= 1, got {chunk_rows}")
    batches = table.combine_chunks().to_batches(max_chunksize=chunk_rows)
    # one InMemoryDataset fragment per record batch: these are the plan's units
    return Source(pads.dataset(pa.Table.from_batches(batches, table.schema)), "listing")


def _to_arrow_column(arr: np.ndarray) -> pa.Array:
    if arr.ndim > 1:  # (N, C, H, W) images: one fixed-shape tensor per row
        return pa.FixedShapeTensorArray.from_numpy_ndarray(np.ascontiguousarray(arr))
    return pa.array(arr)


class FileDataset(LazyDataset):
    """A :class:`LazyDataset` over files (images, texts) with a quarantine report.

    Attributes:
        class_names: Class names in label order (``labels="folders"`` or a string label
            column), else ``None``.
        quarantine_log: The :class:`Quarantine` shared by every dataset derived from
            this one.
    """

    def __init__(
        self,
        source: Source,
        *,
        read_batch_size: int,
        report: Quarantine,
        class_names: list[str] | None,
        description: str,
    ) -> None:
        super().__init__(source, read_batch_size=read_batch_size)
        self.quarantine_log = report
        self.class_names = class_names
        self._description = description

    @classmethod
    def over(
        cls, listing: Listing, source: Source, report: Quarantine, chunk_rows: int, what: str
    ) -> FileDataset:
        """The dataset reading ``source`` (built from ``listing``) in chunks of ``chunk_rows``."""
        return cls(
            source,
            read_batch_size=chunk_rows,
            report=report,
            class_names=listing.class_names,
            description=what,
        )

    @property
    def quarantined(self) -> list[dict[str, Any]]:
        """Bad rows dropped so far (``file``, ``line``, ``reason``, ``detail``, ``raw``),
        deduplicated across epochs and processes."""
        return self.quarantine_log.records

    def _chunks(self) -> Iterator[dict[str, np.ndarray]]:
        # unbatched, in-thread iteration of this epoch: numpy column chunks
        yield from self._with(_batch=None, _prefetch=0)

    def collect(self) -> pa.Table:
        """Reads everything into one table (small data only); image columns become pyarrow
        fixed-shape tensor columns (``column.combine_chunks().to_numpy_ndarray()`` gives
        ``(N, C, H, W)``)."""
        batches = [
            pa.RecordBatch.from_arrays([_to_arrow_column(v) for v in c.values()], list(c))
            for c in self._chunks()
        ]
        if not batches:
            return pa.table({})
        return pa.Table.from_batches(batches)

    def __repr__(self) -> str:
        # LazyDataset's repr names source files; a listing has units of chunk_rows files instead
        extra = f", {len(self.quarantine_log)} quarantined" if self.quarantine_log else ""
        return f"{type(self).__name__}({self._description}{extra})"
