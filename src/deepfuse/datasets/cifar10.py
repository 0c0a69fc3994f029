"""CIFAR-10 (Krizhevsky 2009), like ``keras.datasets.cifar10.load_data()``: 50,000 train and
10,000 test 32x32 colour images in 10 classes.

Read from the dataset authors' *binary* archive ``cifar-10-binary.tar.gz`` (sha256-checked; its
members are read inside the archive, nothing is extracted and no pickle is loaded; Keras' python
archive is pickles, which deepfuse never loads). Not shipped: download it from
https://www.cs.toronto.edu/~kriz/cifar.html ("CIFAR-10 binary version", md5
``c32a1d4ab5d03f1284b67883e8d87530``) into ``$DEEPFUSE_DATA_DIR/cifar10/``.

Example:
    >>> (x_train, y_train), (x_test, y_test) = load_data()   # doctest: +SKIP
    >>> x_train.shape, y_train.shape, CIFAR10_CLASSES[int(y_train[0, 0])]   # doctest: +SKIP
    ((50000, 32, 32, 3), (50000, 1), 'frog')
"""

from __future__ import annotations

import os
import tarfile

import numpy as np

from deepfuse._utils.errors import DataError
from deepfuse.datasets._files import find_file

__all__ = ["CIFAR10_CLASSES", "load_cifar10", "load_data", "read_cifar_binary"]

FILE = "cifar-10-binary.tar.gz"
SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
_RECORD = 1 + 3 * 32 * 32  # label byte, then the red, green and blue planes (row-major)
_TRAIN = [f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)]
_TEST = ["cifar-10-batches-bin/test_batch.bin"]

_Split = tuple[np.ndarray, np.ndarray]


def read_cifar_binary(archive: str | os.PathLike, members: list[str]) -> _Split:
    """Images ``(N, 32, 32, 3)`` uint8 and labels ``(N, 1)`` uint8 of ``members`` of the archive.

    Raises:
        DataError: A member is missing or is not a whole number of 3,073-byte records.

    Example:
        >>> import io, tarfile, tempfile, os
        >>> record = bytes([7]) + bytes(range(256)) * 12
        >>> path = os.path.join(tempfile.mkdtemp(), "c.tar.gz")
        >>> with tarfile.open(path, "w:gz") as tar:
        ...     info = tarfile.TarInfo("b.bin"); info.size = len(record)
        ...     tar.addfile(info, io.BytesIO(record))
        >>> x, y = read_cifar_binary(path, ["b.bin"])
        >>> x.shape, y.tolist(), int(x[0, 0, 1, 0])   # pixel (row 0, col 1), red plane
        ((1, 32, 32, 3), [[7]], 1)
    """
    chunks = []
    with tarfile.open(archive, "r:gz") as tar:
        for name in members:
            try:
                fh = tar.extractfile(name)
            except KeyError:
                fh = None
            if fh is None:
                raise DataError(
                    f"'{archive}' has no member '{name}': is it cifar-10-binary.tar.gz?"
                )
            data = np.frombuffer(fh.read(), dtype=np.uint8)
            if data.size % _RECORD:
                raise DataError(
                    f"'{name}' in '{archive}' is not a whole number of {_RECORD}-byte records."
                )
            chunks.append(data.reshape(-1, _RECORD))
    records = np.concatenate(chunks)
    labels = records[:, :1].copy()  # (N, 1) uint8, as Keras returns them
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()  # -> NHWC
    return images, labels


def load_cifar10(data_dir: str | os.PathLike | None = None) -> tuple[_Split, _Split]:
    """Load CIFAR-10 as Keras does: ``((x_train, y_train), (x_test, y_test))``.

    Returns:
        Images ``uint8`` ``(N, 32, 32, 3)`` (channels-last), labels ``uint8`` ``(N, 1)`` in 0..9
        (names in :data:`CIFAR10_CLASSES`).

    Raises:
        DataError: ``cifar-10-binary.tar.gz`` is not found (the message says where to put it).
    """
    path = find_file("cifar10", FILE, SHA256, data_dir=data_dir)
    return read_cifar_binary(path, _TRAIN), read_cifar_binary(path, _TEST)


def load_data(path: str | os.PathLike | None = None) -> tuple[_Split, _Split]:
    """Keras' ``cifar10.load_data()`` spelling of :func:`load_cifar10` (``path`` = a data folder)."""
    return load_cifar10(path)
