"""deepfuse.data.dialect: encoding/BOM/delimiter detection, and (property-based) random tables
written by pandas and by Python's csv module, encoded and compressed, read back unchanged by
``read_table`` and by the streaming ``scan_csv``."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import warnings

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepfuse._utils.errors import ConfigError
from deepfuse.data import read_table
from deepfuse.data.dialect import Dialect, check_delimiter, check_encoding, open_utf8, sniff
from deepfuse.data.streaming import scan_csv


@pytest.mark.parametrize(
    "data,encoding,bom",
    [
        (b"a,b\n1,2\n", "utf-8", False),
        ("a,b\n1,caf\u00e9\n".encode(), "utf-8", False),
        (codecs.BOM_UTF8 + b"a,b\n1,2\n", "utf-8-sig", True),
        ("a,b\n1,\u00e9\n".encode("utf-16"), "utf-16", True),
        ("a,b\n1,\u00e9\n".encode("utf-32"), "utf-32", True),
        ("a,b\n1,caf\u00e9 \u20ac\n".encode("cp1252"), "cp1252", False),
        (b"a,b\n1,\x81\xe9\n", "iso8859-1", False),  # 0x81: no cp1252 character
        ("a,b\n1,\u00e9\n".encode("utf-16-le"), "utf-16-le", False),  # no BOM
        ("a,b\n1,\u00e9\n".encode("utf-16-be"), "utf-16-be", False),
        ("a,b\n1,\u00e9\n2,\xff\n".encode() + b"3,\xff\n", "utf-8", False),  # damaged UTF-8
    ],
)
def test_encoding_detection(tmp_path, data, encoding, bom):
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    d = sniff(path)
    assert (d.encoding, d.bom, d.strict) == (encoding, bom, False)


def test_a_multibyte_character_cut_by_the_sample_end_is_still_utf8(tmp_path, monkeypatch):
    monkeypatch.setattr("deepfuse.data.dialect.SAMPLE_BYTES", 9)
    path = tmp_path / "t.csv"
    path.write_bytes("a,b\n1,\u00e9\u00e9\u00e9\n".encode())  # the 9th byte splits an é
    assert sniff(path).encoding == "utf-8"


@pytest.mark.parametrize(
    "text,delimiter",
    [
        ("a,b\n1,2\n", ","),
        ("a;b\n1,5;2,5\n", ";"),  # decimal commas
        ("a\tb\n1\t2\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        ('a;b\n"x,y,z";1\n', ";"),  # delimiters inside quotes do not count
        ("text\nhello, world\n", ","),  # one column: the default
        ('a,b\n1,"two\nlines; yes"\n', ","),
        ("a;b\n1;2\n3,4;5\n", ";"),
        ("a;b\n" + "1;2\n" * 12 + "3;4;5\n", ";"),  # one ragged row
        ("a;b\n" + "1;2\n" * 5 + "3;4;5\n" * 5, ","),  # many: no consistent candidate
    ],
)
def test_delimiter_sniffing(tmp_path, text, delimiter):
    path = tmp_path / "t.csv"
    path.write_text(text)
    assert sniff(path).delimiter == delimiter


def test_tsv_keeps_tab_and_named_values_win(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("a,b;c\n1,2;3\n")
    assert sniff(path).delimiter == "\t"
    d = sniff(path, encoding="Latin-1", delimiter=";")
    assert (d.encoding, d.delimiter, d.strict) == ("iso8859-1", ";", True)


def test_named_utf8_skips_a_bom(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"id\n1\n")
    assert sniff(path, encoding="utf-8").encoding == "utf-8-sig"
    assert read_table(path, encoding="utf-8").column_names == ["id"]


def test_invalid_settings_are_config_errors():
    with pytest.raises(ConfigError, match=r"Unknown encoding 'hex'"):
        check_encoding("hex")  # a bytes codec is not a text encoding
    with pytest.raises(ConfigError, match=r"Unknown encoding"):
        check_encoding("no-such-codec")
    with pytest.raises(ConfigError, match=r"one character"):
        check_delimiter(";;")
    assert check_delimiter("tab") == "\t"


def test_open_utf8_reads_lines_across_chunks(tmp_path):
    path = tmp_path / "t.csv"
    text = "".join(f"{i},\u00e9\u20ac\n" for i in range(5000))
    path.write_bytes(text.encode("utf-16"))
    with open_utf8(path, Dialect("utf-16")) as fh:
        assert fh.readline() == b"0,\xc3\xa9\xe2\x82\xac\n"
        rest = b""
        while chunk := fh.read(777):
            rest += chunk
    assert rest.decode() == text.split("\n", 1)[1]


# ----------------------------------------------------------------------------- properties

# cp1252 letters that are all >= 0xC0 in cp1252: they never form a valid UTF-8 sequence by
# chance (a cp1252 "é€€" is the valid UTF-8 of U+9000: no detector can tell those apart).
_LEGACY = "\u00e9\u00fc\u00e0\u00e7\u00c9"
_ALPHABET = "ab ,;|\t\"'\n" + _LEGACY
_WIDE = _ALPHABET + "\u20ac\u4e2d\U0001f600"


@st.composite
def _tables(draw):
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16", "utf-16-be"]))
    alphabet = _ALPHABET if encoding == "cp1252" else _WIDE
    cell = st.text(alphabet, max_size=12).map(lambda s: "t" + s)  # never a number or null token
    ncols = draw(st.integers(2, 4))
    nrows = draw(st.integers(1, 6))
    rows = draw(
        st.lists(st.lists(cell, min_size=ncols, max_size=ncols), min_size=nrows, max_size=nrows)
    )
    return {
        "columns": [f"c{i}" for i in range(ncols)],
        "rows": rows,
        "encoding": encoding,
        "sep": draw(st.sampled_from([",", ";", "\t", "|"])),
        "writer": draw(st.sampled_from(["pandas", "csv"])),
        "gzip": draw(st.booleans()),
    }


def _write(tmp_path, t) -> object:
    if t["writer"] == "pandas":
        text = pd.DataFrame(t["rows"], columns=t["columns"]).to_csv(
            index=False, sep=t["sep"], lineterminator="\n"
        )
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=t["sep"], lineterminator="\n")
        writer.writerow(t["columns"])
        writer.writerows(t["rows"])
        text = buf.getvalue()
    data = text.encode(t["encoding"])
    if t["encoding"] == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data  # a BOM says which end
    name = "t.csv.gz" if t["gzip"] else "t.csv"
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if t["gzip"] else data)
    return path


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(t=_tables())
def test_random_tables_read_back_unchanged_in_memory_and_streamed(tmp_path, t):
    path = _write(tmp_path, t)
    want = {c: [row[i] for row in t["rows"]] for i, c in enumerate(t["columns"])}
    assert read_table(path).to_pydict() == want
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no row may be quarantined
        assert scan_csv(path).collect().to_pydict() == want
