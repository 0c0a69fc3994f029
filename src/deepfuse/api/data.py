"""Turn a config's ``data`` section into train/validation/test tensors (and a fitted Preprocessor).

Two routes: built-in image datasets (MNIST, Fashion-MNIST) become NCHW float tensors in [0, 1]
with ``"x"``/``"y"`` keys; every table (your CSV/Parquet files, IMDB, Adult) goes through
:class:`deepfuse.data.Preprocessor`, fitted on the training rows only, so the target sits under
its column name.

Example:
    >>> p = prepare({"dataset": "mnist", "validation_split": 0.1, "limit": 1000}, seed=0)
    >>> p.train["x"].shape, p.val["x"].shape, p.test["x"].shape, p.task
    (torch.Size([900, 1, 28, 28]), torch.Size([100, 1, 28, 28]), torch.Size([10000, 1, 28, 28]), 'multiclass')
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from deepfuse._utils.errors import DataError, did_you_mean

__all__ = [
    "DATASET_LOADERS",
    "Prepared",
    "images_to_tensor",
    "load_test",
    "prepare",
    "read_input",
    "table_to_tensors",
]


# Built-in datasets: the loader's keyword arguments are what ``data.dataset: {name, ...}`` accepts.
def _mnist(data_dir: str | None = None) -> Any:
    from deepfuse.datasets import load_mnist

    return load_mnist(data_dir)


def _fashion_mnist(data_dir: str | None = None) -> Any:
    from deepfuse.datasets import load_fashion_mnist

    return load_fashion_mnist(data_dir)


def _imdb(data_dir: str | None = None, seed: int | None = 113) -> Any:
    from deepfuse.datasets import load_imdb

    train, test = load_imdb(data_dir, as_table=True, seed=seed)
    keep = ["review", "sentiment"]  # split/file_id/rating would leak or mean nothing
    return train.select(keep), test.select(keep)


def _adult(data_dir: str | None = None) -> Any:
    from deepfuse.datasets import load_adult

    return load_adult(data_dir)


DATASET_LOADERS = {"mnist": _mnist, "fashion_mnist": _fashion_mnist, "imdb": _imdb, "adult": _adult}
_TABLE_TARGETS = {"imdb": "sentiment", "adult": "income"}
_IMDB_FEATURES = {"review": "text"}


@dataclass
class Prepared:
    """Everything the trainer needs from the data section.

    Attributes:
        kind: ``"image"`` (arrays, keys ``x``/``y``) or ``"table"`` (Preprocessor output).
        train, val, test: Tensor dicts holding the inputs and the target (``val`` may be None).
        target: The key of the target in those dicts.
        task: ``"multiclass"``, ``"binary"`` or ``"regression"``.
        classes: Original class labels by index (``None`` for regression).
        preprocessor: The fitted Preprocessor (tables only).
        features: Resolved feature types ``{column: type}`` (written to config.yaml).
        rows: Rows per split ``{"train", "validation", "test"}``; set by the streaming route,
            whose splits are lazy batch streams rather than tensors.
    """

    kind: str
    train: dict[str, torch.Tensor]
    val: dict[str, torch.Tensor] | None
    test: dict[str, torch.Tensor]
    target: str
    task: str
    classes: list[Any] | None
    preprocessor: Any = None
    features: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] | None = None

    @property
    def streaming(self) -> bool:
        """True when the splits are lazy batch streams (see :mod:`deepfuse.api.streamdata`)."""
        return self.rows is not None

    @property
    def num_classes(self) -> int:
        """Number of classes (1 for regression)."""
        return len(self.classes) if self.classes else 1


def _dataset_spec(spec: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, Mapping):
        return str(spec["name"]), {k: v for k, v in spec.items() if k != "name"}
    return str(spec), {}


def prepare(data: Mapping[str, Any], *, seed: int = 0, batch_size: int = 32) -> Prepared:
    """Load and split the data described by a resolved ``data`` section.

    Files larger than the streaming threshold (or ``data.streaming: true``) take the streaming
    route instead (:func:`deepfuse.api.streamdata.prepare_streaming`): lazy batch streams.

    Args:
        data: The ``data`` section (after :func:`deepfuse.config.resolve`).
        seed: Seed of the held-out splits (validation and, without a test file, test).
        batch_size: Rows per batch, used only by the streaming route.

    Returns:
        A :class:`Prepared`.

    Raises:
        DataError: Missing file, unknown target column, one-class target, bad values, no rows.
    """
    if data.get("dataset") is not None:
        name, options = _dataset_spec(data["dataset"])
        if name in ("mnist", "fashion_mnist"):
            return _prepare_images(name, options, data, seed)
    from deepfuse.api.streamdata import prepare_streaming, should_stream

    if should_stream(data):
        return prepare_streaming(data, seed=seed, batch_size=batch_size)
    return _prepare_tables(data, seed)


def _prepare_images(name: str, options: dict, data: Mapping[str, Any], seed: int) -> Prepared:
    (x_train, y_train), (x_test, y_test) = DATASET_LOADERS[name](**options)
    if data.get("limit"):
        x_train, y_train = x_train[: data["limit"]], y_train[: data["limit"]]
    train = {"x": images_to_tensor(x_train), "y": torch.from_numpy(np.asarray(y_train, np.int64))}
    test = {"x": images_to_tensor(x_test), "y": torch.from_numpy(np.asarray(y_test, np.int64))}
    train, val = _split(train, train["y"].numpy(), data.get("validation_split") or 0.0, seed)
    if name == "fashion_mnist":
        from deepfuse.datasets import FASHION_MNIST_CLASSES as classes
    else:
        classes = tuple(range(10))
    return Prepared(
        "image", train, val, test, "y", "multiclass", list(classes), features={"x": "image"}
    )


def images_to_tensor(images: Any) -> torch.Tensor:
    """uint8 images ``(N, H, W)`` or ``(N, H, W, C)`` → float32 NCHW in [0, 1] (one copy)."""
    x = torch.as_tensor(np.asarray(images))
    if x.dim() == 3:
        x = x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    elif x.dim() == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.permute(0, 3, 1, 2)  # channels-last -> NCHW, converted once at the boundary
    x = x.float()
    if images is not None and np.asarray(images).dtype == np.uint8:
        x = x / 255.0
    return x.contiguous()


def _split(
    tensors: dict[str, torch.Tensor], labels: np.ndarray, fraction: float, seed: int
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    if not fraction:
        return tensors, None
    keep, held = _split_indices(labels, fraction, seed)
    keep_t, held_t = torch.as_tensor(keep), torch.as_tensor(held)
    return (
        {k: v.index_select(0, keep_t) for k, v in tensors.items()},
        {k: v.index_select(0, held_t) for k, v in tensors.items()},
    )


def _split_indices(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from deepfuse.data import stratified_split

    keep, held = stratified_split(labels, fraction, seed=seed)
    if len(keep) == 0 or len(held) == 0:
        raise DataError(
            f"Cannot hold out {fraction:.0%} of {len(labels)} rows: one side of the split is empty. "
            "Add rows, or set data.validation_split=0 / provide data.test."
        )
    return np.sort(np.asarray(keep)), np.sort(np.asarray(held))


# ----------------------------------------------------------------------------- tables


def read_input(path_or_glob: str) -> pa.Table:
    """Read one file, or every file matching a glob (concatenated in name order).

    Raises:
        DataError: No file matches, or a file cannot be read.
    """
    from deepfuse.data import read_table

    if any(c in path_or_glob for c in "*?["):
        paths = sorted(glob.glob(path_or_glob, recursive=True))
        if not paths:
            raise DataError(f"No file matches '{path_or_glob}'. Check the pattern and the folder.")
        tables = [read_table(p) for p in paths]
        try:
            return pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(
                f"The files matching '{path_or_glob}' have different columns: "
                f"{str(exc).splitlines()[0]}"
            ) from None
    if not os.path.exists(path_or_glob):
        raise DataError(
            f"Data file '{path_or_glob}' does not exist (current directory: "
            f"{os.getcwd()}). Check data.train / data.test or the input path."
        )
    return read_table(path_or_glob)


def _check_target(table: pa.Table, target: str, where: str) -> None:
    if target not in table.column_names:
        cols = ", ".join(repr(c) for c in table.column_names[:20])
        raise DataError(
            f"The target column {target!r} is not in {where}. Columns: {cols}."
            f"{did_you_mean(target, table.column_names)}"
        )
    if table.num_rows == 0:
        raise DataError(f"{where} has no rows. Provide a file with a header and data rows.")


def _labels_of(table: pa.Table, target: str) -> np.ndarray:
    return np.asarray(table.column(target).to_numpy(zero_copy_only=False))


def _split_tables(
    train: pa.Table, test: pa.Table | None, data: Mapping[str, Any], seed: int
) -> tuple[pa.Table, pa.Table | None, pa.Table]:
    """``(train, validation, test)`` tables: the same rows for the same config and seed."""
    target = data["target"]
    _check_target(train, target, "the training data")
    if data.get("limit"):
        train = train.slice(0, data["limit"])
    if test is None:
        keep, held = _split_indices(_labels_of(train, target), data.get("test_split") or 0.2, seed)
        train, test = train.take(keep), train.take(held)
    else:
        _check_target(test, target, "the test data")
    val = None
    if data.get("validation_split"):
        keep, held = _split_indices(_labels_of(train, target), data["validation_split"], seed + 1)
        train, val = train.take(keep), train.take(held)
    return train, val, test


def _load_tables(data: Mapping[str, Any]) -> tuple[pa.Table, pa.Table | None, dict[str, Any]]:
    """Raw train/test tables and the data section completed for built-in table datasets."""
    if data.get("dataset") is not None:
        name, options = _dataset_spec(data["dataset"])
        train, test = DATASET_LOADERS[name](**options)
        features = dict(_IMDB_FEATURES) if name == "imdb" else {}
        return train, test, {**data, "target": _TABLE_TARGETS[name], "features": features}
    train = read_input(data["train"])
    test = read_input(data["test"]) if data.get("test") else None
    return train, test, dict(data)


def load_test(data: Mapping[str, Any], *, seed: int, preprocessor: Any) -> Any:
    """Rebuild the test tensors of a run (same rows as at training time) with its preprocessor.

    Example:
        >>> load_test({"dataset": "mnist"}, seed=0, preprocessor=None)["x"].shape
        torch.Size([10000, 1, 28, 28])
    """
    if data.get("dataset") is not None:
        name, options = _dataset_spec(data["dataset"])
        if name in ("mnist", "fashion_mnist"):
            _, (x_test, y_test) = DATASET_LOADERS[name](**options)
            return {
                "x": images_to_tensor(x_test),
                "y": torch.from_numpy(np.asarray(y_test, np.int64)),
            }
    if data.get("streaming") is True:  # train() records the route it took in config.yaml
        from deepfuse.api.streamdata import load_test_stream

        return load_test_stream(data, preprocessor=preprocessor, batch_size=1024)
    train, test, data = _load_tables(data)
    _, _, test = _split_tables(train, test, data, seed)
    return table_to_tensors(preprocessor, test)


def _prepare_tables(data: Mapping[str, Any], seed: int) -> Prepared:
    from deepfuse.data import Preprocessor

    raw_train, raw_test, data = _load_tables(data)
    target = data["target"]
    train, val, test = _split_tables(raw_train, raw_test, data, seed)
    pre = _make_preprocessor(Preprocessor, data)
    try:
        pre.fit(train, target)
        tensors = [table_to_tensors(pre, t) if t is not None else None for t in (train, val, test)]
    except DataError as exc:
        # Row numbers in the message count rows of a split; find the row in the file instead.
        raise _in_file_terms(exc, data, raw_train, raw_test) from None
    return Prepared(
        "table",
        *tensors,
        target,
        pre.task,
        None if pre.classes is None else list(pre.classes),
        preprocessor=pre,
        features=_features_of(pre, target),
    )


def _in_file_terms(
    exc: DataError, data: Mapping[str, Any], train: pa.Table, test: pa.Table | None
) -> DataError:
    """Re-run preprocessing on each whole file so the error names the file and its row."""
    from deepfuse.data import Preprocessor

    sources = [(data.get("train") or "the training data", train)]
    if test is not None:
        sources.append((data.get("test") or "the test data", test))
    for source, table in sources:
        pre = _make_preprocessor(Preprocessor, data)
        try:
            pre.fit(table, data["target"])
            pre.transform(table)
        except DataError as whole:
            return DataError(f"{source}: {whole}")
    return exc


def _make_preprocessor(cls: Any, data: Mapping[str, Any]) -> Any:
    """``Preprocessor(overrides=data.features, **data.preprocessing)``."""
    options = dict(data.get("preprocessing") or {})
    overrides = {}
    for col, spec in (data.get("features") or {}).items():
        if isinstance(spec, Mapping):
            spec = dict(spec)
            spec["type"] = _FEATURE_ALIASES.get(spec.get("type"), spec.get("type"))
        else:
            spec = _FEATURE_ALIASES.get(spec, spec)
        overrides[col] = spec
    if overrides:
        options["overrides"] = overrides
    return cls(**options)


_FEATURE_ALIASES = {"ignore": "ignored"}


def table_to_tensors(pre: Any, table: pa.Table) -> dict[str, torch.Tensor]:
    """Apply the fitted Preprocessor; fail clearly on an empty table."""
    if table.num_rows == 0:
        raise DataError("The data has no rows after splitting. Provide more rows.")
    return dict(pre.transform(table))


def _features_of(pre: Any, target: str) -> dict[str, str]:
    """Resolved ``{column: type}`` of the fitted schema, for config.yaml."""
    return {f.name: f.type for f in pre.schema.features if f.name != target}
