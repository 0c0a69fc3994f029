"""`deepfuse prepare`: counts on stdout, exit 2 with one line above the bad-row threshold."""

from __future__ import annotations

import json

import pyarrow.dataset as ds


def test_prepare_prints_counts(run_cli, tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(99)) + "1\n")
    code, out, err = run_cli(
        "prepare", src, "--out", tmp_path / "o", "--max-bad-fraction", "0.05", "--no-progress"
    )
    assert code == 0, err
    assert "rows read: 100" in out and "rows quarantined: 1" in out
    assert "wrong_column_count: 1" in out
    assert ds.dataset(tmp_path / "o").count_rows() == 99
    report = json.loads((tmp_path / "o" / "_report.json").read_text())
    assert report["rows_written"] + report["rows_quarantined"] == report["rows_read"]


def test_prepare_threshold_exit_2_one_line(run_cli, tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a,b\n1,2\n3\n")
    code, _out, err = run_cli("prepare", src, "--out", tmp_path / "o", "--no-progress")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("deepfuse: error: 1 of 2 rows")
    assert not (tmp_path / "o").exists()


def test_prepare_schema_flag(run_cli, tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a\n1\nx\n")
    code, out, err = run_cli(
        "prepare", src, "--out", tmp_path / "o", "--schema", "a=int64", "--max-bad-fraction", "0.5"
    )
    assert code == 0, err
    assert "invalid_number: 1" in out
    code, _, err = run_cli("prepare", src, "--out", tmp_path / "p", "--schema", "a")
    assert code == 2 and "--schema" in err and err.count("\n") == 1


def test_prepare_missing_source(run_cli, tmp_path):
    code, _, err = run_cli("prepare", tmp_path / "nope.csv", "--out", tmp_path / "o")
    assert code == 2 and "does not exist" in err and err.count("\n") == 1


def _two_csv_files(folder):
    folder.mkdir()
    (folder / "a.csv").write_text("x,y\n" + "".join(f"{i},{i}\n" for i in range(100)))
    (folder / "b.csv").write_text("x,y\n" + "".join(f"{i},{i}\n" for i in range(100, 150)) + "9\n")


def test_prepare_quoted_glob_many_files_quarantine_names_file(run_cli, tmp_path):
    _two_csv_files(tmp_path / "data")
    pattern = str(tmp_path / "data" / "*.csv")  # as quoted in the shell: deepfuse expands it
    code, out, err = run_cli(
        "prepare", pattern, "--out", tmp_path / "o", "--max-bad-fraction", "0.05", "--no-progress"
    )
    assert code == 0, err
    assert "rows read: 151" in out and "rows quarantined: 1" in out
    assert ds.dataset(tmp_path / "o").to_table().column("x").to_pylist() == list(range(150))
    bad = [json.loads(x) for x in (tmp_path / "o" / "_quarantine.jsonl").read_text().splitlines()]
    assert [(b["file"], b["line"], b["reason"]) for b in bad] == [
        (str(tmp_path / "data" / "b.csv"), 52, "wrong_column_count")
    ]


def test_prepare_many_paths_and_folder(run_cli, tmp_path):
    _two_csv_files(tmp_path / "data")
    files = [tmp_path / "data" / "a.csv", tmp_path / "data" / "b.csv"]  # an unquoted glob
    code, out, err = run_cli(
        "prepare", *files, "--out", tmp_path / "o", "--max-bad-fraction", "0.05", "--no-progress"
    )
    assert code == 0, err
    assert "rows written: 150" in out
    code, out, err = run_cli(
        "prepare", tmp_path / "data", "--out", tmp_path / "p", "--max-bad-fraction", "0.05",
        "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert "rows written: 150" in out
    bad = json.loads((tmp_path / "p" / "_quarantine.jsonl").read_text())
    assert bad["file"] == "b.csv" and bad["line"] == 52  # relative to the folder


def test_prepare_glob_matching_nothing(run_cli, tmp_path):
    code, _, err = run_cli("prepare", str(tmp_path / "*.csv"), "--out", tmp_path / "o")
    assert code == 2 and "No file matches" in err and err.count("\n") == 1
