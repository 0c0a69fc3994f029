"""Issue 13 item 1: the CSV files real people have, read by the same rules in memory
(``read_table``, the ``table_in_memory`` route), streaming (``scan_csv``, the streamed route) and
``deepfuse prepare``. Each case is compared with what pandas / Python wrote."""

from __future__ import annotations

import bz2
import codecs
import gzip
import json
import warnings

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.cli.main import main
from deepfuse.data import read_table
from deepfuse.data.bad_bytes import MAX_LINE_BYTES
from deepfuse.data.prepare import prepare
from deepfuse.data.routes import TableInMemory, TableStreamed
from deepfuse.data.streaming import scan_csv

TEXTS = [
    'Hi Bob,\nsee you "tomorrow";\nbest, Al',
    "plain",
    "caf\u00e9 | cr\u00e8me\tbr\u00fbl\u00e9e",
    "line one\n\nline three (a blank line inside)",
]


def _frame(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(n),
            "text": [TEXTS[i % len(TEXTS)] for i in range(n)],
            "y": [i % 2 for i in range(n)],
        }
    )


def _zstd(data: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(data)
    return sink.getvalue().to_pybytes()


def _write(path, data: bytes):
    name = str(path)
    data = gzip.compress(data) if name.endswith(".gz") else data
    data = bz2.compress(data) if name.endswith(".bz2") else data
    data = _zstd(data) if name.endswith(".zst") else data
    path.write_bytes(data)
    return path


def _three_ways(path, tmp_path, **dialect) -> list[dict]:
    """The table as read in memory, streamed, and written by prepare (as Python dicts)."""
    memory = read_table(path, **dialect).to_pydict()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no bad row may be quarantined
        streamed = scan_csv(path, **dialect).collect().to_pydict()
    out = tmp_path / f"prepared-{path.name}"
    report = prepare(path, out, progress=False, max_bad_fraction=0.0, overwrite=True, **dialect)
    assert report.rows_quarantined == 0
    prepared = ds.dataset(out, format="parquet").to_table().to_pydict()
    return [memory, streamed, prepared]


def _expected(frame: pd.DataFrame) -> dict:
    return {c: frame[c].tolist() for c in frame.columns}


# ----------------------------------------------------------------------------- 1. multi-line


def test_pandas_csv_with_quoted_newlines_reads_in_all_three_readers(tmp_path):
    """The bug: pyarrow's 'CSV parser got out of sync with chunker' stopped `deepfuse train`."""
    frame = _frame(400)
    path = tmp_path / "mails.csv"
    frame.to_csv(path, index=False)
    for got in _three_ways(path, tmp_path):
        assert got == _expected(frame)


def test_train_route_reads_quoted_newlines_in_memory_and_streamed(tmp_path):
    frame = _frame(60)
    path = tmp_path / "mails.csv"
    frame.to_csv(path, index=False)
    data = {"train": str(path), "target": "y", "validation_split": 0.1, "test_split": 0.2}
    p = TableInMemory().prepare(data, seed=0, batch_size=8)
    assert len(p.train["y"]) + len(p.val["y"]) + len(p.test["y"]) == 60
    streamed = TableStreamed().prepare({**data, "streaming": True}, seed=0, batch_size=8)
    assert sum(streamed.rows.values()) == 60


def test_malformed_row_after_a_multiline_field_names_its_physical_line(tmp_path):
    path = _write(tmp_path / "bad.csv", b'a,b\n\n1,"x\ny"\n3\n4,5\n')
    with pytest.raises(DataError, match=r"at line 5: .*Expected 2 columns, got 1"):
        read_table(path)
    with pytest.raises(DataError, match=r"line 5: wrong_column_count"):
        scan_csv(path, on_bad_rows="error").collect()
    prepare(path, tmp_path / "out", progress=False, max_bad_fraction=0.5)
    bad = json.loads((tmp_path / "out" / "_quarantine.jsonl").read_text())
    assert (bad["line"], bad["reason"]) == (5, "wrong_column_count")


def test_windows_line_endings_with_multiline_fields(tmp_path):
    frame = pd.DataFrame({"id": [1, 2], "text": ["a\r\nb", "c"]})
    path = tmp_path / "crlf.csv"
    frame.to_csv(path, index=False, lineterminator="\r\n")
    for got in _three_ways(path, tmp_path):
        assert got == _expected(frame)


def test_bare_carriage_return_inside_a_row_is_a_bad_row_not_a_crash(tmp_path):
    """Found by tests/data/test_hostile_tables_property.py: pyarrow ended the row at the "\r",
    so its row numbers no longer matched the chunk's lines (ArrowInvalid, an internal error)."""
    path = _write(tmp_path / "cr.csv", b"a\n,\r,\nok\n")
    report = prepare(path, tmp_path / "out", progress=False, max_bad_fraction=1.0)
    assert (report.rows_written, report.quarantined_by_reason) == (1, {"wrong_column_count": 1})


# ----------------------------------------------------------------------------- 2. BOM


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16-le", "utf-16-be"])
def test_bom_never_ends_up_in_the_first_column_name(tmp_path, codec):
    bom = {"utf-8-sig": b"", "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}
    text = 'id,text\n1,caf\u00e9\n0,"two\nlines"\n1,x\n'
    path = _write(tmp_path / "bom.csv", bom[codec] + text.encode(codec))
    for got in _three_ways(path, tmp_path):
        assert got == {"id": [1, 0, 1], "text": ["caf\u00e9", "two\nlines", "x"]}


def test_target_id_works_in_a_utf8_bom_file(tmp_path):
    rows = "".join(f"{i % 2},{i * 0.5}\n" for i in range(40))
    path = _write(tmp_path / "bom.csv", ("\ufeffid,x\n" + rows).encode())
    data = {"train": str(path), "target": "id", "test_split": 0.25}
    p = TableInMemory().prepare(data, seed=0, batch_size=8)
    assert p.task == "binary" and set(p.features) == {"x"}


# ----------------------------------------------------------------------------- 3. encodings


@pytest.mark.parametrize("codec", ["cp1252", "latin-1"])
def test_legacy_file_is_detected_and_read_as_such(tmp_path, codec):
    words = ["caf\u00e9", "na\u00efve", "\u00e0 la fa\u00e7on", "Stra\u00dfe"]
    if codec == "cp1252":
        words.append("5 \u20ac")  # the euro sign is 0x80 in cp1252 (not in latin-1)
    text = "w,y\n" + "".join(f"{w},{i % 2}\n" for i, w in enumerate(words))
    path = _write(tmp_path / "legacy.csv", text.encode(codec))
    for got in _three_ways(path, tmp_path):
        assert got["w"] == words  # é stays é (it was U+FFFD)


def test_named_encoding_is_used(tmp_path):
    # bytes valid in both: 0xe9 0x80 is not UTF-8; as cp1252 "é€", as latin-1 "é\x80"
    path = _write(tmp_path / "t.csv", b"w,y\ncaf\xe9\x80,1\n")
    for got in _three_ways(path, tmp_path, encoding="latin-1"):
        assert got["w"] == ["caf\u00e9\x80"]
    for got in _three_ways(path, tmp_path, encoding="cp1252"):
        assert got["w"] == ["caf\u00e9\u20ac"]


def test_unknown_encoding_is_a_config_error_listing_examples(tmp_path):
    path = _write(tmp_path / "t.csv", b"a,b\n1,2\n")
    for read in (read_table, scan_csv, lambda p, **kw: prepare(p, tmp_path / "o", **kw)):
        with pytest.raises(ConfigError, match=r"Unknown encoding 'klingon'.*cp1252, latin-1"):
            read(path, encoding="klingon")


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz"])
def test_named_encoding_that_cannot_decode_names_file_offset_bytes_and_fix(tmp_path, name):
    path = _write(tmp_path / name, "a,b\n1,x\n2,caf\u00e9\n".encode("cp1252"))
    want = r"Cannot decode '.*t\.csv.*' as utf-8: byte offset 13 holds b'\\xe9'.*data\.encoding="
    with pytest.raises(DataError, match=want):
        read_table(path, encoding="utf-8")
    with pytest.raises(DataError, match=want):
        scan_csv(path, encoding="utf-8").collect()
    with pytest.raises(DataError, match=want):
        prepare(path, tmp_path / "out", progress=False, encoding="utf-8")


def test_cp1252_undefined_byte_names_its_offset(tmp_path):
    path = _write(tmp_path / "t.csv", b"a,b\n1,x\x81\n")  # 0x81 has no cp1252 character
    with pytest.raises(DataError, match=r"as cp1252: byte offset 7 holds b'\\x81'"):
        read_table(path, encoding="cp1252")


# ----------------------------------------------------------------------------- 4. delimiters


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed_respecting_quotes(tmp_path, sep):
    frame = pd.DataFrame({"a": ["x,y;z|w\tv", "p"], "b": ["1;2", "q,r"], "c": ["s", "t|u"]})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False, sep=sep)
    for got in _three_ways(path, tmp_path):
        assert got == _expected(frame)


def test_tsv_keeps_tab_and_delimiter_can_be_forced(tmp_path):
    path = _write(tmp_path / "t.tsv", b"a\tb\n1;2\t3,4\n")
    for got in _three_ways(path, tmp_path):
        assert got == {"a": ["1;2"], "b": ["3,4"]}
    path = _write(tmp_path / "odd.csv", b"a;b,c\n1;2,3\n")  # ',' and ';' both split it
    for got in _three_ways(path, tmp_path, delimiter=";"):
        assert got == {"a": [1], "b,c": ["2,3"]}
    for got in _three_ways(path, tmp_path):  # auto: the one that splits the most
        assert list(got) == ["a;b", "c"]


def test_a_file_with_one_column_stays_one_column(tmp_path):
    frame = pd.DataFrame({"text": ["hello, world; yes | no", "a\tb", "plain"]})
    path = tmp_path / "one.csv"
    frame.to_csv(path, index=False)
    for got in _three_ways(path, tmp_path):
        assert got == _expected(frame)


# ----------------------------------------------------------------------------- 5. compression


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zst"])
def test_compressed_bom_encoding_multiline_and_semicolon_together(tmp_path, suffix):
    text = 'id;text\n1;"a;b\nc\u00e9"\n2;\u20ac\n'
    path = _write(tmp_path / f"t.csv{suffix}", text.encode("utf-16"))  # BOM + UTF-16
    for got in _three_ways(path, tmp_path):
        assert got == {"id": [1, 2], "text": ["a;b\nc\u00e9", "\u20ac"]}
    path = _write(tmp_path / f"w.csv{suffix}", text.encode("cp1252"))  # no BOM, cp1252
    for got in _three_ways(path, tmp_path):
        assert got == {"id": [1, 2], "text": ["a;b\nc\u00e9", "\u20ac"]}


def test_xz_is_refused_by_name_pyarrow_has_no_lzma_codec(tmp_path):
    path = _write(tmp_path / "t.csv.xz", b"")
    with pytest.raises(DataError, match=r"unknown file type. Expected one of .*\.csv\.zst"):
        read_table(path)


# ----------------------------------------------------------------------------- 6. long cells


def test_a_5_mb_text_cell_reads_in_all_three_readers(tmp_path):
    long = ("lorem ipsum, " * 400_000)[: 5 << 20]
    frame = pd.DataFrame({"id": [1, 2, 3], "text": ["short", long + "\nend", "x"]})
    path = tmp_path / "long.csv"
    frame.to_csv(path, index=False)
    for got in _three_ways(path, tmp_path):
        assert got == _expected(frame)


def test_a_line_over_the_limit_is_the_clear_error_not_straddling(tmp_path):
    path = _write(tmp_path / "huge.csv", b"a,b\n1,2\n3," + b"x" * (3 * MAX_LINE_BYTES) + b"\n")
    want = r"Line 3 of .* longer than 16,777,216 bytes"
    with pytest.raises(DataError, match=want) as err:
        read_table(path)
    assert "straddl" not in str(err.value)
    with pytest.raises(DataError, match=want):
        scan_csv(path).collect()


# ----------------------------------------------------------------------------- 7. config, CLI


def test_data_encoding_and_delimiter_reach_the_in_memory_and_streamed_routes(tmp_path):
    rows = "".join(f"{i % 2};caf\u00e9 {i}\n" for i in range(40))
    path = _write(tmp_path / "t.csv", ("y;w\n" + rows).encode("latin-1"))
    data = {"train": str(path), "target": "y", "test_split": 0.25}
    for route, extra in ((TableInMemory(), {}), (TableStreamed(), {"streaming": True})):
        with pytest.raises(DataError, match="as utf-8: byte offset"):
            route.prepare({**data, **extra, "encoding": "utf-8"}, seed=0, batch_size=8)
        with pytest.raises(DataError, match=r"target column 'y' is not in .*Columns: 'y;w'"):
            route.prepare({**data, **extra, "delimiter": ","}, seed=0, batch_size=8)
        p = route.prepare(
            {**data, **extra, "encoding": "latin-1", "delimiter": ";"}, seed=0, batch_size=8
        )
        assert p.task == "binary"


def test_prepare_cli_flags(tmp_path, capsys):
    path = _write(tmp_path / "t.csv", "a|b\n1|caf\u00e9\n".encode("utf-16"))
    argv = ["prepare", str(path), "--out", str(tmp_path / "o"), "--no-progress"]
    assert main([*argv, "--encoding", "utf-16", "--delimiter", "|"]) == 0
    table = ds.dataset(tmp_path / "o", format="parquet").to_table()
    assert table.to_pydict() == {"a": [1], "b": ["caf\u00e9"]}
    assert main([*argv, "--overwrite", "--encoding", "nope"]) == 2
    assert "Unknown encoding 'nope'" in capsys.readouterr().err


def test_train_then_predict_a_latin1_semicolon_file_with_multiline_text(tmp_path, capsys):
    """`deepfuse train` with data.encoding / data.delimiter named; predict reads a new file
    the same way because config.yaml keeps them."""
    words = ["mauvais", "tr\u00e8s bien"]
    rows = [f'{i * 1.5};"{words[i % 2]}\n(ligne {i})";{i % 2}' for i in range(60)]
    path = _write(tmp_path / "avis.csv", ("x;avis;y\n" + "\n".join(rows) + "\n").encode("latin-1"))
    config = tmp_path / "c.yaml"
    config.write_text(
        f"data:\n  train: {path}\n  target: y\n  encoding: latin-1\n  delimiter: ';'\n"
        "trainer:\n  epochs: 1\n  batch_size: 16\n"
    )
    assert main(["train", str(config), "--out", str(tmp_path / "runs")]) == 0, capsys.readouterr()
    run = next((tmp_path / "runs").iterdir())
    assert "encoding: latin-1" in (run / "config.yaml").read_text()
    out = tmp_path / "p.csv"
    assert main(["predict", str(run), str(path), "--out", str(out)]) == 0, capsys.readouterr()
    assert read_table(out).num_rows == 60
