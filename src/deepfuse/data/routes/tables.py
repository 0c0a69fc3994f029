"""Tables held in memory: your CSV/Parquet/JSON-lines files, and the built-in tables (IMDB, Adult).

Every table goes through :class:`deepfuse.data.Preprocessor`, fitted on the training rows only,
so the target sits under its column name. Without ``data.test`` the test rows are a stratified
``data.test_split`` of ``data.train``; validation rows are then held out of the rest.

Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(path, "w").write("x,y\\n" + "".join(f"{i},{i % 2}\\n" for i in range(50)))
    >>> data = {"train": path, "target": "y", "validation_split": 0.1, "test_split": 0.2}
    >>> p = TableInMemory().prepare(data, seed=0, batch_size=32)
    >>> len(p.train["y"]), len(p.val["y"]), len(p.test["y"]), p.task, p.features
    (36, 4, 10, 'binary', {'x': 'numeric'})
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from deepfuse._utils.errors import DataError, did_you_mean
from deepfuse.data.bad_bytes import check_target_bytes
from deepfuse.data.io import read_table
from deepfuse.data.preprocessor import Preprocessor
from deepfuse.data.routes.base import DataRoute, FoldRows, Prepared, register_route
from deepfuse.data.routes.folders import folder_table
from deepfuse.data.routes.holdout import split_indices
from deepfuse.datasets.catalog import builtin

__all__ = ["FEATURE_ALIASES", "BuiltinTable", "TableInMemory", "make_preprocessor", "read_input"]

#: Spellings ``data.features`` accepts besides :data:`deepfuse.data.schema.FEATURE_TYPES`.
FEATURE_ALIASES = {"ignore": "ignored"}


def read_input(
    path_or_glob: str, *, encoding: str | None = "auto", delimiter: str | None = "auto"
) -> pa.Table:
    """Read one file, or every file matching a glob (concatenated in name order); a folder of
    image or text files is the table of their paths (:func:`.folders.folder_table`).

    ``encoding`` / ``delimiter`` (``data.encoding`` / ``data.delimiter``) apply to CSV/TSV files
    (:mod:`deepfuse.data.dialect`; ``auto`` detects them per file).

    Raises:
        DataError: No file matches, or a file cannot be read.
    """
    if os.path.isdir(path_or_glob) and (listed := folder_table(path_or_glob)) is not None:
        return listed
    if any(c in path_or_glob for c in "*?["):
        paths = sorted(glob.glob(path_or_glob, recursive=True))
        if not paths:
            raise DataError(f"No file matches '{path_or_glob}'. Check the pattern and the folder.")
        try:
            tables = [read_table(p, encoding=encoding, delimiter=delimiter) for p in paths]
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
    return read_table(path_or_glob, encoding=encoding, delimiter=delimiter)


def _dialect_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """``read_input``'s ``encoding`` / ``delimiter`` from a config's data section."""
    return {"encoding": data.get("encoding"), "delimiter": data.get("delimiter")}


def make_preprocessor(data: Mapping[str, Any]) -> Preprocessor:
    """``Preprocessor(overrides=data.features, **data.preprocessing)``."""
    options = dict(data.get("preprocessing") or {})
    overrides = {}
    for col, spec in (data.get("features") or {}).items():
        if isinstance(spec, Mapping):
            spec = {**spec, "type": FEATURE_ALIASES.get(spec.get("type"), spec.get("type"))}
        else:
            spec = FEATURE_ALIASES.get(spec, spec)
        overrides[col] = spec
    if overrides:
        options["overrides"] = overrides
    return Preprocessor(**options)


def prepared_table(pre: Preprocessor, target: str, train: Any, val: Any, test: Any, **kw: Any):
    """A :class:`Prepared` of a fitted preprocessor's splits (tensor dicts or batch streams)."""
    classes = None if pre.classes is None else list(pre.classes)
    features = {f.name: f.type for f in pre.schema.features if f.name != target}
    return Prepared(
        "table", train, val, test, target, pre.task, classes,
        preprocessor=pre, features=features, **kw,
    )  # fmt: skip


def check_target(table: pa.Table, target: str, where: str) -> None:
    """The target column exists and the table has rows, or a :class:`DataError` says so."""
    if target not in table.column_names:
        cols = ", ".join(repr(c) for c in table.column_names[:20])
        raise DataError(
            f"The target column {target!r} is not in {where}. Columns: {cols}."
            f"{did_you_mean(target, table.column_names)}"
        )
    if table.num_rows == 0:
        raise DataError(f"{where} has no rows. Provide a file with a header and data rows.")
    dtype = table.schema.field(target).type
    if not (pa.types.is_integer(dtype) or pa.types.is_floating(dtype)
            or pa.types.is_string(dtype) or pa.types.is_large_string(dtype)
            or pa.types.is_boolean(dtype) or pa.types.is_dictionary(dtype)):  # fmt: skip
        raise DataError(
            f"The target column {target!r} of {where} has type {dtype}. Expected one label per "
            "row: numbers (regression) or strings / integers / booleans (classes). Convert the "
            "column, or pick another data.target."
        )
    check_target_bytes(table, target)


def _labels_of(table: pa.Table, target: str) -> np.ndarray:
    return np.asarray(table.column(target).to_numpy(zero_copy_only=False))


def _to_tensors(pre: Preprocessor, table: pa.Table) -> dict[str, Any]:
    """Apply the fitted Preprocessor; fail clearly on an empty table."""
    if table.num_rows == 0:
        raise DataError("The data has no rows after splitting. Provide more rows.")
    return dict(pre.transform(table))


