"""What the folder routes (``image_folder``, ``text_folder``) share: a folder of files as a
table for ``predict`` / ``evaluate --data`` / ``explain --data``, the paths of a path table, and
the one warning that names the files left out of a folder.

A folder passed to ``deepfuse predict RUN FOLDER`` (or ``evaluate --data``) is read as a table
of its files, in name order (as ``ls -R`` lists them; predictions come out in that order): a
``path`` column (absolute) for images, a ``text`` column (each file's content) for text files,
and, when every file sits in a class subfolder (``root/<class>/<file>``), a ``label`` column of
the subfolder names.

Example:
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for c in ("neg", "pos"):
    ...     (root / c).mkdir(); _ = (root / c / "1.txt").write_text(f"a {c} review")
    >>> folder_table(str(root)).to_pydict()
    {'text': ['a neg review', 'a pos review'], 'label': ['neg', 'pos']}
    >>> paths_of(pa.table({"path": ["/data/a.png", "b.png"]}), "x.csv")[0]
    '/data/a.png'
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import pyarrow as pa

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.data.formats import TABLE_FORMATS, format_or_none
from deepfuse.data.schema import base_dir_of

__all__ = [
    "PATH_COLUMN",
    "TEXT_COLUMN",
    "folder_table",
    "in_memory_only",
    "paths_of",
    "read_text_file",
    "warn_left_out",
]

#: The column of file paths in a path table (a folder listed, or a CSV of image paths).
PATH_COLUMN = "path"
#: The column of documents in a folder of text files read as a table.
TEXT_COLUMN = "text"


def folder_table(folder: str) -> pa.Table | None:
    """The image or text files under ``folder`` as a path table, or ``None`` when the folder
    holds table files (or neither kind of file): then it is not a folder of files."""
    files = sorted(
        p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith((".", "_"))
    )
    kinds = {format_or_none(p.name) for p in files}
    if kinds & set(TABLE_FORMATS) or not kinds & {"image", "text"}:
        return None
    fmt = "image" if "image" in kinds else "text"
    files = [p for p in files if format_or_none(p.name) == fmt]
    parts = [p.relative_to(folder).parts for p in files]
    columns: dict[str, Any] = {PATH_COLUMN: [str(p.resolve()) for p in files]}
    if fmt == "text":  # the documents themselves: a table any text model's Preprocessor reads
        columns = {TEXT_COLUMN: [read_text_file(p) for p in columns.pop(PATH_COLUMN)]}
    if all(len(rel) >= 2 for rel in parts):  # root/<class>/.../<file>: the class is known
        columns["label"] = [rel[0] for rel in parts]
    return pa.table(columns)


def read_text_file(path: str) -> str:
    """A whole UTF-8 text file (a leading byte-order mark dropped).

    Raises:
        DataError: The file cannot be read or is not UTF-8.
    """
    try:
        with open(path, "rb") as fh:
            return fh.read().removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"Cannot read the text file '{path}': {err}. Fix or remove it.") from None


def paths_of(table: pa.Table, source: str) -> list[str]:
    """The absolute file paths of a path table (relative ones are relative to its file's folder).

    Raises:
        DataError: No ``path`` column, or an empty path.
    """
    if PATH_COLUMN not in table.column_names:
        raise DataError(
            f"'{source}' has no {PATH_COLUMN!r} column. Pass a folder of files, or a CSV/Parquet "
            f"file with a {PATH_COLUMN!r} column of file paths (relative to the file's folder). "
            f"Columns: {', '.join(table.column_names)}."
        )
    base = base_dir_of(table)
    paths = []
    for row, value in enumerate(table.column(PATH_COLUMN).to_pylist(), start=1):
        if not value:
            raise DataError(f"'{source}' row {row}: the {PATH_COLUMN!r} column is empty.")
        path = Path(str(value)).expanduser()
        paths.append(str(path if path.is_absolute() else base / path))
    return paths


def in_memory_only(route: str, data: Mapping[str, Any]) -> None:
    """A folder route holds its files in memory: ``data.streaming: true`` is a config error."""
    if data.get("streaming") is True:
        raise ConfigError(
            f"data.kind={route} reads the folder into memory; 'data.streaming: true' is not "
            "supported for it. Remove 'data.streaming' (or stream the files with "
            "deepfuse.data.scan_images / scan_text and model.fit)."
        )


def warn_left_out(route: str, folder: str, records: list[Mapping[str, Any]]) -> None:
    """One warning naming the files of ``folder`` left out (quarantined) and why."""
    if not records:
        return
    shown = "; ".join(
        f"{_relative(r['file'], folder)!r} ({r['reason']}: {r['detail']})" for r in records[:3]
    )
    more = f" and {len(records) - 3} more" if len(records) > 3 else ""
    warnings.warn(
        f"{route}: {len(records)} file(s) of '{folder}' left out: {shown}{more}. Fix or remove "
        "them, or set data.quarantine=FILE.jsonl to keep the full list.",
        UserWarning,
        stacklevel=3,
    )


def _relative(path: str, folder: str) -> str:
    try:
        return str(PurePath(os.path.relpath(path, folder)))
    except ValueError:  # another drive (Windows)
        return path
