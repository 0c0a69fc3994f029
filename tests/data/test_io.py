from __future__ import annotations

import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepfuse._utils.errors import DataError
from deepfuse.data import as_table, read_table


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".tsv", ".parquet", ".jsonl"])
def test_read_formats(tmp_path, suffix):
    p = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), p)
    elif suffix == ".jsonl":
        p.write_text('{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n')
    else:
        sep = "\t" if suffix == ".tsv" else ","
        text = f"a{sep}b\n1{sep}x\n2{sep}y\n"
        p.write_bytes(gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode())
    t = read_table(p)
    assert t.to_pydict() == {"a": [1, 2], "b": ["x", "y"]}
    assert read_table(p, columns=["b"]).column_names == ["b"]


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv' does not exist"):
        read_table(tmp_path / "nope.csv")


def test_unknown_column_did_you_mean(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("age,city\n1,x\n")
    with pytest.raises(DataError, match=r"Column 'agee' not found.*Did you mean 'age'"):
        read_table(p, columns=["agee"])


def test_empty_files(tmp_path):
    (tmp_path / "e.csv").write_text("")
    (tmp_path / "h.csv").write_text("a,b\n")
    with pytest.raises(DataError, match=r"e\.csv"):
        read_table(tmp_path / "e.csv")
    with pytest.raises(DataError, match="no data rows"):
        read_table(tmp_path / "h.csv")


def test_malformed_csv_names_line(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("a,b\n1,x\n2,y\n3,z,9\n")
    with pytest.raises(DataError) as e:
        read_table(p)
    msg = str(e.value)
    assert "bad.csv" in msg and "line 4" in msg and "\n" not in msg


def test_malformed_jsonl_names_row(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"a": 1}\n{"a": 2\n')
    with pytest.raises(DataError, match=r"bad\.jsonl' at row 2"):
        read_table(p)


def test_unknown_extension(tmp_path):
    p = tmp_path / "t.xlsx"
    p.write_text("x")
    with pytest.raises(DataError, match="unknown file type"):
        read_table(p)


def test_as_table_accepts_pandas_and_dicts():
    import pandas as pd

    assert as_table(pd.DataFrame({"a": [1, 2]})).num_rows == 2
    assert as_table({"a": [1, 2, 3]}).num_rows == 3
    with pytest.raises(DataError, match="Cannot use an object of type int"):
        as_table(3)