def _hold_out_validation(train: pa.Table, data: Mapping[str, Any], seed: int) -> tuple:
    """``(train, validation or None)``: validation rows come from the training rows."""
    if not data.get("validation_split"):
        return train, None
    keep, held = split_indices(_labels_of(train, data["target"]), data["validation_split"], seed)
    return train.take(keep), train.take(held)


@register_route
class TableInMemory(DataRoute):
    """``data.train`` (a file or glob) read whole; ``data.test`` or a held-out share for test."""

    name = "table_in_memory"

    @classmethod
    def matches(cls, data: Mapping[str, Any]) -> bool:
        return data.get("train") is not None

    def raw_tables(self, data: Mapping[str, Any]) -> tuple[pa.Table, pa.Table | None, dict]:
        """Raw train/test tables and the data section they are read with."""
        test = read_input(data["test"], **_dialect_of(data)) if data.get("test") else None
        return read_input(data["train"], **_dialect_of(data)), test, dict(data)

    def _splits(self, data: Mapping[str, Any], seed: int) -> tuple:
        """``(raw train, raw test, data, train, validation, test)``: same rows for a seed."""
        raw_train, raw_test, data = self.raw_tables(data)
        target = data["target"]
        check_target(raw_train, target, "the training data")
        train = raw_train.slice(0, data["limit"]) if data.get("limit") else raw_train
        if raw_test is None:
            test_share = data.get("test_split") or 0.2
            keep, held = split_indices(_labels_of(train, target), test_share, seed)
            train, test = train.take(keep), train.take(held)
        else:
            check_target(raw_test, target, "the test data")
            test = raw_test
        train, val = _hold_out_validation(train, data, seed + 1)
        return raw_train, raw_test, data, train, val, test

    def prepare(self, data: Mapping[str, Any], *, seed: int, batch_size: int) -> Prepared:
        raw_train, raw_test, data, train, val, test = self._splits(data, seed)
        pre = make_preprocessor(data)
        try:
            pre.fit(train, data["target"])
            tensors = [_to_tensors(pre, t) if t is not None else None for t in (train, val, test)]
        except DataError as exc:
            # Row numbers in the message count rows of a split; find the row in the file instead.
            raise _in_file_terms(exc, data, raw_train, raw_test) from None
        raw = {"train": train, "val": val, "test": test}  # the baselines fit on these rows
        return prepared_table(pre, data["target"], *tensors, raw=raw)

    def test_feed(
        self, data: Mapping[str, Any], *, seed: int, preprocessor: Any, batch_size: int = 1024
    ) -> Any:
        return _to_tensors(preprocessor, self._splits(data, seed)[-1])

    def load_input(self, table: pa.Table, model: Any, *, need_target: bool, source: str) -> Any:
        """Raw rows through the run's saved Preprocessor (the target dropped unless needed)."""
        if table.num_rows == 0:
            raise DataError(f"'{source}' has no rows. Provide a file with a header and data rows.")
        target = model.target_key
        if need_target and target not in table.column_names:
            raise DataError(
                f"'{source}' has no target column {target!r}, which evaluation needs. "
                f"Columns: {', '.join(table.column_names)}."
            )
        if not need_target and target in table.column_names:
            table = table.drop_columns([target])  # labels are not needed (and may be new)
        return dict(model.preprocessor.transform(table))

    def fold_rows(self, data: Mapping[str, Any]) -> FoldRows:
        table, _, data = self.raw_tables(data)  # data.test stays aside: folds cut the train rows
        check_target(table, data["target"], "the training data")
        if data.get("limit"):
            table = table.slice(0, data["limit"])
        return _TableFolds(table, data)


@register_route(before=TableInMemory)
class BuiltinTable(TableInMemory):
    """``data.dataset`` naming a built-in table (IMDB, Adult): its target and feature types."""

    name = "builtin_table"

    @classmethod
    def matches(cls, data: Mapping[str, Any]) -> bool:
        return data.get("dataset") is not None and builtin(data["dataset"])[0].kind == "table"

    def raw_tables(self, data: Mapping[str, Any]) -> tuple[pa.Table, pa.Table | None, dict]:
        entry, options = builtin(data["dataset"])
        train, test = entry.load(**options)
        return train, test, {**data, "target": entry.target, "features": dict(entry.features)}


class _TableFolds(FoldRows):
    def __init__(self, table: pa.Table, data: dict[str, Any]) -> None:
        from deepfuse.data.split import _is_regression  # the rule kfold_indices applies too

        self.table, self.data = table, data
        self.labels = _labels_of(table, data["target"])
        self.stratified = not _is_regression(self.labels)

    def prepared(self, train_idx: np.ndarray, test_idx: np.ndarray, seed: int) -> Prepared:
        target = self.data["target"]
        train, test = self.table.take(train_idx), self.table.take(test_idx)
        train, val = _hold_out_validation(train, self.data, seed + 1)  # as in train()
        pre = make_preprocessor(self.data)
        pre.fit(train, target)  # fitted on this fold's training rows only: no leakage
        tensors = [_to_tensors(pre, t) if t is not None else None for t in (train, val, test)]
        return prepared_table(pre, target, *tensors)


def _in_file_terms(
    exc: DataError, data: Mapping[str, Any], train: pa.Table, test: pa.Table | None
) -> DataError:
    """Re-run preprocessing on each whole file so the error names the file and its row."""
    sources = [(data.get("train") or "the training data", train)]
    if test is not None:
        sources.append((data.get("test") or "the test data", test))
    for source, table in sources:
        pre = make_preprocessor(data)
        try:
            pre.fit(table, data["target"])
            pre.transform(table)
        except DataError as whole:
            return DataError(f"{source}: {whole}")
    return exc
