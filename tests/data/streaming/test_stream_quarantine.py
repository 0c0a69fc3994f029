"""Bad CSV / JSON-lines rows met while streaming: skipped, recorded, never crashing, never lost."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import deepfuse as df
from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.data.streaming import Source, scan_csv, scan_jsonl

ROWS = 200  # good rows per file; ids are unique over all files


def _csv_files(root):
    """3 CSV files (ids 0..599); files 0 and 2 hold one of each bad kind. Returns the bad rows."""
    root.mkdir()
    bad: set[tuple[str, int, str]] = set()
    for f in range(3):
        lines = [b"id,x,name,y"]
        lines += [f"{i},{i * 0.5},n{i},{i % 2}".encode() for i in range(f * ROWS, (f + 1) * ROWS)]
        name = f"part-{f}.csv"
        if f == 0:
            lines.insert(11, b"7,1.0,short")  # line 12: wrong column count (too few)
            lines.insert(51, b"8,2.0,a,1,extra")  # line 52: wrong column count (too many)
            lines.insert(101, b"9,oops,b,0")  # line 102: unparsable number in a float column
            lines.insert(151, b"ten,3.0,c,1")  # line 152: unparsable number in an int column
            bad |= {(name, 12, "wrong_column_count"), (name, 52, "wrong_column_count")}
            bad |= {(name, 102, "invalid_number"), (name, 152, "invalid_number")}
        if f == 2:
            # line 22: invalid UTF-8 ("\xc3\xa9" is UTF-8: the file is UTF-8 with a bad byte)
            lines.insert(21, b"11,4.0,caf\xe9 \xc3\xa9,1")
            lines.insert(41, b"")  # a blank line is not a row
            # a quoted newline is a good row (id 9999), over two physical lines
            lines.insert(61, b'9999,1.5,"two\nlines",0')
            lines.insert(81, b"12,5.0,d")  # line 83 (the quoted row took two lines)
            bad |= {(name, 22, "invalid_utf8"), (name, 83, "wrong_column_count")}
        (root / name).write_bytes(b"\n".join(lines) + b"\n")
    good = [*range(3 * ROWS), 9999]
    return sorted(good), bad


def _jsonl_files(root):
    root.mkdir()
    bad: set[tuple[str, int, str]] = set()
    for f in range(2):
        rows = [
            json.dumps({"id": i, "x": i * 0.5, "y": i % 2}).encode()
            for i in range(f * ROWS, (f + 1) * ROWS)
        ]
        name = f"part-{f}.jsonl"
        if f == 1:
            rows.insert(30, b'{"id": 1, "x": 2.0')  # line 31: broken JSON
            rows.insert(60, b'{"id": 2, "x": "abc", "y": 0}')  # line 61: wrong type
            rows.insert(90, b"[1, 2, 3]")  # line 91: not an object
            rows.insert(120, b'{"id": 3, "x": 1.0, "y": 0, "s": "caf\xe9"}')  # 121: bad UTF-8
            bad |= {(name, 31, "invalid_json"), (name, 61, "invalid_value")}
            bad |= {(name, 91, "invalid_json"), (name, 121, "invalid_utf8")}
        (root / name).write_bytes(b"\n".join(rows) + b"\n")
    return list(range(2 * ROWS)), bad


def _ids(batches) -> list[int]:
    return [int(v) for b in batches for v in np.asarray(b["id"]).tolist()]


def _bad_set(ds):
    return {(r["file"].rsplit("/", 1)[-1], r["line"], r["reason"]) for r in ds.quarantined}


def _quiet(ds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _ids(ds)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("world,even", [(1, True), (2, False), (2, True)])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_every_good_row_exactly_once_bad_rows_quarantined(tmp_path, fmt, shuffle, world, even):
    make, scan = (_csv_files, scan_csv) if fmt == "csv" else (_jsonl_files, scan_jsonl)
    good, bad = make(tmp_path / "data")
    seen: list[int] = []
    quarantined: set[tuple[str, int, str]] = set()
    for rank in range(world):
        ds = scan(tmp_path / "data", columns=["id", "x"], read_batch_size=32)
        if shuffle:
            ds = ds.shuffle(64, seed=3)
        ds = ds.shard(rank, world, even=even).batch(16)
        seen += _quiet(ds)
        quarantined |= _bad_set(ds)
    assert quarantined == bad  # the exact bad lines, 1-based, with their reasons
    if even and world > 1:  # equal shares: truncation of at most world - 1 rows, no repeats
        assert len(seen) == len(set(seen)) == len(good) // world * world
        assert set(seen) <= set(good)
    else:
        assert sorted(seen) == good  # every good row exactly once, none of the bad ones
    if shuffle:
        assert seen != sorted(seen)


def test_counts_good_plus_bad_is_every_row(tmp_path):
    good, bad = _csv_files(tmp_path / "data")
    rows = sum(
        len([ln for ln in p.read_bytes().split(b"\n")[1:] if ln.strip()])
        for p in (tmp_path / "data").iterdir()
    )
    ds = scan_csv(tmp_path / "data", columns=["id"])
    seen = _quiet(ds.batch(64))
    # the quoted-newline row spans two physical lines but is one row
    assert len(seen) + len(ds.quarantined) == rows - 1 == len(good) + len(bad)


def test_values_and_types_of_good_rows(tmp_path):
    _csv_files(tmp_path / "data")
    ds = scan_csv(tmp_path / "data" / "part-2.csv")
    assert [str(t) for t in ds.schema.types] == ["int64", "double", "string", "int64"]
    with warnings.catch_warnings(record=True):
        table = ds.collect()
    by_id = {r["id"]: r for r in table.to_pylist()}
    assert by_id[9999] == {"id": 9999, "x": 1.5, "name": "two\nlines", "y": 0}
    assert by_id[401] == {"id": 401, "x": 200.5, "name": "n401", "y": 1}
    assert table.num_rows == ROWS + 1


def test_dedup_across_epochs_file_and_one_warning_per_epoch(tmp_path):
    _, bad = _csv_files(tmp_path / "data")
    qfile = tmp_path / "bad.jsonl"
    ds = scan_csv(tmp_path / "data", columns=["id"], quarantine=qfile).shuffle(50, seed=0)
    ds = ds.batch(32)
    for epoch in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _ids(ds)
        messages = [str(w.message) for w in caught if "malformed" in str(w.message)]
        assert len(messages) == 1, messages
        assert f"{len(bad)} malformed row(s) skipped in epoch {epoch}" in messages[0]
        assert str(qfile) in messages[0]
        assert len(ds.quarantined) == len(bad)  # met again in epoch 1: not a new record
    on_disk = [json.loads(line) for line in qfile.read_text().splitlines()]
    assert on_disk == ds.quarantined
    assert {"file", "line", "reason", "detail", "raw"} == set(on_disk[0])
    by_line = {(r["file"].rsplit("/", 1)[-1], r["line"]): r for r in on_disk}
    assert by_line[("part-0.csv", 102)]["raw"] == "9,oops,b,0"
    assert by_line[("part-2.csv", 22)]["raw"] == "11,4.0,caf\\xe9 \u00e9,1"


def test_clean_files_no_quarantine_no_warning(tmp_path):
    root = tmp_path / "clean"
    root.mkdir()
    (root / "a.csv").write_text("id,x\n" + "".join(f"{i},{i / 4}\n" for i in range(100)))
    ds = scan_csv(root).batch(30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _ids(ds) == list(range(100))
    assert ds.quarantined == [] and ds._source._careful == set()  # pyarrow's fast reader only


def test_error_mode_names_file_line_and_fix(tmp_path):
    _csv_files(tmp_path / "data")
    ds = scan_csv(tmp_path / "data" / "part-0.csv", on_bad_rows="error").batch(16)
    with pytest.raises(DataError, match=r"part-0.csv' line 12: wrong_column_count") as err:
        _ids(ds)
    assert "on_bad_rows='quarantine'" in str(err.value) and "deepfuse prepare" in str(err.value)
    with pytest.raises(ConfigError, match="on_bad_rows"):
        scan_csv(tmp_path / "data", on_bad_rows="drop")


def test_bad_row_after_clean_blocks_falls_back_mid_file_and_resumes_exactly(tmp_path):
    # ~2 MB: pyarrow may yield clean blocks before it meets the bad row near the end
    n = 60_000
    ids = np.arange(n)
    path = tmp_path / "big.csv"
    pacsv.write_csv(
        pa.table({"id": ids, "x": ids * 0.25, "pad": ["p" * 20] * n}),
        path,
    )
    with open(path, "ab") as fh:
        fh.write(b"1,2\n")  # wrong column count, line n + 2
        fh.write(b"".join(f"{i},0.5,q\n".encode() for i in range(n, n + 10)))

    def build():
        ds = scan_csv(path, columns=["id", "x"], read_batch_size=4096)
        return ds.shuffle(5000, seed=1).batch(1000)

    full = build()
    expected = _quiet(full)
    assert full._source._careful == {0}
    assert sorted(expected) == list(range(n + 10))
    assert _bad_set(full) == {("big.csv", n + 2, "wrong_column_count")}

    first = build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = iter(first)
        head = _ids(next(it) for _ in range(17))
        state = first.state_dict()
        it.close()
        fresh = build()
        fresh.load_state_dict(state)
        assert head + _ids(fresh) == expected


def test_fast_reader_failing_mid_file_hands_over_without_repeat_or_gap(tmp_path, monkeypatch):
    # pyarrow may hand out clean blocks of a file before failing on a later one (how many
    # depends on read-ahead timing); here it fails after 3 batches, every time
    path = tmp_path / "a.csv"
    path.write_text("id,x\n" + "".join(f"{i},{i / 8}\n" for i in range(1000)))
    real = Source._fast_batches

    def shuffled() -> list[int]:
        return _ids(
            scan_csv(path, columns=["id"], read_batch_size=64).shuffle(100, seed=0).batch(50)
        )

    fast_order = shuffled()  # pyarrow's reader only

    def flaky(self, unit, batch_size):
        for k, rb in enumerate(real(self, unit, batch_size)):
            if k == 3:
                raise pa.ArrowInvalid("CSV parse error (simulated)")
            yield rb

    monkeypatch.setattr(Source, "_fast_batches", flaky)
    ds = scan_csv(path, read_batch_size=64)
    table = ds.collect()
    assert table.column("id").to_pylist() == list(range(1000))
    assert table.column("x").to_pylist() == [i / 8 for i in range(1000)]
    assert ds._source._careful == {0} and ds.quarantined == []
    assert ds._source.count(0) == 1000
    # read chunks (hence shuffle windows) do not depend on which reader gave the rows
    assert shuffled() == fast_order and sorted(fast_order) == list(range(1000))
    pieces = [rb.column(0) for rb in ds._source.read(0, 190, 600, 50)]
    assert pa.chunked_array(pieces).to_pylist() == list(range(190, 600))


def test_fit_on_a_malformed_streamed_csv(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    lines = ["a,b,c,d,y"] + [",".join(f"{v:.4f}" for v in r) + f",{t}" for r, t in zip(x, y)]
    lines[100] = "1.0,2.0"  # wrong column count
    lines[200] = "1.0,nope,3.0,4.0,1"  # unparsable number
    path = tmp_path / "train.csv"
    path.write_text("\n".join(lines) + "\n")
    ds = scan_csv(path).shuffle(200, seed=0).batch(32, target="y")
    model = df.Sequential([df.layers.Dense(8, activation="relu"), df.layers.Dense(2)])
    model.compile(optimizer={"name": "adam", "lr": 0.01}, loss="cross_entropy")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        hist = model.fit(ds, epochs=2, verbose=0, seed=0)
    assert len(hist.history["loss"]) == 2 and np.isfinite(hist.history["loss"]).all()
    assert [(r["line"], r["reason"]) for r in ds.quarantined] == [
        (101, "wrong_column_count"),
        (201, "invalid_number"),
    ]
