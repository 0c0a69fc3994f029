"""The one file-format table: which file names deepfuse reads, and as what.

Every reader asks this module: ``read_table`` (whole tables), the ``scan_*`` / ``read_*``
streaming pairs (which files of a folder they list), ``scan_images`` (image files and the
tables that list them) and ``deepfuse prepare``. Matching is on the end of the file name,
longest suffix first: the format part in any case, a compression part in lower case (as pyarrow
detects compression), so ``DATA.CSV.gz`` is a gzip-compressed CSV file.

Formats: ``parquet`` (``.parquet``, ``.pq``), ``csv`` and ``tsv`` (plain, ``.gz``, ``.bz2`` or ``.zst``),
``jsonl`` (JSON lines: ``.jsonl``, ``.ndjson`` and ``.json`` holding one object per line; plain,
``.gz``, ``.bz2`` or ``.zst``), ``image`` (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``, ``.webp``)
and ``text`` (``.txt``).

Example:
    >>> detect("logs/Day-1.NDJSON.gz"), detect("x.tsv"), format_of("data/*.parquet")
    ('jsonl', 'tsv', 'parquet')
    >>> suffixes("parquet")
    ('.parquet', '.pq')
"""

from __future__ import annotations

import bz2
import gzip
import os
from collections.abc import Iterable
from typing import IO

from deepfuse._utils.errors import DataError

__all__ = [
    "COMPRESSIONS",
    "FORMATS",
    "SCAN_KINDS",
    "SUFFIXES",
    "TABLE_FORMATS",
    "delimiter_of",
    "detect",
    "format_of",
    "format_or_none",
    "open_decompressed",
    "scan_suffixes",
    "suffixes",
]

#: Compressed text files are read through these (pyarrow and the row checker both decode them).
#: ``.xz`` is not among them: pyarrow has no lzma codec.
COMPRESSIONS = (".gz", ".bz2", ".zst")


def _text_table(fmt: str, *plain: str) -> dict[str, str]:
    return {p + c: fmt for p in plain for c in ("", *COMPRESSIONS)}


#: The table: lower-case file-name suffix -> format.
SUFFIXES: dict[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    **_text_table("csv", ".csv"),
    **_text_table("tsv", ".tsv"),
    **_text_table("jsonl", ".jsonl", ".ndjson", ".json"),
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"), "image"),
    ".txt": "text",
}
#: Every format, in a stable order.
FORMATS = ("parquet", "csv", "tsv", "jsonl", "image", "text")
#: The formats that hold a table (what ``read_table`` and ``prepare``'s tabular route read).
TABLE_FORMATS = ("parquet", "csv", "tsv", "jsonl")
#: Format -> the streaming scanner that reads it (``scan_csv`` reads TSV with a tab delimiter;
#: ``"json"`` is the scanners' historical name for JSON lines).
SCAN_KINDS = {
    "parquet": "parquet",
    "csv": "csv",
    "tsv": "csv",
    "jsonl": "json",
    "image": "image",
    "text": "text",
}
_LONGEST_FIRST = sorted(SUFFIXES, key=len, reverse=True)  # ".csv.gz" before ".gz"-less ones


def format_or_none(path: str | os.PathLike) -> str | None:
    """The format of a file name, or ``None`` when no suffix in the table matches.

    The format part matches in any case (``.CSV``); a compression suffix only in lower case
    (``.gz``, ``.bz2``, ``.zst``), as pyarrow detects compression: ``x.csv.GZ`` is not read as gzip.

    Example:
        >>> format_or_none("A.PQ"), format_or_none("B.CSV.gz"), format_or_none("notes.md")
        ('parquet', 'csv', None)
    """
    name = os.fspath(path).rstrip("/")
    low = name.lower()
    for suffix in _LONGEST_FIRST:
        if low.endswith(suffix) and name.endswith(_compression(suffix) or ""):
            return SUFFIXES[suffix]
    return None


def _compression(name: str) -> str | None:
    """The (lower-case) compression suffix ``name`` ends with, or ``None``."""
    return next((c for c in COMPRESSIONS if name.endswith(c)), None)


def suffixes(*formats: str) -> tuple[str, ...]:
    """The suffixes of ``formats`` (all formats when none is given), sorted.

    Example:
        >>> suffixes("csv")
        ('.csv', '.csv.bz2', '.csv.gz', '.csv.zst')
    """
    wanted = set(formats or FORMATS)
    return tuple(sorted(s for s, f in SUFFIXES.items() if f in wanted))


