"""Feature typing: decide how each column of a table becomes model input.

Types: ``numeric`` (standardised), ``binary`` (two values -> 0/1, in the numeric block),
``categorical`` (indexed, 0 = unknown/missing), ``text`` (word indices), ``image`` (paths to
.png/.jpg files) and ``ignored`` (identifiers, constants, unsupported types). Each feature records
the reason for its type; override any decision with ``overrides={"col": "categorical"}`` or
``{"col": {"type": "text", "max_len": 100}}``.

Example:
    >>> import pyarrow as pa
    >>> from deepfuse.data import infer_schema
    >>> t = pa.table({"age": [30, 40, 50, 60], "city": ["a", "b", "a", "c"], "y": ["n", "y", "n", "y"]})
    >>> s = infer_schema(t, "y")
    >>> [(f.name, f.type) for f in s.features], s.target.task, s.target.classes
    ([('age', 'numeric'), ('city', 'categorical')], 'binary', ['n', 'y'])
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from deepfuse._utils.errors import ConfigError, DataError, did_you_mean, invalid_choice
from deepfuse.data.bad_bytes import check_target_bytes, warn_invalid_utf8
from deepfuse.data.columns import (
    as_array,
    as_string,
    is_numeric_type,
    numeric_matches,
    row_of_first,
)
from deepfuse.data.io import SOURCE_DIR_KEY

__all__ = ["FEATURE_TYPES", "FeatureSpec", "Schema", "TargetSpec", "base_dir_of", "infer_schema"]

FEATURE_TYPES = ("numeric", "binary", "categorical", "text", "image", "ignored")
TARGET_TYPES = ("classification", "regression")
MAX_CATEGORIES = 100  # strings with at most this many distinct values are categorical
MAX_CLASSES = 50  # integer-valued numeric targets with at most this many values are classes
_IMAGE_RE = r"(?i)\.(png|jpe?g)$"
_ID_NAME = re.compile(r"(^|[_\W])(id|uuid|index|key)$|^id[_\W]", re.IGNORECASE)


@dataclass
class FeatureSpec:
    """One input column: its ``type``, why (``reason``), fitted ``stats`` and user ``options``."""

    name: str
    type: str
    reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TargetSpec:
    """The target column: ``task`` is ``"binary"``, ``"multiclass"`` or ``"regression"``."""

    name: str
    task: str
    classes: list[Any] | None = None
    reason: str = ""

    @property
    def num_classes(self) -> int | None:
        """Number of classes, ``None`` for regression."""
        return None if self.classes is None else len(self.classes)


@dataclass
class Schema:
    """Typed features (in table order) and the target; JSON-able through :meth:`to_dict`."""

    features: list[FeatureSpec]
    target: TargetSpec | None = None

    def __getitem__(self, name: str) -> FeatureSpec:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def names(self, type: str) -> list[str]:
        """Names of the features of one type, in order (the column order of their block)."""
        return [f.name for f in self.features if f.type == type]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dictionary."""
        return {
            "features": [asdict(f) for f in self.features],
            "target": None if self.target is None else asdict(self.target),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        """Inverse of :meth:`to_dict`."""
        target = None if d.get("target") is None else TargetSpec(**d["target"])
        return cls([FeatureSpec(**f) for f in d["features"]], target)

    def __str__(self) -> str:
        lines = [f"{'column':<24} {'type':<12} reason"]
        lines += [f"{f.name:<24} {f.type:<12} {f.reason}" for f in self.features]
        if self.target is not None:
            lines.append(
                f"{self.target.name:<24} {'target':<12} {self.target.task}: {self.target.reason}"
            )
        return "\n".join(lines)


def base_dir_of(table: pa.Table) -> Path:
    """Folder that relative paths in ``table`` refer to (the file's folder, else the cwd)."""
    meta = table.schema.metadata or {}
    return Path(meta[SOURCE_DIR_KEY].decode()) if SOURCE_DIR_KEY in meta else Path.cwd()


def _resolve(path: str, base: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p


def _infer_target(table: pa.Table, name: str, forced: str | None) -> TargetSpec:
    col = as_array(table.column(name))
    if col.null_count:
        row = row_of_first(pc.is_null(col))
        raise DataError(
            f"Target column '{name}' is missing in {col.null_count} rows (first: row {row}). "
            "Drop those rows or fill them before training."
        )
    numeric = is_numeric_type(col.type)
    uniq = pc.unique(col)
    n_unique = len(uniq)
    if forced == "regression" and not numeric:
        raise DataError(
            f"Target column '{name}' holds {col.type} values; regression needs numbers."
        )
    if forced == "regression" or (forced is None and numeric and n_unique > 0):
        values = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
        integral = bool(np.all(np.mod(values, 1) == 0))
        if forced == "regression" or not (integral and n_unique <= MAX_CLASSES):
            if n_unique < 2:
                raise DataError(
                    f"Target column '{name}' has a single value ({uniq[0].as_py()!r}); there is nothing to learn."
                )
            reason = "forced" if forced else f"{col.type} with {n_unique} distinct values"
            return TargetSpec(name, "regression", None, reason)
    if n_unique < 2:
        raise DataError(
            f"Target column '{name}' has only one class ({uniq[0].as_py()!r}); classification needs "
            "at least two. Check the file or the target name."
        )
    classes = pc.sort_indices(uniq)
    classes = uniq.take(classes).to_pylist()
    task = "binary" if n_unique == 2 else "multiclass"
    return TargetSpec(
        name, task, classes, "forced" if forced else f"{col.type} with {n_unique} classes"
    )


def _infer_strings(
    name: str, col: pa.Array, n_nonnull: int, n_unique: int, base: Path
) -> tuple[str, str]:
    text = as_string(col)
    ok = numeric_matches(text)
    n_numeric = pc.sum(pc.cast(ok, pa.int64())).as_py() or 0
    if n_numeric == n_nonnull:
        if n_unique == 2:
            return "binary", "two distinct values"
        return "numeric", "strings that all parse as numbers"
    if n_numeric >= 0.95 * n_nonnull and n_nonnull >= 20:
        row = row_of_first(pc.invert(pc.fill_null(ok, True)))
        raise DataError(
            f"Column '{name}' looks numeric ({n_numeric / n_nonnull:.1%} of its values are numbers) "
            f"but row {row} holds {text[row - 1].as_py()!r}. Fix the value, leave it empty for a "
            f"missing value, or declare the column categorical with overrides={{'{name}': 'categorical'}}."
        )
    if n_unique == 1:
        return "ignored", "a single value (constant)"
    nonnull = pc.drop_null(text)
    if pc.all(pc.match_substring_regex(nonnull, _IMAGE_RE)).as_py():
        missing = [p for p in nonnull.slice(0, 20).to_pylist() if not _resolve(p, base).is_file()]
        if missing:
            raise DataError(
                f"Column '{name}' holds image paths but '{missing[0]}' does not exist (relative paths "
                f"are resolved against {base}). Fix the paths or declare the column with overrides."
            )
        return "image", "paths to .png/.jpg files"
    if n_unique == 2:
        return "binary", "two distinct values"
    ratio = n_unique / n_nonnull
    mean_len = pc.mean(pc.utf8_length(nonnull)).as_py()
    mean_words = (
        pc.mean(pc.count_substring_regex(pc.utf8_trim_whitespace(nonnull), r"\s+")).as_py() + 1
    )
    if (mean_words >= 3 or mean_len >= 30) and (n_unique > MAX_CATEGORIES or ratio >= 0.5):
        return "text", f"{n_unique} distinct values, {mean_words:.0f} words on average"
    if n_unique == n_nonnull and n_nonnull >= 20:
        return "ignored", "unique per row (an identifier)"
    if n_unique <= MAX_CATEGORIES:
        return "categorical", f"{n_unique} distinct values"
    if ratio > 0.5:
        return "ignored", f"{n_unique} distinct short values in {n_nonnull} rows (identifier-like)"
    return "categorical", f"{n_unique} distinct values (high cardinality)"


def _infer_column(name: str, col: pa.Array, base: Path) -> tuple[str, str]:
    n_nonnull = len(col) - col.null_count
    if n_nonnull == 0 or pa.types.is_null(col.type):
        return "ignored", "all values missing"
    if pa.types.is_boolean(col.type):
        return "binary", "boolean"
    if (
        is_numeric_type(col.type)
        or pa.types.is_string(col.type)
        or pa.types.is_large_string(col.type)
    ):
        n_unique = pc.count_distinct(col).as_py()
        if is_numeric_type(col.type):
            if n_unique == 1:
                return "ignored", "a single value (constant)"
            if n_unique == 2:
                return "binary", "two distinct values"
            if pa.types.is_integer(col.type) and n_unique == n_nonnull and n_nonnull >= 20:
                lo, hi = pc.min_max(col).values()
                if _ID_NAME.search(name) or hi.as_py() - lo.as_py() + 1 == n_nonnull:
                    return "ignored", "unique integers per row (an identifier)"
            return "numeric", f"{col.type}"
        return _infer_strings(name, col, n_nonnull, n_unique, base)
    return "ignored", f"unsupported type {col.type}"


def _normalise_overrides(
    overrides: dict[str, Any] | None, names: list[str]
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for col, spec in (overrides or {}).items():
        if col not in names:
            raise DataError(
                f"overrides names column '{col}', which is not in the table.{did_you_mean(col, names)}"
            )
        opts = dict(spec) if isinstance(spec, dict) else {"type": spec}
        out[col] = opts
    return out


def infer_schema(
    table: pa.Table, target: str | None, *, overrides: dict[str, Any] | None = None
) -> Schema:
    """Type every column of ``table`` and the ``target`` column.

    Args:
        table: Training data.
        target: Name of the label column (``None`` for unsupervised use).
        overrides: ``{column: type}`` or ``{column: {"type": ..., **options}}``; for the target the
            type is ``"classification"`` or ``"regression"``. Text options: ``max_tokens``,
            ``max_len``; image options: ``size`` (``[H, W]``), ``channels``.

    Returns:
        A :class:`Schema` (types and reasons; stats are filled in by ``Preprocessor.fit``).

    Raises:
        DataError: Unknown target/override column, one-class target, missing target values, or a
            column that looks numeric but holds text (names the 1-based row and the value).
        ConfigError: An override names an unknown type.

    Example:
        >>> import pyarrow as pa
        >>> infer_schema(pa.table({"x": [1.0, 2.5, 3.0], "y": [0, 1, 0]}), "yy")
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: Target column 'yy' is not in the table. Columns: x, y. Did you mean 'y'?
    """
    names = list(table.column_names)
    if target is not None and target not in names:
        raise DataError(
            f"Target column '{target}' is not in the table. Columns: {', '.join(names)}.{did_you_mean(target, names)}"
        )
    if table.num_rows == 0:
        raise DataError("The table has no rows; expected at least one row of training data.")
    if target is not None:
        check_target_bytes(table, target)  # a replaced label would be a new class
    warn_invalid_utf8(table, skip=target)  # features keep their (replaced) text, and say so
    opts = _normalise_overrides(overrides, names)
    base = base_dir_of(table)
    target_spec = None
    if target is not None:
        forced = opts.get(target, {}).get("type")
        if forced is not None and forced not in TARGET_TYPES:
            raise invalid_choice("target type", forced, TARGET_TYPES, error=ConfigError)
        target_spec = _infer_target(table, target, forced)
    features = []
    for name in names:
        if name == target:
            continue
        options = dict(opts.get(name, {}))
        forced = options.pop("type", None)
        if forced is not None:
            if forced not in FEATURE_TYPES:
                raise invalid_choice("feature type", forced, FEATURE_TYPES, error=ConfigError)
            kind, reason = forced, "set in overrides"
        else:
            kind, reason = _infer_column(name, as_array(table.column(name)), base)
        features.append(FeatureSpec(name, kind, reason, {}, options))
    return Schema(features, target_spec)
