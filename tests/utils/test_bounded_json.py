"""Bounded JSON (issue 11, findings 7 and 8): every JSON deepfuse reads goes through one reader
with a size limit checked before reading and a depth limit checked before parsing.

Old code: a document nested thousands deep ended in a RecursionError traceback (model.json,
metrics.json, the safetensors header, checkpoint manifest and state), and an integer of 5,000
digits in a ValueError traceback.
"""

from __future__ import annotations

import json
import math
import struct
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepfuse._utils import bounded
from deepfuse._utils.bounded import MAX_DEPTH, MAX_JSON_BYTES, loads_json, read_bounded
from deepfuse._utils.errors import DataError, UserError
from deepfuse._utils.io import read_json


def nested(depth: int, open_: str = "[", close: str = "]", leaf: str = "1") -> str:
    return open_ * depth + leaf + close * depth


def nested_objects(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


# ----------------------------------------------------------------------------- depth


@pytest.mark.parametrize("make", [nested, nested_objects])
def test_depth_limit_is_exact(tmp_path, make):
    path = tmp_path / "m.json"
    path.write_text(make(MAX_DEPTH))
    assert read_json(path) is not None  # exactly at the limit: read
    path.write_text(make(MAX_DEPTH + 1))
    with pytest.raises(DataError, match=f"nested deeper than {MAX_DEPTH} levels"):
        read_json(path, what="metrics file")


@pytest.mark.parametrize("depth", [1_000, 100_000, 5_000_000])
def test_thousands_deep_is_refused_quickly_and_names_the_file(tmp_path, depth):
    path = tmp_path / "metrics.json"
    path.write_text(nested(depth))
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        read_json(path, what="run file")
    assert time.perf_counter() - start < 2.0
    message = str(info.value)
    assert "metrics.json" in message and "\n" not in message and len(message) < 400


def test_brackets_inside_strings_do_not_count():
    doc = {"a": "[" * 5000, "b": '\\"{{{' * 100, "c": ["]]]", "{"]}
    assert loads_json(json.dumps(doc)) == doc


def test_malformed_json_is_a_data_error_not_a_depth_error():
    with pytest.raises(DataError, match="not valid JSON"):
        loads_json('{"a": [1, 2}')
    with pytest.raises(DataError, match="not valid JSON"):
        loads_json("[" * 50)  # unbalanced, shallow


def test_huge_integer_is_a_data_error():
    # json.loads raises a plain ValueError for integers over 4300 digits (a traceback before).
    with pytest.raises(DataError, match="not valid JSON"):
        loads_json('{"n": ' + "9" * 5000 + "}")


def test_invalid_utf8_is_a_data_error():
    with pytest.raises(DataError, match="not valid JSON"):
        loads_json(b'{"a": "\xff"}')


# ----------------------------------------------------------------------------- size


def test_size_is_checked_before_reading(tmp_path):
    path = tmp_path / "model.json"
    with open(path, "wb") as fh:  # sparse: costs no disk, would cost 256 MB to read
        fh.truncate(MAX_JSON_BYTES + 1)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=f"limit {MAX_JSON_BYTES}"):
            read_json(path, what="model file")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_read_bounded_never_opens_a_fifo(tmp_path):
    import os

    fifo = tmp_path / "state.json"
    os.mkfifo(fifo)  # open() would block forever: no writer
    with pytest.raises(DataError, match="not a regular file"):
        read_json(fifo, what="checkpoint state")
    with pytest.raises(DataError, match="is missing"):
        read_bounded(tmp_path / "nope", 10, what="file")


def test_read_bounded_takes_the_error_class(tmp_path):
    from deepfuse._utils.errors import ConfigError

    (tmp_path / "c").write_bytes(b"x" * 11)
    with pytest.raises(ConfigError, match="has 11 bytes"):
        read_bounded(tmp_path / "c", 10, what="config file", error=ConfigError)


# ----------------------------------------------------------------------------- every reader


