"""Find builtin dataset files on disk and verify them by sha256.

Search order for a file ``<name>`` of dataset ``<folder>`` (the first hit wins; every hit is
checked against its sha256, so taking it from any of these places is safe):

1. the ``data_dir`` argument of the loader,
2. the environment variable ``DEEPFUSE_DATA_DIR``,
3. the folder set with :func:`set_data_dir`,
4. (MNIST only) the copy shipped inside the package.

In each folder both ``<dir>/<folder>/<name>`` and ``<dir>/<name>`` are accepted. Nothing else
is searched (no implicit ``../shared/datasets``): CI sets ``DEEPFUSE_DATA_DIR``.

Example:
    >>> from deepfuse.datasets import set_data_dir, get_data_dir
    >>> set_data_dir(None); get_data_dir() is None
    True
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from deepfuse._utils.errors import DataError

__all__ = ["ENV_VAR", "find_file", "get_data_dir", "set_data_dir", "sha256_of"]

ENV_VAR = "DEEPFUSE_DATA_DIR"
VENDOR_DIR = Path(__file__).resolve().parent / "_vendor"

_data_dir: Path | None = None
# (resolved path, size, mtime_ns) -> sha256 hex digest; makes repeated loads cheap.
_hash_cache: dict[tuple[str, int, int], str] = {}


def set_data_dir(path: str | os.PathLike | None) -> None:
    """Set the folder searched for builtin datasets after ``data_dir=`` and ``$DEEPFUSE_DATA_DIR``.

    Args:
        path: A folder holding ``mnist/``, ``fashion-mnist/``, ``imdb/``, ``adult/`` (or the files
            directly), or ``None`` to clear the setting.

    Example:
        >>> set_data_dir("/data/deepfuse"); str(get_data_dir())
        '/data/deepfuse'
        >>> set_data_dir(None)
    """
    global _data_dir
    _data_dir = None if path is None else Path(path).expanduser()


def get_data_dir() -> Path | None:
    """Return the folder set with :func:`set_data_dir`, or ``None``."""
    return _data_dir


def sha256_of(path: str | os.PathLike) -> str:
    """Return the sha256 hex digest of a file, cached by (path, size, mtime).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x"); _ = open(p, "wb").write(b"abc")
        >>> sha256_of(p)[:12]
        'ba7816bf8f01'
    """
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    digest = _hash_cache.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        _hash_cache[key] = digest
    return digest


def _search_roots(data_dir: str | os.PathLike | None) -> list[Path]:
    roots: list[Path] = []
    env = os.environ.get(ENV_VAR)
    for root in (data_dir, env or None, _data_dir):
        if root is not None and Path(root).expanduser() not in roots:
            roots.append(Path(root).expanduser())
    return roots


def find_file(
    folder: str,
    name: str,
    sha256: str,
    *,
    data_dir: str | os.PathLike | None = None,
    vendored: bool = False,
) -> Path:
    """Locate ``name`` of dataset ``folder``, verify its sha256 and return its path.

    Args:
        folder: The dataset's folder name (``"mnist"``, ``"imdb"``, ...).
        name: The file name (``"imdb_reviews.csv.gz"``).
        sha256: Expected sha256 hex digest.
        data_dir: Explicit folder to search first.
        vendored: Also search the copy shipped in the package (``_vendor/<folder>/``).

    Returns:
        The path of the verified file.

    Raises:
        DataError: The file is in none of the searched folders, or its hash differs.
    """
    searched: list[Path] = []
    for root in _search_roots(data_dir):
        searched += [root / folder, root]
    if vendored:
        searched.append(VENDOR_DIR / folder)
    for d in searched:
        candidate = d / name
        if candidate.is_file():
            actual = sha256_of(candidate)
            if actual != sha256:
                raise DataError(
                    f"Dataset file '{candidate}' is corrupt or a different version: sha256 "
                    f"expected {sha256}, got {actual}. Replace it with the original file "
                    f"(see the dataset README) or delete it."
                )
            return candidate
    where = ", ".join(str(d) for d in searched) if searched else "none (no data folder is set)"
    raise DataError(
        f"Dataset file '{name}' of '{folder}' not found. Searched folders: {where}. "
        f"Put {name} in ${ENV_VAR}/{folder}/ (set the environment variable), or pass "
        f"data_dir=... to the loader, or call deepfuse.datasets.set_data_dir(...)."
    )
