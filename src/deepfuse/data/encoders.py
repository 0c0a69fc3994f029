"""Per-column encoders: fit on a training column, transform any column to a numpy array.

Every encoder is rebuilt exactly from ``get_config()`` (plain JSON: floats, strings, lists).

Example:
    >>> import pyarrow as pa
    >>> from deepfuse.data.encoders import CategoricalEncoder
    >>> enc = CategoricalEncoder("city").fit(pa.array(["b", "a", "b", None]))
    >>> enc.categories, enc.transform(pa.array(["a", "zzz", None, "b"])).tolist()
    (['b', 'a'], [2, 0, 0, 1])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from deepfuse._utils.errors import DataError
from deepfuse._utils.text import rank_by_frequency
from deepfuse.data.columns import as_array, as_string, is_numeric_type, parse_numeric, row_of_first

__all__ = ["BinaryEncoder", "CategoricalEncoder", "NumericEncoder", "TargetEncoder"]


class NumericEncoder:
    """Standardise to zero mean, unit variance; missing values take the training mean (-> 0)."""

    def __init__(self, name: str, mean: float = 0.0, std: float = 1.0, missing: int = 0) -> None:
        self.name, self.mean, self.std, self.missing = name, mean, std, missing

    def fit(self, col: Any) -> NumericEncoder:
        x = parse_numeric(col, self.name)
        ok = ~np.isnan(x)
        self.missing = int((~ok).sum())
        self.mean = float(x[ok].mean()) if ok.any() else 0.0
        std = float(x[ok].std()) if ok.any() else 0.0
        self.std = std if std > 0 else 1.0  # constant columns map to 0, not NaN
        return self

    def transform(self, col: Any) -> np.ndarray:
        x = parse_numeric(col, self.name)
        x = np.where(np.isnan(x), self.mean, x)
        return (x - self.mean) / self.std

    def stats(self) -> dict[str, Any]:
        fill = (
            f"{self.missing} missing values filled with the training mean"
            if self.missing
            else "no missing values"
        )
        return {"mean": self.mean, "std": self.std, "missing": self.missing, "fill": fill}

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "mean": self.mean, "std": self.std, "missing": self.missing}


class BinaryEncoder:
    """Map the two training values to 0/1 (sorted order); missing/unseen take the training rate."""

    def __init__(
        self, name: str, values: list[Any] | None = None, fill: float = 0.0, missing: int = 0
    ) -> None:
        self.name, self.values, self.fill, self.missing = name, values, fill, missing

    def _codes(self, col: Any) -> np.ndarray:
        col = as_array(col)
        values = self.values or []
        if (
            values
            and all(isinstance(v, int | float | bool) for v in values)
            and (is_numeric_type(col.type) or pa.types.is_boolean(col.type))
        ):
            x = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
            codes = np.where(
                x == float(values[1]), 1.0, np.where(x == float(values[0]), 0.0, np.nan)
            )
        else:
            idx = pc.index_in(
                as_string(col), value_set=pa.array([str(v) for v in values], pa.string())
            )
            codes = pc.fill_null(idx, -1).to_numpy().astype(np.float64)
            codes[codes < 0] = np.nan
        return codes

    def fit(self, col: Any) -> BinaryEncoder:
        col = as_array(col)
        uniq = pc.drop_null(pc.unique(col))
        if len(uniq) != 2:
            raise DataError(
                f"Column '{self.name}' is declared binary but holds {len(uniq)} distinct values; expected exactly 2."
            )
        values = uniq.take(pc.sort_indices(uniq)).to_pylist()
        if pa.types.is_boolean(col.type):
            values = [int(v) for v in values]
        self.values = values
        codes = self._codes(col)
        self.missing = int(np.isnan(codes).sum())
        self.fill = float(np.nanmean(codes))
        return self

    def transform(self, col: Any) -> np.ndarray:
        codes = self._codes(col)
        return np.where(np.isnan(codes), self.fill, codes)

    def stats(self) -> dict[str, Any]:
        return {"values": self.values, "missing": self.missing, "fill": self.fill}

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "values": self.values,
            "fill": self.fill,
            "missing": self.missing,
        }


class CategoricalEncoder:
    """Index categories 1..K by decreasing training frequency; 0 = missing or unseen.

    ``approximate`` (set only by a streaming fit that met more distinct values than it may hold)
    says why the categories are the heavy hitters of a sketch rather than every value.
    """

    def __init__(
        self,
        name: str,
        categories: list[str] | None = None,
        missing: int = 0,
        approximate: str | None = None,
    ) -> None:
        self.name, self.categories, self.missing = name, categories, missing
        self.approximate = approximate
        self._lookup = None if categories is None else pa.array(categories, pa.string())

    @property
    def cardinality(self) -> int:
        """Embedding rows needed: K categories + the 0 slot."""
        return len(self.categories or []) + 1

    def fit(self, col: Any) -> CategoricalEncoder:
        text = as_string(col)
        counts = pc.value_counts(pc.drop_null(text))
        return self.fit_counts(
            counts.field("values"), counts.field("counts").to_numpy(), text.null_count
        )

    def fit_counts(
        self,
        values: pa.Array,
        counts: np.ndarray,
        missing: int,
        approximate: str | None = None,
        limit: int | None = None,
    ) -> CategoricalEncoder:
        """Set the categories from value counts (``fit`` and the streaming fit share this)."""
        self.categories = rank_by_frequency(values, counts, limit)
        self._lookup = pa.array(self.categories, pa.string())
        self.missing, self.approximate = int(missing), approximate
        return self

    def transform(self, col: Any) -> np.ndarray:
        idx = pc.index_in(as_string(col), value_set=self._lookup)
        return pc.fill_null(idx, -1).to_numpy().astype(np.int64) + 1

    def stats(self) -> dict[str, Any]:
        out = {
            "cardinality": self.cardinality,
            "categories": len(self.categories or []),
            "missing": self.missing,
        }
        if self.approximate:  # only streaming fits past the cap; exact fits keep the old keys
            out.update(approximate=True, approximation=self.approximate)
        return out

    def get_config(self) -> dict[str, Any]:
        out = {"name": self.name, "categories": self.categories, "missing": self.missing}
        if self.approximate:
            out["approximate"] = self.approximate
        return out


class TargetEncoder:
    """Labels -> class indices (classification, sorted label order) or float values (regression)."""

    def __init__(self, name: str, classes: list[Any] | None = None) -> None:
        self.name, self.classes = name, classes

    def transform(self, col: Any) -> np.ndarray:
        col = as_array(col)
        if col.null_count:
            row = row_of_first(pc.is_null(col))
            raise DataError(
                f"Target column '{self.name}' is missing in row {row}. Drop or fill rows without a label."
            )
        if self.classes is None:
            return parse_numeric(col, self.name).astype(np.float32)
        numeric = all(isinstance(c, int | float) and not isinstance(c, bool) for c in self.classes)
        if numeric and (is_numeric_type(col.type) or pa.types.is_boolean(col.type)):
            keys, value_set = pc.cast(col, pa.float64()), pa.array([float(c) for c in self.classes])
        elif pa.types.is_boolean(col.type) and all(isinstance(c, bool) for c in self.classes):
            keys, value_set = col, pa.array(self.classes, pa.bool_())  # str(True) != "true"
        else:
            keys, value_set = as_string(col), pa.array([str(c) for c in self.classes], pa.string())
        idx = pc.index_in(keys, value_set=value_set)
        if idx.null_count:
            row = row_of_first(pc.is_null(idx))
            raise DataError(
                f"Target column '{self.name}' holds label {col[row - 1].as_py()!r} in row {row}, which was not "
                f"seen in training. Known labels: {', '.join(map(repr, self.classes))}."
            )
        return idx.to_numpy().astype(np.int64)

    def inverse(self, indices: Any) -> np.ndarray:
        idx = np.asarray(indices)
        if self.classes is None:
            return idx.astype(np.float64)
        if idx.ndim == 2:  # (N, C) scores -> argmax; (N, 1) binary probability -> threshold 0.5
            idx = idx.argmax(axis=1) if idx.shape[1] > 1 else (idx[:, 0] > 0.5)
        elif idx.dtype.kind == "f" and np.any(np.mod(idx, 1) != 0):  # (N,) binary probabilities
            idx = idx > 0.5
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self.classes)):
            raise DataError(
                f"Class index {int(idx.max())} is out of range for {len(self.classes)} classes of '{self.name}'."
            )
        return np.asarray(self.classes, dtype=object if isinstance(self.classes[0], str) else None)[
            idx
        ]

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "classes": self.classes}
