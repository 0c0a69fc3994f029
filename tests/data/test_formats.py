"""The one file-format table (deepfuse.data.formats) and every reader accepting what it says."""

from __future__ import annotations

import bz2
import gzip
import itertools
import json
import random
import warnings

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from deepfuse._utils.errors import DataError
from deepfuse.data import formats, read_table
from deepfuse.data.formats import SUFFIXES, TABLE_FORMATS, detect, format_of, format_or_none
from deepfuse.data.prepare import prepare
from deepfuse.data.streaming import (
    read_images,
    read_text,
    resolve_paths,
    scan_csv,
    scan_jsonl,
    scan_parquet,
)

ROWS = {"a": [1, 2, 3], "b": ["x", "y", "z"]}
_SCANS = {"parquet": scan_parquet, "csv": scan_csv, "json": scan_jsonl}


def _spellings(suffix: str, rng: random.Random, n: int = 12) -> list[str]:
    """The suffix with its format part in every case (or ``n`` random mixed cases when long);
    a compression part stays lower case (pyarrow detects compression in lower case only)."""
    compression = next((c for c in formats.COMPRESSIONS if suffix.endswith(c)), "")
    base = suffix.removesuffix(compression) if compression else suffix
    letters = [(c.lower(), c.upper()) for c in base]
    if len(base) <= 6:
        cases = ["".join(p) for p in itertools.product(*letters)]
    else:
        cases = [base, base.upper()] + ["".join(rng.choice(p) for p in letters) for _ in range(n)]
    return [c + compression for c in cases]


# ----------------------------------------------------------------------------- the table


def test_every_spelling_of_every_suffix_maps_to_its_format():
    rng = random.Random(0)
    stems = ["x", "data/part-0", "a.b.c", "dir.csv/file", "my file", ".hidden"]
    for suffix, fmt in SUFFIXES.items():
        for spelling in _spellings(suffix, rng):
            name = rng.choice(stems) + spelling
            assert format_or_none(name) == fmt, name
            assert detect(name) == fmt
            assert formats.format_or_none(name + "/") == fmt  # a trailing slash is ignored


def test_the_longest_suffix_wins_and_unknown_names_are_none():
    assert format_or_none("x.json.gz") == "jsonl" and format_or_none("x.tsv.bz2") == "tsv"
    unknown = ["x", "x.gz", "x.bz2", "x.csvx", "x.parquet.bak", "x.md", "csv", "", "x.csv.GZ"]
    for name in unknown:
        assert format_or_none(name) is None, name


def test_suffixes_partition_the_table():
    assert sorted(formats.suffixes()) == sorted(SUFFIXES)
    assert set(formats.suffixes(*formats.FORMATS)) == set(SUFFIXES)
    for kind in set(formats.SCAN_KINDS.values()):
        assert all(formats.SCAN_KINDS[SUFFIXES[s]] == kind for s in formats.scan_suffixes(kind))


def test_detect_names_what_it_expected():
    with pytest.raises(DataError, match=r"Cannot read 'a\.png': unknown file type.*\.parquet"):
        detect("a.png", TABLE_FORMATS)
    with pytest.raises(DataError, match=r"Cannot list 'b': unknown"):
        detect("b", what="list")


def test_format_of_keeps_the_streaming_contract(tmp_path):
    # the contract of api/streamdata.py's format_of: parquet / csv / json from a name, glob or folder
    assert format_of("data/*.parquet") == "parquet" and format_of("data/*") == "parquet"
    assert format_of("logs/2024-*.jsonl") == "json" and format_of("x.NDJSON") == "json"
    assert format_of("x.csv.gz") == "csv" and format_of("x.tsv") == "csv"
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ["_meta.parquet", ".x.parquet", "notes.md", "b.jsonl", "c.csv"]:
        (folder / name).write_text("")
    assert format_of(folder) == "json"  # the first data file, hidden and _ files skipped
    for bad in ["x.png", "notes.md", str(tmp_path)]:
        with pytest.raises(DataError, match="Cannot tell the format"):
            format_of(bad)


# ----------------------------------------------------------------------------- the readers