def scan_suffixes(kind: str) -> tuple[str, ...]:
    """The suffixes a streaming scanner lists in a folder (``kind`` as in :data:`SCAN_KINDS`).

    Example:
        >>> scan_suffixes("csv")
        ('.csv', '.csv.bz2', '.csv.gz', '.csv.zst', '.tsv', '.tsv.bz2', '.tsv.gz', '.tsv.zst')
    """
    return suffixes(*(f for f, k in SCAN_KINDS.items() if k == kind))


def detect(path: str | os.PathLike, allowed: Iterable[str] = FORMATS, *, what: str = "read") -> str:
    """The format of ``path`` from its name; it must be one of ``allowed``.

    Args:
        path: A file name or path.
        allowed: The formats the caller reads.
        what: The verb shown in the error (``"Cannot <what> '<path>'"``).

    Raises:
        DataError: The name matches no suffix of an allowed format; the message lists them.

    Example:
        >>> detect("a.csv.bz2", TABLE_FORMATS)
        'csv'
        >>> detect("a.png", TABLE_FORMATS)
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: Cannot read 'a.png': unknown file type. Expected one of .csv, ...
    """
    allowed = tuple(allowed)
    fmt = format_or_none(path)
    if fmt is None or fmt not in allowed:
        raise DataError(
            f"Cannot {what} '{os.fspath(path)}': unknown file type. Expected one of "
            f"{', '.join(suffixes(*allowed))}."
        )
    return fmt


def delimiter_of(path: str | os.PathLike) -> str:
    """The field separator of a CSV/TSV file: a tab for ``.tsv`` (``.gz``, ``.bz2``), else a comma.

    Example:
        >>> delimiter_of("x.TSV.gz"), delimiter_of("x.csv")
        ('\\t', ',')
    """
    return "\t" if format_or_none(path) == "tsv" else ","


def format_of(path: str | os.PathLike) -> str:
    """The streaming scanner for a file name, glob or folder: ``"parquet"``, ``"csv"`` or ``"json"``.

    A folder: the format of its first data file (sorted by name; hidden and ``_`` files are
    skipped). A glob ending in ``*`` is taken as Parquet (what ``deepfuse prepare`` writes).

    Raises:
        DataError: No table format can be told from the name or the folder.

    Example:
        >>> format_of("data/*.parquet"), format_of("logs/2024-*.jsonl"), format_of("x.tsv.gz")
        ('parquet', 'json', 'csv')
    """
    fmt = format_or_none(path)
    if fmt is None and os.path.isdir(path):  # a folder: the format of the first data file in it
        for entry in sorted(os.listdir(path)):
            if not entry.startswith((".", "_")) and format_or_none(entry) in TABLE_FORMATS:
                fmt = format_or_none(entry)
                break
    if fmt is None and os.fspath(path).rstrip("/").endswith("*"):
        fmt = "parquet"
    if fmt not in TABLE_FORMATS:
        raise DataError(
            f"Cannot tell the format of '{os.fspath(path)}' for streaming: expected a name ending "
            f"in {', '.join(suffixes(*TABLE_FORMATS))}, or a folder of Parquet files."
        )
    return SCAN_KINDS[fmt]


def open_decompressed(path: str | os.PathLike) -> IO[bytes]:
    """Open a file for reading bytes, decompressing ``.gz`` / ``.bz2`` / ``.zst`` on the fly.

    ``.zst`` goes through pyarrow's codec (``read(n)`` only; read lines through
    :func:`deepfuse.data.dialect.open_utf8`).

    Example:
        >>> import tempfile, gzip, os
        >>> p = os.path.join(tempfile.mkdtemp(), "t.CSV.gz")
        >>> with gzip.open(p, "wb") as fh:
        ...     _ = fh.write(b"a\\n1\\n")
        >>> with open_decompressed(p) as fh:
        ...     fh.read()
        b'a\\n1\\n'
    """
    compression = _compression(os.fspath(path))
    if compression == ".gz":
        return gzip.open(path, "rb")
    if compression == ".bz2":
        return bz2.open(path, "rb")
    if compression == ".zst":
        import pyarrow as pa

        return pa.input_stream(os.fspath(path), compression="zstd")  # type: ignore[return-value]
    return open(path, "rb")
