"""The one quarantine (deepfuse.data.quarantine): format, dedupe, processes, crashes, memory."""

from __future__ import annotations

import gc
import json
import multiprocessing as mp
import pickle
import warnings

import pytest

from deepfuse.data.prepare import prepare
from deepfuse.data.quarantine import QUARANTINE_NAME, Quarantine
from deepfuse.data.streaming import scan_csv

FIELDS = ["file", "line", "reason", "detail", "raw"]


def _lines(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_record_format_is_one_json_line_with_the_five_fields(tmp_path):
    q = Quarantine(tmp_path / "q.jsonl")
    q.add("a.csv", 3, "invalid_number", "column 'x': 'é'", "é,1")
    q.add("b.png", None, "corrupt_image", "truncated")
    text = (tmp_path / "q.jsonl").read_text(encoding="utf-8")
    assert text == (
        '{"file": "a.csv", "line": 3, "reason": "invalid_number", "detail": "column \'x\': \'é\'", '
        '"raw": "é,1"}\n'
        '{"file": "b.png", "line": null, "reason": "corrupt_image", "detail": "truncated", '
        '"raw": null}\n'
    )
    assert [list(r) for r in q.records] == [FIELDS, FIELDS] and q.records == _lines(q.path)


def test_dedupe_by_file_and_line_and_counts(tmp_path):
    q = Quarantine(tmp_path / "q.jsonl")
    for _ in range(3):  # three epochs meet the same bad rows
        q.add("a.csv", 3, "invalid_number", "d", "r")
        q.add("a.csv", 4, "wrong_column_count", "d", "r")
    assert len(q) == 2 and len(_lines(q.path)) == 2
    assert q.by_reason() == {"invalid_number": 1, "wrong_column_count": 1}
    again = Quarantine(tmp_path / "q.jsonl")  # a resumed run: what is on disk counts as known
    again.add("a.csv", 3, "invalid_number", "d", "r")
    again.add("a.csv", 9, "invalid_number", "d", "r")
    assert len(again) == 3 and [r["line"] for r in again.records] == [3, 4, 9]


def test_without_dedupe_every_record_is_kept_and_no_keys_are_held(tmp_path):
    q = Quarantine(tmp_path / "q.jsonl", dedupe=False)
    for _ in range(2):
        q.add("a.csv", 3, "invalid_number", "d", "r")
    assert len(q) == 2 and len(q.records) == 2 and q._keys == set()  # bounded memory


def test_no_record_no_file(tmp_path):
    q = Quarantine(tmp_path / "sub" / "q.jsonl")
    q.flush()
    assert q.records == [] and len(q) == 0 and not (tmp_path / "sub").exists()


def test_a_line_cut_by_a_crash_is_skipped_and_the_next_record_starts_fresh(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"file": "a.csv", "line": 1, "reason": "x", "detail": "", "raw": null}\n{"fi')
    q = Quarantine(path)
    q.add("a.csv", 2, "invalid_number", "d", "r")
    assert [r["line"] for r in q.records] == [1, 2] and len(q) == 2
    assert path.read_text().splitlines()[1] == '{"fi'  # the remnant stays on its own line


def _add_many(path: str, start: int) -> None:
    q = Quarantine(path)
    for i in range(start, start + 200):  # overlapping ranges across processes
        q.add("f.csv", i % 300, "invalid_number", "d", "r")


def test_many_processes_write_each_key_once_and_whole_lines(tmp_path):
    path = str(tmp_path / "q.jsonl")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_add_many, args=(path, s)) for s in (0, 50, 100, 150)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    records = _lines(tmp_path / "q.jsonl")  # every line parses: no interleaved writes
    assert sorted(r["line"] for r in records) == list(range(300))  # 0..299 once each
    assert len(Quarantine(path)) == 300


def test_a_pickled_copy_appends_to_the_same_file(tmp_path):
    q = Quarantine(tmp_path / "q.jsonl")
    q.add("a", 1, "r", "d")
    copy = pickle.loads(pickle.dumps(q))
    copy.add("a", 1, "r", "d")  # known from the file
    copy.add("a", 2, "r", "d")
    assert [r["line"] for r in q.records] == [1, 2] and len(q) == 2


def test_the_private_temp_file_goes_with_the_quarantine():
    q = Quarantine()
    q.add("a", 1, "r", "d")
    path = q.path
    assert path.exists()
    del q
    gc.collect()
    assert not path.exists()


def test_end_epoch_warns_once_per_epoch_with_what_was_met(tmp_path):
    q = Quarantine(tmp_path / "q.jsonl")
    q.add("a.csv", 7, "invalid_number", "d", "r")
    with pytest.warns(UserWarning, match=r"1 malformed row\(s\) skipped in epoch 0 .*q\.jsonl"):
        q.end_epoch(0, "scan_csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert q.end_epoch(1, "scan_csv") is None  # nothing met in epoch 1


def test_prepare_and_streaming_write_the_same_records(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("x,y\n1,a\noops,b\n3,c,extra\n4,d\n")
    prepare(src, tmp_path / "out", schema={"x": "int64"}, max_bad_fraction=1.0, progress=False)
    prepared = _lines(tmp_path / "out" / QUARANTINE_NAME)
    qfile = tmp_path / "stream.jsonl"
    ds = scan_csv(src, schema={"x": "int64"}, quarantine=qfile)
    with warnings.catch_warnings(record=True):
        ds.collect()
    key = lambda r: (r["line"], r["reason"], r["raw"])  # noqa: E731
    assert (
        sorted(map(key, prepared))
        == sorted(map(key, ds.quarantined))
        == [
            (3, "invalid_number", "oops,b"),
            (4, "wrong_column_count", "3,c,extra"),
        ]
    )
    assert sorted(map(key, _lines(qfile))) == sorted(map(key, ds.quarantined))
