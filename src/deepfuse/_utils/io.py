"""Atomic file writes (temporary file in the same folder, fsync, rename) and bounded JSON reads.

A crash can never leave a half-written file under the final name, and :func:`read_json` is the
one JSON file reader of deepfuse: bounded (size, depth: :mod:`deepfuse._utils.bounded`), with an
error that names the file.

Example:
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> atomic_write_text(os.path.join(d, "a.json"), "{}")
    >>> open(os.path.join(d, "a.json")).read()
    '{}'
    >>> read_json(os.path.join(d, "a.json"))
    {}
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from deepfuse._utils.bounded import MAX_JSON_BYTES, loads_json, read_bounded
from deepfuse._utils.errors import UserError

__all__ = [
    "DISK_FULL_ERRNOS",
    "MAX_JSON_BYTES",
    "DiskFullError",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "disk_full_names",
    "is_disk_full",
    "read_json",
]


#: errno values of a full disk or an exhausted quota.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class DiskFullError(UserError):
    """Writing ``path`` failed because the disk (or the user's quota) is full.

    Args:
        path: The file (or folder) being written.
        fix: How to go on once space is freed (default: free space and try again).

    Example:
        >>> str(DiskFullError("runs/a/metrics.json"))
        "Cannot write 'runs/a/metrics.json': no space left on device: free space and try again."
    """

    def __init__(self, path: str | os.PathLike, fix: str = "free space and try again") -> None:
        self.path = Path(path)
        self.fix = fix
        super().__init__(f"Cannot write '{path}': no space left on device: {fix}.")


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is an OSError of a full disk or quota (ENOSPC, EDQUOT).

    Example:
        >>> is_disk_full(OSError(errno.ENOSPC, "No space left on device")), is_disk_full(OSError())
        (True, False)
    """
    return isinstance(exc, DiskFullError) or (
        isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS
    )


@contextlib.contextmanager
def disk_full_names(path: str | os.PathLike) -> Iterator[None]:
    """Turn an ENOSPC/EDQUOT OSError raised inside the block into a :class:`DiskFullError`
    naming ``path`` (the file the user knows, never a temp name); other errors pass unchanged.

    Example:
        >>> with disk_full_names("out.json"):  # doctest: +ELLIPSIS
        ...     raise OSError(errno.ENOSPC, "No space left on device")
        Traceback (most recent call last):
        ...
        deepfuse._utils.io.DiskFullError: Cannot write 'out.json': no space left on device: ...
    """
    try:
        yield
    except DiskFullError:
        raise
    except OSError as exc:
        if exc.errno in DISK_FULL_ERRNOS:
            raise DiskFullError(path) from None
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then fsync and rename ``tmp_path`` over ``path``.

    The temp file is created exclusively beside ``path`` and renamed over it, so a symlink at
    ``path`` is replaced by the file, never written through. A full disk raises
    :class:`DiskFullError` naming ``path`` (the temp file is removed).
    """
    path = Path(path)
    with disk_full_names(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        # mkstemp creates 0600 files; give the result the usual permissions (0666 minus the umask).
        os.chmod(tmp, 0o666 & ~_umask())
        try:
            write(tmp)
            with open(tmp, "rb+") as fh:
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def _umask() -> int:
    # Read once per process: os.umask can only be read by setting it, which races with threads.
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0)
        os.umask(_UMASK)
    return _UMASK


_UMASK: int | None = None


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(
        path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    )


def _json_default(obj: Any) -> Any:
    # numpy scalars / arrays and tuples-as-lists; anything else is a bug in the caller.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def read_json(path: str | os.PathLike, *, what: str = "JSON file") -> Any:
    """Read a JSON file within the limits of :mod:`deepfuse._utils.bounded`, or a clear DataError.

    The size is checked before reading (:data:`MAX_JSON_BYTES`), the nesting depth before
    parsing (:data:`~deepfuse._utils.bounded.MAX_DEPTH`).

    Args:
        path: The file.
        what: What the file is, for the error message ("checkpoint state", "run file").

    Raises:
        DataError: The file is missing, larger than :data:`MAX_JSON_BYTES`, nested too deep,
            not UTF-8 or not JSON.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.json")
        >>> _ = open(p, "w").write('{"a": 1}')
        >>> read_json(p)
        {'a': 1}
        >>> _ = open(p, "w").write('{"a": ')
        >>> read_json(p, what="metrics file")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: The metrics file '...a.json' is not valid JSON (...). It is truncated or corrupt.
    """
    path = Path(path)
    return loads_json(read_bounded(path, MAX_JSON_BYTES, what=what), what=what, source=path)
