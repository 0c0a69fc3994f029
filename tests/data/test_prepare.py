"""deepfuse.data.prepare: CSV / JSON lines / image folders -> Parquet shards + quarantine."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from deepfuse._utils.errors import DataError
from deepfuse.data.prepare import _sink, prepare


def _quarantine(out):
    return [json.loads(x) for x in (out / "_quarantine.jsonl").read_text().splitlines()]


def _check_counts(report, out):
    assert report.rows_written + report.rows_quarantined == report.rows_read
    saved = json.loads((out / "_report.json").read_text())
    assert saved["rows_read"] == report.rows_read
    assert saved["rows_written"] == ds.dataset(out, format="parquet").count_rows()
    assert saved["rows_quarantined"] == len(_quarantine(out))
    assert sum(saved["quarantined_by_reason"].values()) == saved["rows_quarantined"]


def _bad_csv(path):
    """40 good rows (x = 0..39) with one of each bad kind after the first chunk."""
    lines = [b"x,y,name"] + [f"{i},{i * 0.5},n{i}".encode() for i in range(40)]
    lines.insert(25, b"7,1.0")  # line 26: wrong column count
    lines.insert(30, b"oops,2.0,a")  # line 31: unparsable number in an int column
    # line 34: invalid UTF-8 (latin-1 byte) in a UTF-8 file ("\xc3\xa9": else read as cp1252)
    lines.insert(33, b"9,3.0,caf\xe9 \xc3\xa9")
    lines.insert(36, b"")  # blank line: not a row
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_csv_bad_rows_quarantined_with_line_and_reason(tmp_path, gz):
    src = _bad_csv(tmp_path / "t.csv")
    if gz:
        src = tmp_path / "t.csv.gz"
        src.write_bytes(gzip.compress((tmp_path / "t.csv").read_bytes()))
    out = tmp_path / "out"
    # a tiny block: the columns are typed from the first (clean) chunk, the bad rows come later
    report = prepare(src, out, max_bad_fraction=0.1, progress=False, block_size=64)
    bad = {(r["line"], r["reason"]) for r in _quarantine(out)}
    assert bad == {(26, "wrong_column_count"), (31, "invalid_number"), (34, "invalid_utf8")}
    by_line = {r["line"]: r for r in _quarantine(out)}
    assert by_line[31]["raw"] == "oops,2.0,a" and "'x'" in by_line[31]["detail"]
    assert by_line[34]["raw"] == "9,3.0,caf\\xe9 \u00e9"
    assert report.rows_read == 43 and report.rows_written == 40
    assert report.schema == {"x": "int64", "y": "double", "name": "string"}
    _check_counts(report, out)
    table = ds.dataset(out, format="parquet").to_table()
    assert table.column("x").to_pylist() == list(range(40))  # exactly the good rows, in order


def test_csv_user_schema_and_missing_values(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a,b\n1,x\n,y\nNA,z\n2.5,w\n")
    report = prepare(src, tmp_path / "o", schema={"a": "int64"}, max_bad_fraction=1, progress=False)
    assert [r["line"] for r in _quarantine(tmp_path / "o")] == [5]  # 2.5 is not an int64
    table = ds.dataset(tmp_path / "o").to_table()
    assert table.column("a").to_pylist() == [1, None, None]
    _check_counts(report, tmp_path / "o")


def test_shards_and_row_groups(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("v\n" + "".join(f"{i}\n" for i in range(2500)))
    out = tmp_path / "o"
    report = prepare(src, out, rows_per_shard=1000, row_group_size=250, progress=False)
    assert report.shards == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    sizes = [pq.ParquetFile(out / s).metadata for s in report.shards]
    assert [m.num_rows for m in sizes] == [1000, 1000, 500]
    assert {m.row_group(i).num_rows for m in sizes for i in range(m.num_row_groups)} == {250}
    assert ds.dataset(out).to_table().column("v").to_pylist() == list(range(2500))


def test_jsonl_bad_rows(tmp_path):
    src = tmp_path / "t.jsonl"
    rows = [json.dumps({"a": i, "b": f"s{i}"}).encode() for i in range(10)]
    rows[3] = b'{"a": 3, "b": '  # line 4: broken JSON
    rows[5] = b'{"a": "five", "b": "s5"}'  # line 6: wrong type
    rows[7] = b'{"a": 7, "b": "s\xff"}'  # line 8: invalid UTF-8
    src.write_bytes(b"\n".join(rows) + b"\n")
    report = prepare(src, tmp_path / "o", max_bad_fraction=0.5, progress=False)
    bad = [(r["line"], r["reason"]) for r in _quarantine(tmp_path / "o")]
    assert sorted(bad) == [(4, "invalid_json"), (6, "invalid_value"), (8, "invalid_utf8")]
    assert ds.dataset(tmp_path / "o").to_table().column("a").to_pylist() == [0, 1, 2, 4, 6, 8, 9]
    _check_counts(report, tmp_path / "o")


def test_threshold_fails_and_publishes_nothing(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a,b\n1,2\n3\n4,5\n6\n")
    out = tmp_path / "o"
    with pytest.raises(DataError, match=r"2 of 4 rows .*max_bad_fraction=0.01") as info:
        prepare(src, out, progress=False)
    assert "\n" not in str(info.value)
    assert not out.exists()
    assert len(_quarantine(tmp_path / "o.rejected")) == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _png(color):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 3), color).save(buf, format="PNG")
    return buf.getvalue()


def test_image_folder(tmp_path):
    root = tmp_path / "imgs"
    for label, color in (("cat", "red"), ("dog", "blue")):
        (root / label).mkdir(parents=True)
        for i in range(2):
            (root / label / f"{i}.png").write_bytes(_png(color))
    (root / "dog" / "2.png").write_bytes(_png("blue")[:30])  # truncated: corrupt
    (root / "dog" / "notes.txt").write_text("not an image")
    out = tmp_path / "o"
    report = prepare(root, out, max_bad_fraction=0.5, progress=False)
    table = ds.dataset(out).to_table()
    assert table.column("label").to_pylist() == ["cat", "cat", "dog", "dog"]
    assert table.column("path").to_pylist()[0] == "cat/0.png"
    assert table.column("image")[0].as_py() == _png("red")
    assert table.column("width").to_pylist() == [4] * 4
    [bad] = _quarantine(out)
    assert (bad["file"], bad["reason"], bad["line"]) == ("dog/2.png", "corrupt_image", None)
    _check_counts(report, out)


def test_failure_midway_leaves_no_output(tmp_path, monkeypatch):
    src = tmp_path / "t.csv"
    src.write_text("v\n" + "".join(f"{i}\n" for i in range(100)))
    out = tmp_path / "o"
    close = _sink.ShardWriter._close_shard
    calls = []

    def crash_on_second_shard(self):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        close(self)

    monkeypatch.setattr(_sink.ShardWriter, "_close_shard", crash_on_second_shard)
    with pytest.raises(OSError, match="disk full"):
        prepare(src, out, rows_per_shard=30, progress=False, block_size=16)
    assert list(tmp_path.iterdir()) == [src]  # no output, no staging folder left behind


def test_second_file_with_other_columns_fails_atomically(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text("x,y\n1,2\n")
    (folder / "b.csv").write_text("x,z\n1,2\n")
    with pytest.raises(DataError, match="differ"):
        prepare(folder, tmp_path / "o", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_existing_output_needs_overwrite(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a\n1\n")
    prepare(src, tmp_path / "o", progress=False)
    with pytest.raises(DataError, match="already exists"):
        prepare(src, tmp_path / "o", progress=False)
    src.write_text("a\n1\n2\n")
    assert prepare(src, tmp_path / "o", overwrite=True, progress=False).rows_written == 2
    assert ds.dataset(tmp_path / "o").count_rows() == 2


def test_progress_plain_lines_when_not_a_tty(tmp_path, capsys):
    src = tmp_path / "t.csv"
    src.write_text("a\n1\n")
    prepare(src, tmp_path / "o", progress=None)
    assert "prepare t.csv:" in capsys.readouterr().err
    assert isinstance(ds.dataset(tmp_path / "o").schema, pa.Schema)


@pytest.mark.parametrize("block_size", [16, 1 << 20])
def test_csv_quoted_newlines_are_one_record_numbered_by_first_line(tmp_path, block_size):
    src = tmp_path / "q.csv"
    src.write_bytes(
        b"id,note\n"  # line 1
        b'1,"first\nsecond"\n'  # lines 2-3: one record
        b'2,"say ""hi""\r\nthere, ok"\n'  # lines 4-5: escaped quotes, CRLF kept inside
        b"3,plain\n"  # line 6
        b'4,"a","b"\n'  # line 7: 3 fields -> wrong column count
        b"5,5'3\" tall\n"  # line 8: a quote inside an unquoted field is a character
        b'6,"x\ny\nz",extra\n'  # lines 9-11: one record, 3 fields -> wrong column count
        b'7,"never closed\n'  # line 12: the quote is still open at the end of the file
    )
    out = tmp_path / "out"
    report = prepare(src, out, max_bad_fraction=0.5, progress=False, block_size=block_size)
    table = ds.dataset(out, format="parquet").to_table()
    assert table.column("id").to_pylist() == [1, 2, 3, 5]
    assert table.column("note").to_pylist() == [
        "first\nsecond",
        'say "hi"\r\nthere, ok',
        "plain",
        "5'3\" tall",
    ]
    bad = [(r["line"], r["reason"]) for r in _quarantine(out)]
    assert sorted(bad) == [
        (7, "wrong_column_count"),
        (9, "wrong_column_count"),
        (12, "unterminated_quote"),
    ]
    assert report.rows_read == 7 and report.rows_written == 4
    _check_counts(report, out)


def test_glob_and_list_of_files_one_schema_quarantine_names_the_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("x,y\n" + "".join(f"{i},{i}\n" for i in range(150)) + "oops,1\n")
    (data / "b.csv").write_text("x,y\n" + "".join(f"{i},{i}\n" for i in range(150, 190)) + "7\n")
    (data / "notes.txt").write_text("not data\n")
    out = tmp_path / "out"
    report = prepare(str(data / "*.csv"), out, max_bad_fraction=0.1, progress=False)
    assert report.format == "csv" and report.schema == {"x": "int64", "y": "int64"}
    table = ds.dataset(out, format="parquet").to_table()
    assert table.column("x").to_pylist() == list(range(190))  # files in sorted order
    bad = {(r["file"], r["line"], r["reason"]) for r in _quarantine(out)}
    assert bad == {
        (str(data / "a.csv"), 152, "invalid_number"),
        (str(data / "b.csv"), 42, "wrong_column_count"),
    }
    _check_counts(report, out)
    # a list of inputs (what an unquoted shell glob gives) reads the same rows
    listed = prepare(
        [data / "b.csv", data / "a.csv"], tmp_path / "o2", max_bad_fraction=0.1, progress=False
    )
    assert listed.rows_written == 190 and listed.rows_quarantined == 2
    with pytest.raises(DataError, match="No file matches"):
        prepare(str(data / "*.jsonl"), tmp_path / "o3", progress=False)
    with pytest.raises(DataError, match="not csv files"):
        prepare(str(data / "*"), tmp_path / "o4", progress=False)
