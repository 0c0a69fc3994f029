"""Safe reading and writing of safetensors files (JSON, the other kind deepfuse loads, is read by
:func:`deepfuse._utils.io.read_json`).

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

import json
import math
import os
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepfuse._utils.errors import DataError
from deepfuse._utils.io import atomic_write

if TYPE_CHECKING:  # annotations only: importing _utils must not import torch
    import torch

__all__ = [
    "MAX_HEADER_BYTES",
    "check_name",
    "load_safetensors",
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
    size = path.stat().st_size
    with open(path, "rb") as fh:
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
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"its header is not valid JSON ({exc})") from None
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
    if not path.is_file():
        raise DataError(f"Weights file '{path}' is missing.")
    _check_header(path)
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
