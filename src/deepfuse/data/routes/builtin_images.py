"""The built-in image datasets (MNIST, Fashion-MNIST): NCHW float tensors in [0, 1], keys ``x``/``y``.

Example:
    >>> p = BuiltinImages().prepare({"dataset": "mnist", "validation_split": 0.1, "limit": 1000},
    ...                             seed=0, batch_size=32)
    >>> p.train["x"].shape, p.val["x"].shape, p.test["x"].shape, p.task
    (torch.Size([900, 1, 28, 28]), torch.Size([100, 1, 28, 28]), torch.Size([10000, 1, 28, 28]), 'multiclass')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from deepfuse._utils.errors import DataError
from deepfuse.data.routes.base import DataRoute, FoldRows, Prepared, register_route
from deepfuse.data.routes.holdout import split_tensors
from deepfuse.data.tensors import images_to_tensor, to_tensor
from deepfuse.datasets.catalog import BuiltinDataset, builtin

__all__ = ["BuiltinImages", "ImageFolds", "image_batch", "image_prepared"]


def image_batch(x: np.ndarray, y: np.ndarray) -> dict[str, torch.Tensor]:
    """The route's tensors of image arrays and labels, by the one rule of
    :mod:`deepfuse.data.tensors` (uint8 pixels -> float32 NCHW in [0, 1], labels by dtype).

    Example:
        >>> b = image_batch(np.full((2, 28, 28, 1), 255, np.uint8), np.array([3, 5], np.uint8))
        >>> tuple(b["x"].shape), float(b["x"].max()), b["y"].tolist()
        ((2, 1, 28, 28), 1.0, [3, 5])
    """
    return {"x": images_to_tensor(x), "y": to_tensor(y, label=True, name="y")}


def image_prepared(classes: list[Any], train: dict, val: dict | None, test: dict) -> Prepared:
    """The :class:`Prepared` of image tensor dicts (keys ``x``/``y``): a multiclass task."""
    return Prepared(
        "image", train, val, test, "y", "multiclass", list(classes),
        features={"x": "image"},
    )  # fmt: skip


@register_route
class BuiltinImages(DataRoute):
    """``data.dataset`` naming a built-in image set (:mod:`deepfuse.datasets.catalog`)."""

    name = "builtin_images"

    @classmethod
    def matches(cls, data: Mapping[str, Any]) -> bool:
        return data.get("dataset") is not None and builtin(data["dataset"])[0].kind == "images"

    def _load(self, data: Mapping[str, Any]) -> tuple[BuiltinDataset, tuple, tuple]:
        entry, options = builtin(data["dataset"])
        (x, y), test = entry.load(**options)
        if data.get("limit"):
            x, y = x[: data["limit"]], y[: data["limit"]]
        return entry, (np.asarray(x), np.asarray(y)), test

    def prepare(self, data: Mapping[str, Any], *, seed: int, batch_size: int) -> Prepared:
        entry, (x, y), (x_test, y_test) = self._load(data)
        train, val = split_tensors(image_batch(x, y), y, data.get("validation_split") or 0.0, seed)
        return image_prepared(entry.classes or [], train, val, image_batch(x_test, y_test))

    def test_feed(
        self, data: Mapping[str, Any], *, seed: int, preprocessor: Any, batch_size: int = 1024
    ) -> Any:
        entry, options = builtin(data["dataset"])
        _, (x_test, y_test) = entry.load(**options)
        return image_batch(x_test, y_test)

    def load_input(self, table: pa.Table, model: Any, *, need_target: bool, source: str) -> Any:
        """One row per image: the pixels as numeric columns (+ ``label`` to evaluate)."""
        if table.num_rows == 0:
            raise DataError(f"'{source}' has no rows. Provide a file with a header and data rows.")
        label = next((c for c in ("label", "y", "target") if c in table.column_names), None)
        if need_target and label is None:
            raise DataError(f"'{source}' needs a 'label' column to evaluate an image model.")
        pixels = table.drop_columns([label]) if label else table
        try:
            columns = [
                np.asarray(c.to_numpy(zero_copy_only=False), np.float32) for c in pixels.columns
            ]
            x = np.stack(columns, axis=1)  # (N, pixels)
        except (ValueError, TypeError, pa.ArrowInvalid):
            raise DataError(
                f"'{source}' must hold numeric pixel columns for an image model."
            ) from None
        shape = list((model.input_spec or {}).get("x", {}).get("shape") or [])
        if int(np.prod(shape)) != x.shape[1]:
            raise DataError(
                f"'{source}' has {x.shape[1]} pixel columns; the model expects "
                f"{int(np.prod(shape))} (an image of shape {shape})."
            )
        images = images_to_tensor(x.reshape(len(x), *shape))
        if float(images.max()) > 1.0:
            images = images / 255.0  # 0..255 pixels, as the model was trained on [0, 1]
        tensors = {"x": images}
        if label is not None and need_target:
            labels = table.column(label).to_numpy(zero_copy_only=False)
            tensors[model.target_key] = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        return tensors

    def fold_rows(self, data: Mapping[str, Any]) -> FoldRows:
        entry, (x, y), _ = self._load(data)
        return ImageFolds(entry.classes or [], x, y, data.get("validation_split") or 0.0)


class ImageFolds(FoldRows):
    """Images ``x`` and labels ``y`` in memory, cut into folds (validation from each fold's
    training rows, as :meth:`BuiltinImages.prepare` holds it out)."""

    def __init__(self, classes: list[Any], x: np.ndarray, y: np.ndarray, fraction: float):
        self.classes, self.x, self.labels, self.fraction = classes, x, y, fraction

    def prepared(self, train_idx: np.ndarray, test_idx: np.ndarray, seed: int) -> Prepared:
        y = self.labels
        train = image_batch(self.x[train_idx], y[train_idx])
        train, val = split_tensors(train, y[train_idx], self.fraction, seed)
        return image_prepared(self.classes, train, val, image_batch(self.x[test_idx], y[test_idx]))
