"""Folders of images, one subfolder per class: the ``image_folder`` route (Keras'
``image_dataset_from_directory``).

.. code-block:: yaml

    data:
      kind: image_folder
      train: photos/train/     # photos/train/<class>/*.png|jpg|jpeg|bmp|gif|webp
      test: photos/test/       # optional; else a stratified test_split of train
      image_size: [64, 64]     # or 64; default: keep the sizes (then they must all agree)
      mode: RGB                # or L (grayscale), RGBA, LA
      validation_split: 0.1

The files are decoded by :func:`deepfuse.data.streaming.scan_images` (Pillow) into NCHW float32
in [0, 1]; the class names are the sorted subfolder names (``y`` indexes them). The images are
held in memory, like the built-in image sets, and feed the zoo ``cnn``. A file that cannot be
decoded (or, without ``image_size``, has another shape than the first) is left out, with its
reason, in one warning (and in ``data.quarantine`` when set): it never stops the run.

``predict`` and ``evaluate --data`` take a folder of images (labels from class subfolders,
for ``evaluate``) or a CSV/Parquet file with a ``path`` column of image files (relative to the
file's folder) and, to evaluate, a ``label`` column (class names or indices).

Example:
    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for i in range(20):
    ...     cls = ["red", "blue"][i % 2]; (root / cls).mkdir(exist_ok=True)
    ...     Image.new("RGB", (8, 8), (255, 0, 0) if cls == "red" else (0, 0, 255)).save(
    ...         root / cls / f"{i}.png")
    >>> data = {"kind": "image_folder", "train": str(root), "image_size": 6,
    ...         "validation_split": 0.25, "test_split": 0.2}
    >>> p = ImageFolder().prepare(data, seed=0, batch_size=8)
    >>> tuple(p.train["x"].shape), len(p.val["y"]), len(p.test["y"]), p.classes
    ((12, 3, 6, 6), 4, 4, ['blue', 'red'])
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import torch

from deepfuse._utils.errors import DataError
from deepfuse.data.routes.base import DataRoute, FoldRows, Prepared, register_route
from deepfuse.data.routes.builtin_images import ImageFolds, image_batch, image_prepared
from deepfuse.data.routes.folders import in_memory_only, paths_of, warn_left_out
from deepfuse.data.routes.holdout import split_indices, split_tensors
from deepfuse.data.routes.streamed import TableStreamed
from deepfuse.data.streaming import scan_images
from deepfuse.data.streaming.listing import list_files
from deepfuse.data.tensors import images_to_tensor

__all__ = ["ImageFolder"]

_MODE_OF_CHANNELS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _image_size(data: Mapping[str, Any]) -> int | tuple[int, ...] | None:
    size = data.get("image_size")
    return size if size is None or isinstance(size, int) else tuple(size)


def _decode(source: Any, **options: Any) -> tuple[np.ndarray | None, Any, pa.Table]:
    """``((N, C, H, W) float32 images or None when none could be read, the scan, its table)``
    of ``source``; bad files are left out (in ``scan.quarantined``)."""
    ds = scan_images(source, **options)
    with warnings.catch_warnings():
        # the scan's own summary points at ds.quarantined; the routes name the files instead
        warnings.simplefilter("ignore", UserWarning)
        table = ds.collect()
    if table.num_rows == 0:
        return None, ds, table
    return table["x"].combine_chunks().to_numpy_ndarray(), ds, table


def read_image_folder(folder: str, data: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, list]:
    """``(images (N, C, H, W) float32 in [0, 1], labels (N,) int64, class names)`` of a folder
    with one subfolder per class; bad files are left out and named in one warning."""
    in_memory_only(ImageFolder.name, data)
    x, ds, table = _decode(
        folder,
        labels="folders",
        image_size=_image_size(data),
        mode=data.get("mode") or "RGB",
        quarantine=data.get("quarantine"),
    )
    if x is None:
        reasons = sorted({r["reason"] for r in ds.quarantined})
        raise DataError(
            f"No image of '{folder}' could be read ({len(ds.quarantined)} file(s) left out: "
            f"{', '.join(reasons)}). Check the files, data.image_size and data.mode."
        )
    warn_left_out(ImageFolder.name, folder, ds.quarantined)
    return x, table["y"].to_numpy(), list(ds.class_names)


@register_route(before=TableStreamed)
class ImageFolder(DataRoute):
    """``data.kind: image_folder``: ``data.train`` (and ``data.test``) folders of class subfolders."""

    name = "image_folder"
    by_kind = True
    own_keys = ("image_size", "mode", "quarantine")
    refused_keys: ClassVar[Mapping[str, str]] = {
        "target": "the classes are the subfolders of data.train",
        "features": "images have no columns to type",
        "preprocessing": "images are only decoded and scaled to [0, 1]",
    }

    @classmethod
    def matches(cls, data: Mapping[str, Any]) -> bool:
        return data.get("kind") == cls.name

    def _splits(self, data: Mapping[str, Any], seed: int) -> tuple:
        """``(classes, x, y, x_test, y_test)``: the same rows for the same seed."""
        x, y, classes = read_image_folder(data["train"], data)
        if data.get("limit"):
            x, y = x[: data["limit"]], y[: data["limit"]]
        if data.get("test"):
            x_test, y_test = self._test_folder(data, classes)
        else:
            keep, held = split_indices(y, data.get("test_split") or 0.2, seed)
            x, y, x_test, y_test = x[keep], y[keep], x[held], y[held]
        return classes, x, y, x_test, y_test

    @staticmethod
    def _test_folder(data: Mapping[str, Any], classes: list[str]) -> tuple:
        """``(x_test, y_test)`` of ``data.test``, whose subfolders must be the training classes."""
        x_test, y_test, test_classes = read_image_folder(data["test"], data)
        if test_classes != classes:
            raise DataError(
                f"The class subfolders of data.test ({', '.join(test_classes)}) differ from "
                f"those of data.train ({', '.join(classes)}). Give both the same subfolders."
            )
        return x_test, y_test

    def prepare(self, data: Mapping[str, Any], *, seed: int, batch_size: int) -> Prepared:
        classes, x, y, x_test, y_test = self._splits(data, seed)
        fraction = data.get("validation_split") or 0.0
        train, val = split_tensors(image_batch(x, y), y, fraction, seed + 1)
        return image_prepared(classes, train, val, image_batch(x_test, y_test))

    def test_feed(
        self, data: Mapping[str, Any], *, seed: int, preprocessor: Any, batch_size: int = 1024
    ) -> Any:
        if data.get("test"):  # the training classes from the listing: no image decoded
            classes = list_files(data["train"], "image", "folders").class_names
            return image_batch(*self._test_folder(data, classes or []))
        _, _, _, x_test, y_test = self._splits(data, seed)
        return image_batch(x_test, y_test)

    def load_input(self, table: pa.Table, model: Any, *, need_target: bool, source: str) -> Any:
        """Images named by a path table (a folder listed, or a file with a ``path`` column),
        decoded to the model's input shape; with ``label`` to evaluate.

        Raises:
            DataError: No ``path`` column, an image that cannot be read (predict writes one
                row per input row, so none is left out), labels that do not fit the model.
        """
        if table.num_rows == 0:
            raise DataError(f"'{source}' has no rows. Provide image files or a table of paths.")
        paths = paths_of(table, source)
        channels, height, width = model.input_spec["x"]["shape"]  # (C, H, W) it was trained on
        unique = list(dict.fromkeys(paths))  # the scan lists each file once
        x, ds, _ = _decode(
            unique, labels=None, image_size=(height, width), mode=_MODE_OF_CHANNELS[channels]
        )
        if x is None or ds.quarantined:
            bad = "; ".join(f"{r['file']!r} ({r['detail']})" for r in ds.quarantined[:3])
            raise DataError(
                f"{len(ds.quarantined)} image(s) listed in '{source}' cannot be read: {bad}. "
                "Fix or remove them."
            )
        row_of = {p: i for i, p in enumerate(unique)}
        tensors = {"x": images_to_tensor(x[[row_of[p] for p in paths]])}
        if need_target:
            tensors[model.target_key] = self._labels(table, model, tensors["x"][:1], source)
        return tensors

    @staticmethod
    def _labels(table: pa.Table, model: Any, example: torch.Tensor, source: str) -> torch.Tensor:
        """``(N,)`` class indices: integers as they are, class names by their sorted order
        (the order of the training folder's subfolders)."""
        if "label" not in table.column_names:
            raise DataError(
                f"'{source}' needs class subfolders (root/<class>/<image>) or a 'label' column "
                "to evaluate an image model."
            )
        column = table.column("label")
        outputs = int(np.asarray(model.predict({"x": example})).shape[-1])  # classes it knows
        if pa.types.is_integer(column.type):
            labels = np.asarray(column.to_numpy(), np.int64)
            fits = labels.min() >= 0 and labels.max() < outputs
        else:  # names: indices of the sorted names, as the training folder's subfolders were
            names = [str(v) for v in column.to_pylist()]
            classes = sorted(set(names))
            labels = np.array([classes.index(n) for n in names], np.int64)
            fits = len(classes) == outputs  # a missing class would shift every index after it
        if not fits:
            raise DataError(
                f"The labels of '{source}' do not fit the model's {outputs} classes: give the "
                "same class subfolders (or names) as the training folder, or indices "
                f"0..{outputs - 1}."
            )
        return torch.as_tensor(labels)

    def fold_rows(self, data: Mapping[str, Any]) -> FoldRows:
        x, y, classes = read_image_folder(data["train"], data)
        if data.get("limit"):
            x, y = x[: data["limit"]], y[: data["limit"]]
        return ImageFolds(classes, x, y, data.get("validation_split") or 0.0)
