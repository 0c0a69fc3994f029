"""Path resolution for the streaming sources: a path, glob, folder, URL or list of them -> files.

Which files a folder contributes follows the one format table (:mod:`deepfuse.data.formats`);
globs and explicit files are taken as named.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepfuse._utils.errors import DataError
from deepfuse.data.formats import scan_suffixes
from deepfuse.data.streaming.remote import is_url, resolve_remote

__all__ = ["PathLike", "resolve_paths"]

PathLike = str | os.PathLike | Sequence[str | os.PathLike]
_GLOB_CHARS = set("*?[")


def resolve_paths(source: PathLike, fmt: str) -> list[str]:
    """Expands a path, glob, directory or list of those into a sorted, de-duplicated file list.

    Args:
        source: A file, a glob (``data/*.parquet``, ``**`` allowed), a directory (searched
            recursively for files with the format's extensions), an fsspec URL of any of these
            (``s3://bucket/data/*.parquet``; needs ``pip install 'deepfuse[cloud]'``) or a list.
        fmt: ``"parquet"``, ``"csv"`` (also lists TSV), ``"json"`` (JSON lines), ``"image"`` or
            ``"text"``; see :data:`deepfuse.data.formats.SCAN_KINDS`.

    Returns:
        File paths (full URLs for URL sources), in sorted order within each entry and in the
        given order across entries.

    Raises:
        DataError: when an entry matches no file.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "b.csv").write_text("x\\n1\\n")
        >>> [pathlib.Path(p).name for p in resolve_paths(d, "csv")]
        ['b.csv']
    """
    fs, files = _resolve(source, fmt)
    return files if fs is None else [fs.unstrip_protocol(f) for f in files]


def _resolve(source: PathLike, fmt: str) -> tuple[Any, list[str]]:
    """``(fsspec filesystem or None for local files, paths on it)``; see :func:`resolve_paths`."""
    entries = [source] if isinstance(source, str | os.PathLike) else list(source)
    if not entries:
        raise DataError("no source given: expected a path, glob, directory or a non-empty list")
    texts = [os.fspath(e) for e in entries]
    urls = [t for t in texts if is_url(t)]
    if urls:
        if len(urls) != len(texts):
            raise DataError(
                f"mixed local paths and URLs in one source ({texts[:3]}...): expected all local "
                "or all URLs on one filesystem; scan them separately"
            )
        return resolve_remote(urls, scan_suffixes(fmt), fmt)
    files: list[str] = []
    for text in texts:
        if _GLOB_CHARS & set(text):
            found = sorted(p for p in glob.glob(text, recursive=True) if os.path.isfile(p))
        elif os.path.isdir(text):
            found = sorted(
                str(p)
                for p in Path(text).rglob("*")
                if p.is_file()
                and not p.name.startswith((".", "_"))
                and p.name.lower().endswith(scan_suffixes(fmt))
            )
        elif os.path.isfile(text):
            found = [text]
        else:
            raise DataError(f"source {text!r} does not exist: expected a file, glob or directory")
        if not found:
            raise DataError(
                f"source {text!r} matched no {fmt} file: expected files ending in "
                f"{', '.join(scan_suffixes(fmt))}; check the path or pass the files explicitly"
            )
        files.extend(found)
    return None, list(dict.fromkeys(files))  # keeps order, drops duplicates
