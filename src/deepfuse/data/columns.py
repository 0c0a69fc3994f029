"""Column-level helpers shared by schema inference and encoders (pyarrow compute, no row loops).

Example:
    >>> import pyarrow as pa
    >>> from deepfuse.data.columns import parse_numeric
    >>> parse_numeric(pa.array(["1.5", None, " 2"]), "x").tolist()
    [1.5, nan, 2.0]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from deepfuse._utils.errors import DataError

__all__ = [
    "as_array",
    "as_string",
    "is_numeric_type",
    "numeric_matches",
    "parse_numeric",
    "row_of_first",
]

_NUMBER = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"


def as_array(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Return one contiguous Array (dictionary columns decoded)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks else pa.array([], col.type)
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    return col


def is_numeric_type(t: pa.DataType) -> bool:
    """True for integer, floating point and decimal columns."""
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def as_string(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Cast any column to strings (nulls kept), the common key space of vocabularies."""
    col = as_array(col)
    if pa.types.is_string(col.type):
        return col
    return pc.cast(col, pa.string())


def numeric_matches(col: pa.Array) -> pa.Array:
    """Boolean array: which (string) values look like numbers; null where the value is null."""
    return pc.match_substring_regex(as_string(col), _NUMBER)


def row_of_first(mask: pa.Array | np.ndarray) -> int:
    """1-based data row number of the first True in ``mask`` (nulls count as False)."""
    m = (
        mask
        if isinstance(mask, np.ndarray)
        else pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    )
    return int(np.argmax(m)) + 1


def parse_numeric(col: pa.Array | pa.ChunkedArray, name: str) -> np.ndarray:
    """Convert a numeric or number-holding string column to float64 (missing -> NaN).

    Raises:
        DataError: A value is text that is not a number; names the column, 1-based row and value.
    """
    col = as_array(col)
    if pa.types.is_boolean(col.type) or is_numeric_type(col.type):
        return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    if pa.types.is_null(col.type):
        return np.full(len(col), np.nan)
    text = as_string(col)
    ok = numeric_matches(text)
    bad = pc.invert(pc.fill_null(ok, True))
    if pc.any(bad).as_py():
        row = row_of_first(bad)
        raise DataError(
            f"Column '{name}' is numeric but row {row} holds {text[row - 1].as_py()!r}. "
            "Fix or remove that value, or leave the field empty for a missing value."
        )
    values = pc.cast(pc.utf8_trim_whitespace(text), pa.float64())
    return values.to_numpy(zero_copy_only=False).astype(np.float64)
