"""Property: generated hostile CSV / JSON-lines files never crash ``prepare`` or ``read_table``.

Random bytes in cells, invalid UTF-8, ragged rows, duplicate headers, quotes, blank lines and
fields over pyarrow's 1 MiB block (the line limit itself, 16 MiB, is covered by the CLI tests).
For each file:

- ``deepfuse prepare`` exits 0 or 2 (never a traceback); on 2, one line on stderr; on 0,
  rows_written + rows_quarantined == rows_read; nothing is written outside the output folder
  (or its ``.rejected`` twin); each call takes bounded time;
- ``deepfuse.data.read_table`` returns a table with no binary (dropped-as-unsupported) column
  and only valid UTF-8 strings, or raises :class:`DataError`; nothing else.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepfuse._utils.errors import DataError
from deepfuse.cli.main import main
from deepfuse.data import read_table

HUGE = b"h" * ((1 << 20) + 17)  # over pyarrow's default block: "straddling object" before
SECONDS = 20  # per example, both calls; typical examples take a few milliseconds

names = st.text(alphabet="abc", min_size=1, max_size=2)  # small alphabet: duplicates happen
cells = st.one_of(
    st.text(alphabet='ab1. ,"\t', max_size=6).map(str.encode),
    st.integers(-5, 10**6).map(lambda n: str(n).encode()),
    st.binary(max_size=6),  # random bytes: invalid UTF-8, NUL, \r, quotes, delimiters
    st.sampled_from([b"\xff", b"caf\xe9", b"\xc3", b"NA", b"", b'"open', HUGE]),
)
rows = st.lists(st.lists(cells, min_size=0, max_size=5), max_size=12)


@st.composite
def csv_files(draw):
    header = draw(st.lists(names, min_size=1, max_size=4))
    head = b",".join(n.encode() for n in header)
    if draw(st.booleans()):
        head = draw(st.sampled_from([head + b"\xff", b"", b"a,,b", head + b',"x']))
    body = [b",".join(r).replace(b"\n", b" ") for r in draw(rows)]
    return b"\n".join([head, *body]) + draw(st.sampled_from([b"\n", b"", b"\r\n"]))


@st.composite
def jsonl_files(draw):
    lines = []
    for row in draw(rows):
        keys = draw(st.lists(names, max_size=4))
        obj = {k: v.decode("latin-1") for k, v in zip(keys, row, strict=False)}
        line = json.dumps(obj).encode()
        if draw(st.integers(0, 4)) == 0:  # damage: invalid UTF-8, truncation, raw bytes
            line = draw(
                st.sampled_from([line.replace(b"a", b"\xff"), line[:-1], row[0] if row else b"{"])
            )
        lines.append(line.replace(b"\n", b" "))
    return b"\n".join(lines) + b"\n"


def _check_prepare(work: Path, src: Path, capsys) -> None:
    out = work / "out"
    code = main(["prepare", str(src), "--out", str(out), "--no-progress"])
    err = capsys.readouterr()[1]
    assert code in (0, 2), err[-2000:]
    assert "Traceback" not in err
    if code == 2:
        lines = [line for line in err.splitlines() if not line.startswith("deepfuse: warning")]
        assert len(lines) == 1 and lines[0].startswith("deepfuse: error: "), err[-2000:]
    else:
        report = json.loads((out / "_report.json").read_text())
        assert report["rows_written"] + report["rows_quarantined"] == report["rows_read"]
    assert {p.name for p in work.iterdir()} <= {src.name, "out", "out.rejected"}


def _check_read_table(src: Path) -> None:
    try:
        table = read_table(src)
    except DataError:
        return
    binary = [f.name for f in table.schema if pa.types.is_binary(f.type)]
    assert not binary, f"columns {binary} would be ignored as 'unsupported type binary'"
    table.to_pylist()  # every string cell is valid UTF-8 (pyarrow's JSON reader does not check)


@pytest.mark.parametrize("suffix,files", [(".csv", csv_files()), (".jsonl", jsonl_files())])
def test_hostile_text_tables_exit_0_or_2(suffix, files, capsys):
    @settings(
        max_examples=int(os.environ.get("DEEPFUSE_HYPOTHESIS_EXAMPLES", "40")),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=files)
    def check(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            src = work / f"input{suffix}"
            src.write_bytes(data)
            start = time.monotonic()
            _check_prepare(work, src, capsys)
            _check_read_table(src)
            assert time.monotonic() - start < SECONDS

    check()
