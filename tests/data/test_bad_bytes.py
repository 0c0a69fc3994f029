"""Issue 11 findings 6, 8, 9: invalid UTF-8 is replaced and reported, never dropped; long lines,
duplicate names and oversized images are refused with the file, column/line and limit."""

from __future__ import annotations

import gzip
import json
import warnings

import pyarrow as pa
import pytest
from PIL import Image

from deepfuse._utils.errors import DataError
from deepfuse.data import infer_schema, read_table
from deepfuse.data.bad_bytes import MAX_LINE_BYTES, invalid_utf8_of
from deepfuse.data.images import MAX_IMAGE_BYTES, ImageEncoder, check_image_size
from deepfuse.data.prepare import prepare


def _csv(tmp_path, data: bytes, name="t.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_invalid_utf8_cell_is_replaced_and_reported_not_a_binary_column(tmp_path):
    # "n\xc3\xaece" is UTF-8 ("nîce"): the file is detected as UTF-8 with two damaged bytes
    # (a file with no UTF-8 sequence at all is read as cp1252: tests/data/test_real_csv.py)
    path = _csv(tmp_path, b"city,y\nparis,a\nly\xffon,b\nn\xc3\xaece,a\nca\xe9n,b\n")
    table = read_table(path)
    assert table.schema.field("city").type == pa.string()  # was binary -> "ignored"
    assert table.column("city").to_pylist() == ["paris", "ly\ufffdon", "n\u00eece", "ca\ufffdn"]
    assert invalid_utf8_of(table) == {"city": {"rows": 2, "first_row": 2, "file": str(path)}}
    with pytest.warns(UserWarning, match=r"Column 'city' .* 2 row\(s\) \(first: row 2\)"):
        schema = infer_schema(table, "y")
    assert schema["city"].type == "categorical"


def test_jsonl_replacement_is_reported_too(tmp_path):
    path = _csv(tmp_path, b'{"t": "ok", "y": 1}\n{"t": "b\xffd", "y": 0}\n', "t.jsonl")
    table = read_table(path)
    assert table.column("t").to_pylist() == ["ok", "b\ufffdd"]
    assert invalid_utf8_of(table)["t"]["first_row"] == 2


def test_invalid_utf8_target_is_refused_with_file_column_and_row(tmp_path):
    path = _csv(tmp_path, b"x,y\n1,a\n2,\xc3\xa9\n3,\xff\n")  # UTF-8 ("\xc3\xa9") with a bad byte
    with pytest.raises(DataError, match=r"target column 'y' of '.*t.csv' .* \(first: row 3\)"):
        infer_schema(read_table(path), "y")


def test_invalid_utf8_header_names_column_and_row(tmp_path):
    # blank lines first: pyarrow skips them; "\xc3\xa9" makes the file UTF-8 (else cp1252)
    path = _csv(tmp_path, b"\n\nx,caf\xe9\n1,\xc3\xa9\n")
    with pytest.raises(DataError, match=r"header \(row 3\) .* column 2 \('caf\\xe9'\)"):
        read_table(path)


def test_invalid_utf8_json_key_is_one_error(tmp_path):
    with pytest.raises(DataError, match=r"column name .* not valid UTF-8"):
        read_table(_csv(tmp_path, b'{"\xff": 1}\n', "t.jsonl"))


def test_parquet_binary_columns_stay_bytes(tmp_path):
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"img": pa.array([b"\xff\xd8", b"\x00"]), "y": [0, 1]}), tmp_path / "t.pq"
    )
    assert read_table(tmp_path / "t.pq").schema.field("img").type == pa.binary()


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz"])
def test_duplicate_header_is_refused(tmp_path, name):
    data = b"a,b,a\n1,2,3\n"
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    with pytest.raises(DataError, match=r"'a' appears twice .* \(columns 1 and 3\)"):
        read_table(path)
    with pytest.raises(DataError, match="appears twice"):
        read_table(path, columns=["b"])


