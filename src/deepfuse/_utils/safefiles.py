"""Safe file access: regular files only (:func:`regular_file`, :func:`open_regular`,
:func:`read_regular`), and safetensors files checked before they are loaded (JSON, the other kind
deepfuse loads, is parsed by :func:`deepfuse._utils.io.read_json`).

**Regular files only.** A file deepfuse reads from a folder it did not create (a run folder, a
saved model) is first checked with ``os.lstat``/``os.stat``: it must be a regular file (a FIFO,
a device or a socket would block the reader or never end), at most ``limit`` bytes (checked
*before* reading: a 60 MB ``model.json`` is refused without parsing it) and, when a ``root`` is
given, inside ``root`` once every symlink is resolved. The file is then opened with
``O_NONBLOCK`` (a FIFO swapped in after the check cannot block the open) and checked again on the
open descriptor (``fstat``: the same inode, still regular).

Nothing here can execute code. A safetensors file is checked *before* it is handed to the
safetensors library: the 8-byte header length must fit the file and stay under
:data:`MAX_HEADER_BYTES`, the header must be a JSON object, every tensor entry must have a known
dtype, a shape of non-negative ints and byte offsets inside the file that match that shape, and
every tensor name must be a plain name (no ``/``, ``\\``, ``..`` or leading ``.``). A pickle
renamed ``.safetensors`` fails the first check (its first 8 bytes read as an absurd length).

Example:
    >>> import tempfile, os, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> save_safetensors({"w": torch.ones(2, 3)}, path)
    >>> load_safetensors(path)["w"].shape
    torch.Size([2, 3])
    >>> _ = open(path, "wb").write(b"\\x80\\x04\\x95 a pickle, not tensors")
    >>> load_safetensors(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    deepfuse._utils.errors.DataError: '...w.safetensors' is not a valid safetensors file: ...
"""

from __future__ import annotations

import math
import os
import re
import stat
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from deepfuse._utils.bounded import loads_json
from deepfuse._utils.errors import DataError
from deepfuse._utils.io import atomic_write

if TYPE_CHECKING:  # annotations only: importing _utils must not import torch
    import torch

__all__ = [
    "MAX_HEADER_BYTES",
    "OutsideRootError",
    "check_name",
    "load_safetensors",
    "open_regular",
    "read_regular",
    "regular_file",
    "save_safetensors",
]

#: Largest safetensors header accepted (the header lists names, dtypes, shapes: 100 MB is absurd).
MAX_HEADER_BYTES = 100_000_000

# Bytes per element of each safetensors dtype code.
_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
_NAME = re.compile(r"^[^/\\\x00]+$")
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class OutsideRootError(DataError):
    """A path leads out of the folder it must stay in (:func:`regular_file` with ``root``)."""


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def regular_file(
    path: str | os.PathLike,
    *,
    limit: int | None = None,
    root: str | os.PathLike | None = None,
    what: str = "file",
) -> os.stat_result:
    """The ``os.stat`` of ``path`` if it may be read: a regular file, at most ``limit`` bytes,
    inside ``root`` (symlinks resolved) when given. Nothing is opened.

    Raises:
        FileNotFoundError: ``path`` does not exist (callers decide whether that is an error).
        OutsideRootError: it leads out of ``root`` (a DataError).
        DataError: it exists but is a FIFO, device, socket or folder, or is larger than
            ``limit``; the message names the file and the rule.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> _ = open(os.path.join(d, "a.json"), "w").write("{}")
        >>> regular_file(os.path.join(d, "a.json"), limit=10, root=d).st_size
        2
        >>> os.mkfifo(os.path.join(d, "pipe"))
        >>> regular_file(os.path.join(d, "pipe"), what="run file")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: The run file '...pipe' is a FIFO (named pipe), not a ...
    """
    path = os.fspath(path)
    if root is not None:
        real, real_root = os.path.realpath(path), os.path.realpath(root)
        if not _inside(real, real_root):
            os.lstat(path)  # a dangling or missing path is FileNotFoundError, not "outside"
            raise OutsideRootError(
                f"The {what} '{path}' is a symlink leading out of '{root}'; only files inside "
                "it are read. Replace the link with the file itself."
            )
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise DataError(
            f"The {what} '{path}' is {_kind(info.st_mode)}, not a regular file; deepfuse reads "
            "only regular files. Remove it, or replace it with the file deepfuse wrote."
        )
    if limit is not None and info.st_size > limit:
        raise DataError(
            f"The {what} '{path}' has {info.st_size} bytes (limit {limit}); deepfuse never "
            "writes one this large, so it was not read."
        )
    return info


