from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.data import infer_schema

ADULT_NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
ADULT_CATEGORICAL = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "native-country",
]


def test_adult_types(adult):
    s = infer_schema(adult[0], "income")
    assert s.names("numeric") == ADULT_NUMERIC
    assert s.names("categorical") == ADULT_CATEGORICAL
    assert s.names("binary") == ["sex"]
    assert s.target.task == "binary" and s.target.classes == ["<=50K", ">50K"]


def test_imdb_review_is_text(imdb):
    s = infer_schema(imdb[0], "sentiment")
    assert s["review"].type == "text"
    assert s["file_id"].type == "ignored" and s["split"].type == "ignored"
    assert s.target.classes == ["negative", "positive"]


def test_numeric_column_with_text_names_row():
    ages = [str(20 + i % 50) for i in range(2000)]
    ages[1233] = "abc"
    t = pa.table({"age": ages, "y": [i % 2 for i in range(2000)]})
    with pytest.raises(DataError) as e:
        infer_schema(t, "y")
    msg = str(e.value)
    assert "Column 'age' looks numeric" in msg and "row 1234 holds 'abc'" in msg
    assert "overrides={'age': 'categorical'}" in msg
    s = infer_schema(t, "y", overrides={"age": "categorical"})
    assert s["age"].type == "categorical"


def test_one_class_target():
    with pytest.raises(DataError, match="only one class"):
        infer_schema(pa.table({"x": [1.0, 2.0, 3.0], "y": ["a", "a", "a"]}), "y")


def test_unknown_target_and_override_column():
    t = pa.table({"income": [1, 0], "x": [0.5, 1.5]})
    with pytest.raises(DataError, match="Did you mean 'income'"):
        infer_schema(t, "incme")
    with pytest.raises(DataError, match="Did you mean 'x'"):
        infer_schema(t, "income", overrides={"xx": "numeric"})
    with pytest.raises(ConfigError, match="Unknown feature type 'numerc'"):
        infer_schema(t, "income", overrides={"x": "numerc"})


def test_target_tasks():
    rng = np.random.default_rng(0)
    t = pa.table(
        {
            "x": rng.normal(size=100),
            "reg": rng.normal(size=100),
            "cls": rng.integers(0, 4, 100).astype(float),
        }
    )
    assert infer_schema(t, "reg").target.task == "regression"
    s = infer_schema(t, "cls")
    assert s.target.task == "multiclass" and s.target.classes == [0.0, 1.0, 2.0, 3.0]
    assert infer_schema(t, "cls", overrides={"cls": "regression"}).target.task == "regression"
    with pytest.raises(DataError, match="missing in 1 rows \\(first: row 2\\)"):
        infer_schema(pa.table({"x": [1, 2, 3], "y": ["a", None, "b"]}), "y")


def test_ids_and_constants_are_ignored():
    n = 50
    t = pa.table({"id": np.arange(n), "code": [f"u{i:04d}" for i in range(n)], "k": [7] * n,
                  "v": np.linspace(0, 1, n), "y": [i % 2 for i in range(n)]})  # fmt: skip
    s = infer_schema(t, "y")
    assert [s[c].type for c in ("id", "code", "k", "v")] == [
        "ignored",
        "ignored",
        "ignored",
        "numeric",
    ]
    assert "identifier" in s["id"].reason