def test_long_header_says_line_and_limit_not_empty_file(tmp_path):
    path = _csv(tmp_path, b"a" * (MAX_LINE_BYTES + 5) + b"\n1\n")
    with pytest.raises(DataError, match=r"Line 1 of .* longer than 16,777,216 bytes"):
        read_table(path)


def test_line_over_one_mib_reads(tmp_path):
    """pyarrow's default 1 MiB block refused such a row ('straddling object')."""
    long = "x" * (3 << 20)
    table = read_table(_csv(tmp_path, f"a,b\n1,{long}\n2,y\n".encode()))
    assert table.column("b").to_pylist() == [long, "y"]


def test_prepare_quarantines_invalid_utf8_and_keeps_counts(tmp_path):
    rows = [b"a,b"] + [f"{i},v{i}".encode() for i in range(200)]
    rows[7] = b"6,v\xff"
    rows[3] = "2,v\u00e9".encode()  # UTF-8 elsewhere: a damaged UTF-8 file (not cp1252)
    src = _csv(tmp_path, b"\n".join(rows) + b"\n")
    report = prepare(src, tmp_path / "out", progress=False)
    assert (report.rows_read, report.rows_written, report.rows_quarantined) == (200, 199, 1)
    bad = json.loads((tmp_path / "out" / "_quarantine.jsonl").read_text())
    assert (bad["line"], bad["reason"]) == (8, "invalid_utf8")


def test_prepare_objects_without_fields_are_quarantined_not_lost(tmp_path):
    src = _csv(tmp_path, b"{}\n{}\n", "t.jsonl")
    with pytest.raises(DataError, match="2 of 2 rows"):
        prepare(src, tmp_path / "out", progress=False)
    bad = (tmp_path / "out.rejected" / "_quarantine.jsonl").read_text().splitlines()
    assert [json.loads(b)["detail"] for b in bad] == ["an object with no fields"] * 2


def test_prepare_long_line_is_one_error_naming_the_line(tmp_path):
    src = _csv(tmp_path, b"a\n1\n" + b"9" * (MAX_LINE_BYTES + 1) + b"\n")
    with pytest.raises(DataError, match=r"Line 3 of .* longer than 16,777,216 bytes"):
        prepare(src, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_image_size_checked_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.truncate(MAX_IMAGE_BYTES + 1)  # sparse: costs nothing on disk
    enc = ImageEncoder("img")
    with pytest.raises(DataError, match=r"'.*big.png' is 67,108,865 bytes, over the limit"):
        enc.fit([str(big)])


def test_decompression_bomb_refused_from_the_header(tmp_path, monkeypatch):
    Image.new("L", (40, 40)).save(tmp_path / "a.png")
    monkeypatch.setattr("deepfuse.data.images.MAX_IMAGE_PIXELS", 1000)  # 40 x 40 = 1600
    with pytest.raises(DataError, match="40 x 40 pixels, over the limit of 1,000 pixels"):
        ImageEncoder("img").fit(["a.png"], base_dir=tmp_path)
    monkeypatch.setattr("deepfuse.data.images.MAX_IMAGE_PIXELS", 1600)  # at the limit: fine
    with Image.open(tmp_path / "a.png") as img:
        check_image_size("a.png", img=img)


def test_streamed_images_quarantine_oversized_files(tmp_path):
    from deepfuse.data import scan_images

    for label in "ab":
        (tmp_path / label).mkdir()
        for i in range(2):
            Image.new("RGB", (4, 4)).save(tmp_path / label / f"{i}.png")
    with open(tmp_path / "a" / "huge.png", "wb") as fh:
        fh.truncate(1 << 30)  # sparse 1 GB: refused by its size, never read
    ds = scan_images(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = next(iter(ds.batch(10)))
    assert len(got["y"]) == 4
    assert [r["reason"] for r in ds.quarantined] == ["image_too_large"]
