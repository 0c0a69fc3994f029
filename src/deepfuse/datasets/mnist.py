"""MNIST and Fashion-MNIST loaders (IDX gzip files), Keras-compatible.

Example:
    >>> from deepfuse.datasets import load_mnist
    >>> (x_train, y_train), (x_test, y_test) = load_mnist()   # vendored copy, no setup needed
    >>> x_train.shape, x_train.dtype, y_train.dtype
    ((60000, 28, 28), dtype('uint8'), dtype('int64'))
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from deepfuse._utils.errors import DataError
from deepfuse.datasets._files import find_file

__all__ = ["FASHION_MNIST_CLASSES", "load_fashion_mnist", "load_mnist", "read_idx"]

_IMAGES_MAGIC = 0x00000803  # uint8, 3 dims
_LABELS_MAGIC = 0x00000801  # uint8, 1 dim

_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
_FASHION_SHA256 = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

_Split = tuple[np.ndarray, np.ndarray]


def read_idx(path: str | os.PathLike, *, magic: int | None = None) -> np.ndarray:
    """Parse a (gzip-compressed) IDX file of unsigned bytes into a numpy array.

    Args:
        path: ``.gz`` or plain IDX file.
        magic: Expected magic number (``0x803`` images, ``0x801`` labels); checked when given.

    Returns:
        A writable ``uint8`` array with the dimensions stored in the header.

    Raises:
        DataError: Wrong magic number, unsupported element type, or truncated data.

    Example:
        >>> from deepfuse.datasets._files import VENDOR_DIR
        >>> read_idx(VENDOR_DIR / "mnist" / "t10k-labels-idx1-ubyte.gz", magic=0x801).shape
        (10000,)
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise DataError(f"IDX file '{path}' is too short ({len(data)} bytes) to hold a header.")
    found = int.from_bytes(data[:4], "big")
    if magic is not None and found != magic:
        raise DataError(
            f"IDX file '{path}' has magic number {found:#010x}, expected {magic:#010x}. "
            "Check that images and labels files are not swapped or damaged."
        )
    if data[2] != 0x08:  # element type byte: 0x08 = unsigned byte
        raise DataError(
            f"IDX file '{path}' stores element type {data[2]:#04x}; only uint8 (0x08) is supported."
        )
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise DataError(
            f"IDX file '{path}' holds {len(data) - offset} data bytes, expected {expected} for dims {dims}."
        )
    # copy(): frombuffer views immutable bytes; users expect a writable array like Keras gives.
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims).copy()


def _load(folder: str, hashes: dict[str, str], data_dir, vendored: bool) -> tuple[_Split, _Split]:
    def get(name: str, magic: int) -> np.ndarray:
        return read_idx(
            find_file(folder, name, hashes[name], data_dir=data_dir, vendored=vendored), magic=magic
        )

    out = []
    for split in ("train", "t10k"):
        x = get(f"{split}-images-idx3-ubyte.gz", _IMAGES_MAGIC)
        y = get(f"{split}-labels-idx1-ubyte.gz", _LABELS_MAGIC).astype(np.int64)
        if len(x) != len(y):
            raise DataError(f"{folder} {split}: {len(x)} images but {len(y)} labels.")
        out.append((x, y))
    return out[0], out[1]


def load_mnist(data_dir: str | os.PathLike | None = None) -> tuple[_Split, _Split]:
    """Load MNIST handwritten digits, like ``keras.datasets.mnist.load_data()``.

    The files are searched in ``data_dir``, ``$DEEPFUSE_DATA_DIR``, the folder set with
    :func:`deepfuse.datasets.set_data_dir` (each as ``<dir>/mnist/`` or ``<dir>/``), and finally the
    copy shipped inside the package, so this works with no setup. Every file is sha256-checked.

    Args:
        data_dir: Optional folder to search first.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images ``uint8`` ``(N, 28, 28)`` (0 = background),
        labels ``int64`` ``(N,)`` in 0..9; 60,000 train and 10,000 test.

    Example:
        >>> (x, y), _ = load_mnist()
        >>> y[:5].tolist(), int(x.max())
        ([5, 0, 4, 1, 9], 255)
    """
    return _load("mnist", _MNIST_SHA256, data_dir, vendored=True)


def load_fashion_mnist(data_dir: str | os.PathLike | None = None) -> tuple[_Split, _Split]:
    """Load Fashion-MNIST, like ``keras.datasets.fashion_mnist.load_data()``.

    Not vendored: put the four ``.gz`` files in ``$DEEPFUSE_DATA_DIR/fashion-mnist/``.
    Class names are in :data:`FASHION_MNIST_CLASSES`.

    Args:
        data_dir: Optional folder to search first.

    Returns:
        ``((x_train, y_train), (x_test, y_test))`` with the same shapes and dtypes as :func:`load_mnist`.

    Example:
        >>> (x, y), (xt, yt) = load_fashion_mnist("/work/shared/datasets")  # doctest: +SKIP
        >>> x.shape, FASHION_MNIST_CLASSES[y[0]]                             # doctest: +SKIP
        ((60000, 28, 28), 'Ankle boot')
    """
    return _load("fashion-mnist", _FASHION_SHA256, data_dir, vendored=False)


def load_data(path: str | os.PathLike | None = None) -> tuple[_Split, _Split]:
    """Keras' ``mnist.load_data()`` spelling of :func:`load_mnist` (``path`` = a data folder)."""
    return load_mnist(path)