def open_regular(
    path: str | os.PathLike,
    *,
    limit: int | None = None,
    root: str | os.PathLike | None = None,
    what: str = "file",
) -> IO[bytes]:
    """Open ``path`` for binary reading after :func:`regular_file`'s checks (same arguments and
    errors); the open cannot block and the descriptor is checked to be that same regular file.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
        >>> _ = open(p, "w").write("hello")
        >>> with open_regular(p, limit=5) as fh:
        ...     fh.read()
        b'hello'
    """
    info = regular_file(path, limit=limit, root=root, what=what)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(os.path.realpath(path), flags | getattr(os, "O_NOFOLLOW", 0))
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino) or not stat.S_ISREG(
            opened.st_mode
        ):
            raise DataError(
                f"The {what} '{os.fspath(path)}' was replaced while it was opened; it was not "
                "read. Try again once nothing writes it."
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(
    path: str | os.PathLike,
    *,
    limit: int | None = None,
    root: str | os.PathLike | None = None,
    what: str = "file",
) -> bytes:
    """The bytes of ``path`` after :func:`open_regular`'s checks; never more than ``limit``
    (a file that grows past it while read is refused).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
        >>> _ = open(p, "w").write("hello")
        >>> read_regular(p, limit=5)
        b'hello'
    """
    with open_regular(path, limit=limit, root=root, what=what) as fh:
        data = fh.read() if limit is None else fh.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise DataError(
            f"The {what} '{os.fspath(path)}' grew past {limit} bytes while it was read; "
            "it was not read."
        )
    return data


def check_name(name: object, *, path: str | os.PathLike, what: str = "tensor name") -> str:
    """Return ``name`` if it is a plain name, else raise a DataError naming ``path``.

    Plain: a non-empty string without ``/``, ``\\``, NUL or a ``..`` part, not starting with ``.``
    (nothing a file system could read as a path outside its folder).

    Example:
        >>> check_name("dense.weight", path="m.safetensors")
        'dense.weight'
    """
    if (
        not isinstance(name, str)
        or not _NAME.match(name)
        or name.startswith(".")
        or ".." in name
        or len(name) > 1024
    ):
        raise DataError(
            f"'{path}' holds an unsafe {what} {name!r}: names must be plain (no '/', '\\', "
            "'..' or leading '.'). The file was not written by deepfuse; do not load it."
        )
    return name


def _bad(path: Path, why: str) -> DataError:
    return DataError(
        f"'{path}' is not a valid safetensors file: {why}. It may be truncated, corrupt, "
        "or not a weights file (deepfuse never loads pickles); re-create it with model.save()."
    )


def _check_header(path: Path) -> dict[str, Any]:
    """Validate the header of ``path`` without trusting any of it; return the parsed header."""
    with open_regular(path, what="weights file") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(8)
        if len(head) < 8:
            raise _bad(path, f"the file has {size} bytes, fewer than the 8-byte header length")
        (length,) = struct.unpack("<Q", head)
        if length > MAX_HEADER_BYTES:
            raise _bad(
                path, f"its header length field says {length} bytes (limit {MAX_HEADER_BYTES})"
            )
        if 8 + length > size:
            raise _bad(path, f"its header length field says {length} bytes but the file has {size}")
        raw = fh.read(length)
    try:
        header = loads_json(raw, what="safetensors header", source=path)
    except DataError as exc:
        raise _bad(path, f"its header is refused ({exc})") from None
    if not isinstance(header, dict):
        raise _bad(path, "its header is not a JSON object")
    data_size = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict):
                raise _bad(path, "its __metadata__ is not a JSON object")
            continue
        check_name(name, path=path)
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise _bad(path, f"tensor {name!r} has a malformed entry")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _DTYPE_BYTES:
            raise _bad(path, f"tensor {name!r} has unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise _bad(path, f"tensor {name!r} has an invalid shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_size
        ):
            raise _bad(path, f"tensor {name!r} has data offsets {offsets!r} outside the file")
        if offsets[1] - offsets[0] != math.prod(shape) * _DTYPE_BYTES[dtype]:
            raise _bad(path, f"tensor {name!r}: its byte range does not match shape {shape}")
    return header


def load_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a safetensors file after checking its header; tensors land on the CPU.

    Raises:
        DataError: the file is missing, truncated, malformed, oversized, or has unsafe names.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise DataError(f"Weights file '{path}' is missing.")
    _check_header(path)  # a regular file (never a FIFO or device) with a sound header
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise _bad(path, str(exc)) from None


def save_safetensors(
    tensors: Mapping[str, torch.Tensor],
    path: str | os.PathLike,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``tensors`` atomically (temp file, fsync, rename) as independent contiguous copies."""
    from safetensors.torch import save

    for name in tensors:
        check_name(name, path=path)
    # safetensors refuses shared or non-contiguous storage: save independent contiguous copies.
    state = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    meta = {"format": "pt", **(metadata or {})}
    # serialized here, written by Python: save_file drops write errors (a full disk, silently)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(save(state, metadata=meta)))


def weights_mismatch(expected: Mapping[str, Any], found: Mapping[str, Any]) -> str | None:
    """Why the tensors ``found`` (a file's) cannot be loaded into a module whose
    ``state_dict()`` is ``expected``: missing or unexpected names, different shapes; ``None``
    when they match. Only names and ``.shape`` are compared (no torch import here).

    Example:
        >>> from types import SimpleNamespace as T
        >>> weights_mismatch({"w": T(shape=(2, 3))}, {"w": T(shape=(3, 3)), "b": T(shape=(3,))})
        "unexpected ['b']; shape mismatch ['w: file (3, 3) vs model (2, 3)']"
    """
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [
        f"{k}: file {tuple(found[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in found and tuple(getattr(found[k], "shape", ())) != tuple(expected[k].shape)
    ]
    parts = [
        f"missing {missing[:5]}" if missing else "",
        f"unexpected {unexpected[:5]}" if unexpected else "",
        f"shape mismatch {wrong[:5]}" if wrong else "",
    ]
    return "; ".join(p for p in parts if p) or None
