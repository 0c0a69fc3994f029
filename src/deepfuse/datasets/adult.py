"""UCI Adult (census income) as pyarrow Tables: 32,561 train and 16,281 test rows.

Example:
    >>> from deepfuse.datasets import load_adult
    >>> train, test = load_adult()                                           # doctest: +SKIP
    >>> train.num_rows, train.column_names[-1], test.column("income").unique().to_pylist()  # doctest: +SKIP
    (32561, 'income', ['<=50K', '>50K'])
"""

from __future__ import annotations

import gzip
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from deepfuse._utils.errors import DataError
from deepfuse.datasets._files import find_file

__all__ = ["ADULT_COLUMNS", "load_adult"]

ADULT_COLUMNS = (
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
    "native-country", "income",
)  # fmt: skip
_NUMERIC = {"age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"}
_SHA256 = {
    "adult.data.gz": "c7a2b4716a97f930123e0baf879188d701e798172631a654fc703d4b082907f3",
    "adult.test.gz": "8a2c1bffa6e7ce5abfa43881ae5e87c4311ebc2b3cd526c9c40a43f19f06f799",
}


def _read(name: str, data_dir, skip_rows: int) -> pa.Table:
    path = find_file("adult", name, _SHA256[name], data_dir=data_dir)
    # The files separate fields with ", "; pyarrow has no skipinitialspace, so drop the spaces
    # before parsing (no field starts with a space of its own).
    raw = gzip.decompress(path.read_bytes()).replace(b", ", b",")
    types = {c: (pa.int64() if c in _NUMERIC else pa.string()) for c in ADULT_COLUMNS}
    try:
        table = pacsv.read_csv(
            pa.BufferReader(raw),
            read_options=pacsv.ReadOptions(column_names=list(ADULT_COLUMNS), skip_rows=skip_rows),
            convert_options=pacsv.ConvertOptions(
                column_types=types, null_values=["?"], strings_can_be_null=True
            ),
        )
    except pa.ArrowInvalid as e:
        raise DataError(f"Cannot parse '{path}': {str(e).splitlines()[0]}") from None
    # Test labels end in '.' ("<=50K."): normalise to the train spelling.
    income = pc.replace_substring_regex(table.column("income"), r"\.$", "")
    return table.set_column(table.schema.get_field_index("income"), "income", income)


def load_adult(data_dir: str | os.PathLike | None = None) -> tuple[pa.Table, pa.Table]:
    """Load UCI Adult as ``(train, test)`` pyarrow Tables with named columns.

    ``adult.data.gz`` and ``adult.test.gz`` are searched in ``data_dir``, ``$DEEPFUSE_DATA_DIR`` and
    the folder set with :func:`deepfuse.datasets.set_data_dir` (as ``<dir>/adult/`` or ``<dir>/``)
    and sha256-checked. The test file's junk first line is skipped; ``"?"`` becomes null; the label
    column ``income`` holds ``"<=50K"`` / ``">50K"`` in both splits (no trailing ``"."``).
    Numeric columns are ``int64``, the others ``string`` (see :data:`ADULT_COLUMNS`).

    Args:
        data_dir: Optional folder to search first.

    Returns:
        ``(train, test)``: 32,561 and 16,281 rows, 15 columns each.

    Example:
        >>> from deepfuse.data import Preprocessor                          # doctest: +SKIP
        >>> train, test = load_adult()                                      # doctest: +SKIP
        >>> Preprocessor().fit(train, "income").task                        # doctest: +SKIP
        'binary'
    """
    return _read("adult.data.gz", data_dir, 0), _read("adult.test.gz", data_dir, 1)