def _write(path, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(pa.table(ROWS), path)
        return
    if fmt == "jsonl":
        text = "".join(json.dumps({"a": a, "b": b}) + "\n" for a, b in zip(*ROWS.values()))
    else:
        sep = "\t" if fmt == "tsv" else ","
        text = f"a{sep}b\n" + "".join(f"{a}{sep}{b}\n" for a, b in zip(*ROWS.values()))
    data = text.encode()
    low = path.name.lower()
    data = gzip.compress(data) if low.endswith(".gz") else data
    data = bz2.compress(data) if low.endswith(".bz2") else data
    data = _zstd(data) if low.endswith(".zst") else data
    path.write_bytes(data)


def _zstd(data: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(data)
    return sink.getvalue().to_pybytes()


TABLE_SUFFIXES = [s for s, f in SUFFIXES.items() if f in TABLE_FORMATS]


@pytest.mark.parametrize("suffix", TABLE_SUFFIXES)
def test_every_table_reader_reads_every_table_suffix(tmp_path, suffix):
    fmt = SUFFIXES[suffix]
    folder = tmp_path / "in"
    folder.mkdir()
    compression = next((c for c in formats.COMPRESSIONS if suffix.endswith(c)), "")
    base = suffix.removesuffix(compression) if compression else suffix
    path = folder / f"Part-0{base.upper()}{compression}"  # upper-case format part
    _write(path, fmt)
    assert read_table(path).select(["a", "b"]).to_pydict() == ROWS
    # the streaming scanner format_of picks, on the file and on the folder it lists
    scan = _SCANS[format_of(path)]
    assert scan(path).collect().select(["a", "b"]).to_pydict() == ROWS
    assert resolve_paths(folder, formats.SCAN_KINDS[fmt]) == [str(path)]
    assert scan(folder).collect().select(["a", "b"]).to_pydict() == ROWS
    if fmt != "parquet":  # prepare converts text tables into Parquet
        report = prepare(path, tmp_path / "out", progress=False)
        assert report.format == fmt and report.rows_written == 3
        assert read_table(tmp_path / "out" / "part-00000.parquet").to_pydict() == ROWS
        report = prepare(folder, tmp_path / "out2", progress=False)  # the folder too
        assert report.rows_written == 3


def test_every_image_suffix_is_listed_by_scan_images_and_prepare(tmp_path):
    root = tmp_path / "imgs"
    (root / "cat").mkdir(parents=True)
    image_suffixes = formats.suffixes("image")
    for i, suffix in enumerate(image_suffixes):
        kind = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(suffix, suffix[1:].upper())
        Image.new("RGB", (4, 3), (i * 30, 0, 0)).save(root / "cat" / f"{i}{suffix.upper()}", kind)
    (root / "cat" / "notes.txt").write_text("not an image")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no quarantine warning: every listed file decodes
        table = read_images(root)
    assert table.num_rows == len(image_suffixes)
    report = prepare(root, tmp_path / "out", progress=False)
    assert report.format == "images" and report.rows_written == len(image_suffixes)


def test_text_suffix_is_read_by_read_text(tmp_path):
    (tmp_path / "A.TXT").write_text("hello")
    (tmp_path / "b.csv").write_text("a\n1\n")
    assert read_text(tmp_path).num_rows == 1


# ----------------------------------------------------------------------------- properties

_NAME_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


@settings(max_examples=300, deadline=None)
@given(
    stem=st.text(_NAME_CHARS, max_size=30), suffix=st.sampled_from(sorted(SUFFIXES)), data=st.data()
)
def test_any_stem_with_a_known_suffix_in_any_case_is_detected(stem, suffix, data):
    compression = next((c for c in formats.COMPRESSIONS if suffix.endswith(c)), "")
    base = suffix.removesuffix(compression) if compression else suffix
    flips = data.draw(st.lists(st.booleans(), min_size=len(base), max_size=len(base)))
    spelled = "".join(c.upper() if f else c for c, f in zip(base, flips)) + compression
    assert format_or_none(stem + spelled) == SUFFIXES[suffix]


@settings(max_examples=300, deadline=None)
@given(name=st.text(_NAME_CHARS, max_size=60))
def test_any_name_is_a_known_format_or_none_and_detect_agrees(name):
    fmt = format_or_none(name)
    assert fmt is None or fmt in formats.FORMATS
    if fmt is None:
        with pytest.raises(DataError):
            detect(name)
    else:
        assert detect(name) == fmt
