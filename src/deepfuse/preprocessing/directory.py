"""Keras' ``image_dataset_from_directory``: a folder per class -> re-iterable ``(images, labels)``.

The files are listed by :func:`deepfuse.data.streaming.listing.list_files` (the one "folder per
class" listing, also behind ``scan_images`` and the ``image_folder`` route: class indices follow
the sorted subfolder names) and read by :func:`deepfuse.preprocessing.image.load_img`.

Batches are what Keras yields, as numpy arrays: images float32 ``(N, H, W, C)`` with values in
[0, 255] (add ``layers.Rescaling(1./255)`` to the model, as Keras programs do) and labels int64
``(N,)`` / one-hot float32 ``(N, C)`` / float32 ``(N, 1)`` for ``label_mode`` ``"int"`` /
``"categorical"`` / ``"binary"``. ``model.fit(ds)`` takes them as any iterable of ``(x, y)``
tuples: its data boundary turns NHWC images into the NCHW tensors torch's layers take, once.
The arrays also have tf's ``.numpy()`` (:class:`KerasArray`), so tutorial code that shows a batch
runs; ``take(n)``, ``prefetch`` and ``cache`` are accepted (the last two do nothing).

Example:
    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for i in range(6):
    ...     cls = ["cat", "dog"][i % 2]; (root / cls).mkdir(exist_ok=True)
    ...     Image.new("RGB", (9, 7), (40 * i, 0, 0)).save(root / cls / f"{i}.png")
    >>> ds = image_dataset_from_directory(root, image_size=(8, 8), batch_size=4, seed=1, verbose=False)
    >>> images, labels = next(iter(ds))
    >>> images.shape, images.dtype, labels.dtype, ds.class_names, len(ds)
    ((4, 8, 8, 3), dtype('float32'), dtype('int64'), ['cat', 'dog'], 2)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from deepfuse._utils.errors import UserError, invalid_choice
from deepfuse.data.streaming.listing import list_files
from deepfuse.preprocessing.image import img_to_array, load_img

__all__ = ["DirectoryDataset", "KerasArray", "image_dataset_from_directory"]

_LABEL_MODES = ("int", "categorical", "binary", None)
_COLOR_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}


class KerasArray(np.ndarray):
    """A numpy array that also has tf's ``.numpy()``: Keras tutorials show a batch with
    ``plt.imshow(images[i].numpy().astype("uint8"))``."""

    def numpy(self) -> np.ndarray:
        """The plain numpy array (no copy)."""
        return np.asarray(self)


class DirectoryDataset:
    """Re-iterable batches of images (and labels) read from files, reshuffled every epoch.

    Attributes:
        class_names: The class names, by label index.
        file_paths: The files, in listing order (before the per-epoch shuffle).
    """

    def __init__(
        self,
        paths: list[str],
        labels: np.ndarray | None,
        class_names: list[str] | None,
        *,
        label_mode: str | None,
        batch_size: int | None,
        shuffle: bool,
        seed: int,
        load: Callable[[str], np.ndarray],
    ) -> None:
        self.file_paths, self._labels, self.class_names = paths, labels, class_names
        self.label_mode, self.batch_size = label_mode, batch_size
        self.shuffle_each_epoch, self._load = shuffle, load
        # One generator for the dataset's life: epoch k's order depends on the seed and k only.
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """The number of batches (of samples when ``batch_size`` is None)."""
        n = len(self.file_paths)
        return n if self.batch_size is None else -(-n // self.batch_size)

    def _encode(self, index: np.ndarray) -> np.ndarray:
        y = self._labels[index]  # type: ignore[index]
        if self.label_mode == "categorical":
            return np.eye(len(self.class_names or ()), dtype=np.float32)[y]
        if self.label_mode == "binary":
            return y.astype(np.float32).reshape(-1, 1)
        return y.astype(np.int64)

    def __iter__(self) -> Iterator[Any]:
        order = np.arange(len(self.file_paths))
        if self.shuffle_each_epoch:
            order = self._rng.permutation(order)
        size = self.batch_size or 1
        for start in range(0, len(order), size):
            index = order[start : start + size]
            images = np.stack([self._load(self.file_paths[i]) for i in index])
            labels = None if self.label_mode is None else self._encode(index)
            if self.batch_size is None:  # single samples, as Keras' batch_size=None
                images, labels = images[0], None if labels is None else labels[0]
            images = images.view(KerasArray)
            yield images if labels is None else (images, np.asarray(labels).view(KerasArray))

    def take(self, count: int) -> list[Any]:
        """The first ``count`` batches of one epoch (``tf.data``'s ``take``, as a list)."""
        out = []
        for batch in self:
            if len(out) >= count:
                break
            out.append(batch)
        return out

    def prefetch(self, buffer_size: Any = None) -> DirectoryDataset:
        """No effect (``tf.data``'s ``prefetch``, accepted so Keras programs run): returns self."""
        return self

    def cache(self, filename: str = "") -> DirectoryDataset:
        """No effect (``tf.data``'s ``cache``, accepted so Keras programs run): returns self."""
        return self

    def __repr__(self) -> str:
        return (
            f"DirectoryDataset({len(self.file_paths)} files, {len(self.class_names or ())} classes, "
            f"batch_size={self.batch_size}, label_mode={self.label_mode!r})"
        )


def _check_arguments(
    labels: Any,
    label_mode: str | None,
    class_names: Sequence[str] | None,
    color_mode: str,
    validation_split: float | None,
    subset: str | None,
    shuffle: bool,
    seed: int | None,
) -> None:
    if label_mode not in _LABEL_MODES:
        raise invalid_choice("label_mode", label_mode, _LABEL_MODES)
    if color_mode not in _COLOR_CHANNELS:
        raise invalid_choice("color_mode", color_mode, list(_COLOR_CHANNELS))
    if class_names is not None and labels != "inferred":
        raise UserError("class_names= is only used with labels='inferred' (the subfolder names).")
    if subset is not None and subset not in ("training", "validation", "both"):
        raise invalid_choice("subset", subset, ("training", "validation", "both"))
    if (validation_split is None) != (subset is None):
        raise UserError(
            "validation_split and subset go together: pass both (e.g. validation_split=0.2, "
            "subset='training') or neither."
        )
    if validation_split is not None and not 0 < validation_split < 1:
        raise UserError(f"validation_split must be between 0 and 1, got {validation_split}.")
    if validation_split is not None and shuffle and seed is None:
        raise UserError(
            "If using validation_split and shuffling the data, you must provide a seed= argument, "
            "so that the training and validation subsets do not overlap."
        )


def _listing(
    directory: str | os.PathLike, labels: Any, class_names: Sequence[str] | None
) -> tuple[list[str], np.ndarray | None, list[str] | None]:
    """Paths (sorted), int labels and class names of ``directory`` for ``labels``."""
    if labels == "inferred":
        listing = list_files(directory, "image", "folders")
        paths, y, found = listing.paths, listing.labels, listing.class_names or []
        order = sorted(range(len(paths)), key=lambda i: paths[i])
        paths, y = [paths[i] for i in order], y[order]  # type: ignore[index]
        if class_names is None:
            return paths, y, found
        wanted = list(class_names)
        if set(wanted) != set(found):
            raise UserError(
                f"class_names {wanted} do not match the subfolders of '{os.fspath(directory)}': {found}. "
                "Pass the subfolder names (in the order you want as label indices)."
            )
        remap = np.array([wanted.index(name) for name in found], np.int64)
        return paths, remap[y], wanted
    listing = list_files(directory, "image", None)
    paths = sorted(listing.paths)
    if labels is None:
        return paths, None, None
    if isinstance(labels, str):
        raise invalid_choice("labels", labels, ("inferred", "None", "a list of ints"))
    y = np.asarray(labels, dtype=np.int64)
    if len(y) != len(paths):
        raise UserError(
            f"labels has {len(y)} entries but '{os.fspath(directory)}' holds {len(paths)} image files; "
            "give one label per file, in the sorted order of the file paths."
        )
    return paths, y, [str(c) for c in range(int(y.max()) + 1)] if len(y) else []


def image_dataset_from_directory(
    directory: str | os.PathLike,
    labels: Any = "inferred",
    label_mode: str | None = "int",
    class_names: Sequence[str] | None = None,
    color_mode: str = "rgb",
    batch_size: int | None = 32,
    image_size: tuple[int, int] = (256, 256),
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    interpolation: str = "bilinear",
    follow_links: bool = False,
    crop_to_aspect_ratio: bool = False,
    data_format: str | None = None,
    verbose: bool = True,
) -> DirectoryDataset | tuple[DirectoryDataset, DirectoryDataset]:
    """Images in ``directory/<class>/*`` as batches ``(images, labels)``, like Keras.

    Args:
        directory: The folder; with ``labels="inferred"`` it holds one subfolder per class.
        labels: ``"inferred"`` (from the subfolders), ``None`` (images only) or a list of int
            labels, one per image file in the sorted order of the file paths.
        label_mode: ``"int"`` (int64 ``(N,)``), ``"categorical"`` (one-hot float32 ``(N, C)``),
            ``"binary"`` (float32 ``(N, 1)``, exactly 2 classes) or ``None`` (no labels).
        class_names: The subfolder names in the order of their label indices (default: sorted).
        color_mode: ``"rgb"``, ``"grayscale"`` or ``"rgba"`` (3, 1, 4 channels).
        batch_size: Images per batch; ``None`` yields single images.
        image_size: ``(height, width)`` every image is resized to.
        shuffle: Shuffle the files (before the split) and again every epoch.
        seed: Seed of both shuffles (needed with ``validation_split`` and ``shuffle``).
        validation_split: Fraction of the files held out for validation (the last ones).
        subset: ``"training"``, ``"validation"`` or ``"both"`` (returns the two datasets).
        interpolation: The resize filter (see :func:`~deepfuse.preprocessing.image.load_img`).
        follow_links: Ignored (symbolic links to folders are followed).
        crop_to_aspect_ratio: Crop the centre to ``image_size``'s aspect ratio before resizing.
        data_format: ``"channels_last"`` (default, NHWC batches) or ``"channels_first"`` (NCHW).
        verbose: Print how many files and classes were found, as Keras does.

    Returns:
        A :class:`DirectoryDataset`, or ``(train, validation)`` for ``subset="both"``.

    Raises:
        UserError: Inconsistent arguments, ``label_mode="binary"`` with other than 2 classes.
        DataError: A missing folder, no image files, or an unreadable image.
    """
    _check_arguments(
        labels, label_mode, class_names, color_mode, validation_split, subset, shuffle, seed
    )
    if labels is None:
        label_mode = None
    paths, y, names = _listing(directory, labels, class_names)
    if label_mode == "binary" and len(names or ()) != 2:
        raise UserError(
            f"label_mode='binary' needs exactly 2 classes, but '{os.fspath(directory)}' has "
            f"{len(names or ())}: {names}. Use label_mode='int' or 'categorical' for more classes."
        )
    if verbose:
        print(f"Found {len(paths)} files belonging to {len(names or ())} classes.")
    if seed is None:
        seed = int(np.random.randint(1_000_000))  # global numpy state: set_random_seed applies
    if shuffle:  # one permutation of files and labels, before the split (as Keras)
        order = np.random.default_rng(seed).permutation(len(paths))
        paths = [paths[i] for i in order]
        y = None if y is None else y[order]
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise invalid_choice("data_format", data_format, ("channels_last", "channels_first"))

    def load(path: str) -> np.ndarray:
        img = load_img(
            path, color_mode, image_size, interpolation, keep_aspect_ratio=crop_to_aspect_ratio
        )
        return img_to_array(img, data_format=data_format)

    def make(rows: slice, what: str | None) -> DirectoryDataset:
        part = paths[rows]
        if verbose and what:
            print(f"Using {len(part)} files for {what}.")
        return DirectoryDataset(
            part,
            None if y is None else y[rows],
            names,
            label_mode=label_mode,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            load=load,
        )

    if validation_split is None:
        return make(slice(None), None)
    n_val = int(validation_split * len(paths))
    train, val = slice(0, len(paths) - n_val), slice(len(paths) - n_val, None)
    if subset == "training":
        return make(train, "training")
    if subset == "validation":
        return make(val, "validation")
    return make(train, "training"), make(val, "validation")
