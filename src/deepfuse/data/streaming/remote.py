"""fsspec URLs (``s3://``, ``gs://``, ``memory://``, ``file://`` ...) for the streaming sources.

A source whose text contains ``"://"`` is resolved with :func:`fsspec.core.url_to_fs`, globbed or
listed with that filesystem, and handed to pyarrow as
``pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(fs))``, so every reader keeps pyarrow's
projection, row-group reads and filters. fsspec is optional: ``pip install 'deepfuse[cloud]'``
(fsspec, s3fs, gcsfs); without it a URL raises an error naming that extra.

Example:
    >>> import fsspec, pyarrow as pa, pyarrow.parquet as pq
    >>> from deepfuse.data.streaming import read_parquet
    >>> fs = fsspec.filesystem("memory")
    >>> with fs.open("/doc-remote/part-0.parquet", "wb") as fh:
    ...     pq.write_table(pa.table({"x": [1, 2, 3]}), fh)
    >>> read_parquet("memory://doc-remote/*.parquet").column("x").to_pylist()
    [1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deepfuse._utils.errors import DataError
from deepfuse._utils.optional import require

_GLOB_CHARS = set("*?[")


def is_url(text: str) -> bool:
    """True for ``protocol://...`` sources (handled by fsspec), False for local paths.

    Example:
        >>> is_url("s3://bucket/data/*.parquet"), is_url("data/*.parquet")
        (True, False)
    """
    return "://" in text


def url_to_fs(url: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path without the protocol)`` for ``url``; needs the ``cloud`` extra.

    Raises:
        MissingDependencyError: when fsspec (or the protocol's package, e.g. s3fs) is missing.
        DataError: when fsspec does not know the protocol.
    """
    fsspec = require("fsspec", extra="cloud", purpose=f"reading {url.split('://')[0]}:// URLs")
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as err:  # e.g. s3fs / gcsfs missing for s3:// / gs://
        require(getattr(err, "name", None) or "s3fs", extra="cloud", purpose=f"reading {url}")
        raise
    except ValueError as err:  # "Protocol not known: xyz"
        raise DataError(
            f"cannot open {url!r}: {err}; expected a URL fsspec knows (s3://, gs://, "
            "memory://, file://, ...)"
        ) from err


def resolve_remote(
    entries: Sequence[str], extensions: tuple[str, ...], fmt: str
) -> tuple[Any, list[str]]:
    """Expands URL entries (files, globs, folders) with fsspec, like local path resolution.

    Args:
        entries: URLs, all on the same filesystem.
        extensions: Name endings picked up when an entry is a folder (lower case).
        fmt: Format name, for messages.

    Returns:
        ``(fs, paths)``: the filesystem and protocol-less paths (what ``fs.open`` takes), sorted
        within each entry, de-duplicated.

    Raises:
        DataError: when an entry matches nothing or the entries are on different filesystems.
    """
    fs, files = None, []
    for url in entries:
        entry_fs, path = url_to_fs(url)
        if fs is None:
            fs = entry_fs
        elif entry_fs != fs:
            raise DataError(
                f"sources on different filesystems: {entries[0]!r} and {url!r}; expected one "
                "filesystem per scan; scan them separately"
            )
        if _GLOB_CHARS & set(path):
            # detail=True gives the type with the listing, saving one isfile call per match
            found = sorted(p for p, info in fs.glob(path, detail=True).items() if _is_file(info))
        elif fs.isdir(path):
            found = sorted(
                p
                for p, info in fs.find(path, detail=True).items()
                if _is_file(info)
                and not p.rsplit("/", 1)[-1].startswith((".", "_"))
                and p.lower().endswith(extensions)
            )
        elif fs.isfile(path):
            found = [path]
        else:
            raise DataError(f"source {url!r} does not exist: expected a file, glob or folder")
        if not found:
            raise DataError(
                f"source {url!r} matched no {fmt} file: expected files ending in "
                f"{', '.join(extensions)}; check the URL or pass the files explicitly"
            )
        files.extend(found)
    return fs, list(dict.fromkeys(files))


def _is_file(info: dict[str, Any]) -> bool:
    return info.get("type") == "file"


def arrow_filesystem(fs: Any) -> Any:
    """A ``pyarrow.fs.FileSystem`` view of an fsspec filesystem (for ``pyarrow.dataset``)."""
    import pyarrow.fs as pafs

    return pafs.PyFileSystem(pafs.FSSpecHandler(fs))