def test_every_json_file_of_deepfuse_refuses_deep_nesting(tmp_path):
    """model.json, metrics.json, checkpoint manifest and state, safetensors header."""
    from deepfuse._utils.safefiles import load_safetensors
    from deepfuse.models.serialization import read_meta
    from deepfuse.training.checkpoint import load_checkpoint, verify_checkpoint

    deep = nested(20_000)
    (tmp_path / "model.json").write_text(deep)
    with pytest.raises(DataError, match="nested deeper"):
        read_meta(tmp_path)

    ckpt = tmp_path / "step-1"
    ckpt.mkdir()
    (ckpt / "manifest.json").write_text(deep)
    with pytest.raises(DataError, match="nested deeper"):
        verify_checkpoint(ckpt)

    header = nested(20_000).encode()
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(DataError, match="nested deeper"):
        load_safetensors(weights)

    # A state.json nested deep behind a valid manifest.
    import hashlib

    state = ckpt / "state.json"
    state.write_text(deep)
    data = state.read_bytes()
    from deepfuse.training.checkpoint import FORMAT

    manifest = {
        "format": FORMAT,
        "format_version": 1,
        "files": {"state.json": {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}},
    }
    (ckpt / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="nested deeper"):
        load_checkpoint(ckpt)


def test_metrics_json_of_a_run_refuses_deep_nesting(tmp_path):
    from deepfuse.run.reader import RunReader

    (tmp_path / "metrics.json").write_text(nested_objects(5_000))
    with pytest.raises(DataError, match="nested deeper"):
        RunReader(tmp_path).metrics()


# ----------------------------------------------------------------------------- properties

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=40,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=JSON_VALUES, depth=st.integers(0, 400), wrap=st.sampled_from("[{"))
def test_generated_documents_round_trip_or_are_refused_by_depth(tmp_path, value, depth, wrap):
    """Deep, wide, big numbers: read back exactly when within the limit, a DataError beyond."""
    doc = value
    for _ in range(depth):
        doc = [doc] if wrap == "[" else {"k": doc}
    text = json.dumps(doc)
    path = tmp_path / "doc.json"
    path.write_text(text)

    def depth_of(v):  # iterative: v may be deep
        best, stack = 0, [(v, 1)]
        while stack:
            node, d = stack.pop()
            if isinstance(node, list | dict):
                best = max(best, d)
                stack.extend(
                    (c, d + 1) for c in (node.values() if isinstance(node, dict) else node)
                )
        return best

    start = time.perf_counter()
    if depth_of(doc) <= MAX_DEPTH:
        assert read_json(path) == doc
    else:
        with pytest.raises(DataError, match="nested deeper"):
            read_json(path)
    assert time.perf_counter() - start < 2.0


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=300) | st.text(alphabet='[]{}",:0123456789e.-\\ ntrufals', max_size=300)
)
def test_any_bytes_give_a_value_or_a_data_error(data):
    """Never a traceback: RecursionError, ValueError and UnicodeDecodeError all become DataError."""
    try:
        loads_json(data)
    except UserError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=50, deadline=None)
@given(digits=st.integers(1, 20_000), exponent=st.integers(-400, 400))
def test_big_numbers_are_values_or_one_line_errors(digits, exponent):
    text = f'{{"a": {"7" * digits}, "b": 1e{exponent}}}'
    try:
        doc = loads_json(text)
    except DataError as exc:
        assert digits > 4300 and "\n" not in str(exc)
    else:
        assert doc["a"] == int("7" * digits) and (math.isinf(doc["b"]) or doc["b"] >= 0)


def test_the_limits_live_in_one_module():
    import deepfuse._utils.io as io

    assert io.MAX_JSON_BYTES is bounded.MAX_JSON_BYTES
    for name in ("MAX_JSON_BYTES", "MAX_YAML_BYTES", "MAX_DEPTH", "MAX_ALIAS_NODES"):
        assert name in bounded.__doc__.replace(":data:`", "").replace("`", "")


def test_no_unbounded_json_or_yaml_load_in_src():
    """Every JSON/YAML document goes through deepfuse._utils.bounded (or read_json / the config
    loader built on it). The stream workers' messages are deepfuse's own IPC between its own
    processes, not a file or user input."""
    import re
    from pathlib import Path

    import deepfuse

    allowed = {"_utils/bounded.py", "data/streaming/workers.py"}
    pattern = re.compile(r"\bjson\.loads?\(|\byaml\.(safe_)?load(_all)?\(|\bsafe_load\(")
    bounded_loader = re.compile(r"yaml\.load\(.*Loader=(_ConfigSafeLoader|BoundedSafeLoader)\)")
    root = Path(deepfuse.__file__).parent
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        if path.relative_to(root).as_posix() not in allowed
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line) and ">>>" not in line and not bounded_loader.search(line)
    ]
    assert offenders == []
    from deepfuse._utils.bounded import BoundedSafeLoader
    from deepfuse.config.loader import _ConfigSafeLoader

    assert issubclass(_ConfigSafeLoader, BoundedSafeLoader)
