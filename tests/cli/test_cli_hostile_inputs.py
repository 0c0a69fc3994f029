"""Issue 11, findings 6-9: each bad input is one line on stderr and exit 2, never a traceback.

One parametrized test lists every input with the fragment its message must hold. Each case
failed on the code before the fix (a traceback and exit 1, a silent exit 0 or a misleading
message), reproduced through ``deepfuse.cli.main.main``.
"""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from deepfuse.cli.main import main
from synthetic_tables import city_income_csv

BASE = "trainer:\n  epochs: 1\n  batch_size: 32\n"


def _config(tmp_path, train, *, target="label", extra=""):
    path = tmp_path / "c.yaml"
    path.write_text(f"data:\n  train: {train}\n  target: {target}\n{BASE}{extra}")
    return path


def _damaged_table(tmp_path, old: bytes, new: bytes, line: int):
    """The standard table with ``old`` replaced by ``new`` on one line (0 = the header)."""
    lines = city_income_csv(tmp_path / "t.csv", 60).read_bytes().splitlines()
    for o in old if isinstance(old, list) else [old]:
        lines[line] = lines[line].replace(o, new)
    lines[-1] += "\u00e9".encode()  # UTF-8 elsewhere: a damaged UTF-8 file, not a cp1252 one
    path = tmp_path / "damaged.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _utf8_header(tmp_path):
    bad = _damaged_table(tmp_path, b"city", b"ci\xffty", 0)
    return ["train", _config(tmp_path, bad), "--out", tmp_path / "runs"]


def _utf8_target(tmp_path):
    bad = _damaged_table(tmp_path, [b"rich", b"poor"], b"ri\xffch", 5)
    return ["train", _config(tmp_path, bad), "--out", tmp_path / "runs"]


def _utf8_header_prepare(tmp_path):
    bad = _damaged_table(tmp_path, b"city", b"ci\xffty", 0)
    return ["prepare", bad, "--out", tmp_path / "out", "--no-progress"]


def _duplicates(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("a,a,label\n" + "".join(f"{i},{i},{'xy'[i % 2]}\n" for i in range(40)))
    return path


def _dup_train(tmp_path):
    return ["train", _config(tmp_path, _duplicates(tmp_path)), "--out", tmp_path / "runs"]


def _dup_prepare(tmp_path):
    return ["prepare", _duplicates(tmp_path), "--out", tmp_path / "out", "--no-progress"]


def _list_target(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(
        pa.table({"x": [float(i) for i in range(20)], "label": [[i % 2] for i in range(20)]}), path
    )
    return ["train", _config(tmp_path, path), "--out", tmp_path / "runs"]


def _long_name(tmp_path):
    cfg = _config(
        tmp_path, city_income_csv(tmp_path / "t.csv", 60), extra="name: " + "x" * 300 + "\n"
    )
    return ["train", cfg, "--out", tmp_path / "runs"]


def _seed(value):
    def case(tmp_path):
        cfg = _config(tmp_path, city_income_csv(tmp_path / "t.csv", 60))
        return ["train", cfg, f"trainer.seed={value}", "--out", tmp_path / "runs"]

    return case


def _pos_weight(tmp_path):
    loss = "  loss: {name: binary_cross_entropy, pos_weight: abc}\n"
    cfg = _config(tmp_path, city_income_csv(tmp_path / "t.csv", 60), extra=loss)
    return ["train", cfg, "--out", tmp_path / "runs"]


def _mlp_on_a_table(tmp_path):
    model = "model:\n  type: mlp\n  hidden: [8]\n"
    cfg = _config(tmp_path, city_income_csv(tmp_path / "t.csv", 60), extra=model)
    return ["train", cfg, "--out", tmp_path / "runs"]


def _ui_port(tmp_path):
    return ["ui", tmp_path, "--port", "99999"]


def _long_line(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"a,b\n1,2\n3," + b"x" * (50 << 20) + b"\n4,5\n")  # a 50 MB line
    return ["prepare", path, "--out", tmp_path / "out", "--no-progress"]


def _long_header(verb):
    def case(tmp_path):
        path = tmp_path / "head.csv"
        path.write_bytes(b"a" * (44 << 20) + b"\n1\n")  # a 44 MB header line
        if verb == "prepare":
            return ["prepare", path, "--out", tmp_path / "out", "--no-progress"]
        return ["train", _config(tmp_path, path, target="a"), "--out", tmp_path / "runs"]

    return case


def _huge_png(tmp_path):
    for label in "ab":
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(tmp_path / "imgs" / label / f"{i}.png")
    with open(tmp_path / "imgs" / "a" / "huge.png", "wb") as fh:
        fh.truncate(1 << 30)  # a sparse 1 GB "image": never read whole
    return ["prepare", tmp_path / "imgs", "--out", tmp_path / "out", "--no-progress"]


CASES = {
    "utf8-header": (_utf8_header, ["damaged.csv", "not valid UTF-8", "column 3", "row 1"]),
    "utf8-target": (_utf8_target, ["target column 'label'", "damaged.csv", "row 5"]),
    "utf8-header-prepare": (_utf8_header_prepare, ["not valid UTF-8", "column 3", "row 1"]),
    "duplicate-columns-train": (_dup_train, ["'a' appears twice", "columns 1 and 2"]),
    "duplicate-columns-prepare": (_dup_prepare, ["'a' appears twice", "columns 1 and 2"]),
    "list-target": (_list_target, ["target column 'label'", "type list"]),
    "name-300-chars": (_long_name, ["'name'", "at most 100 characters"]),
    "seed-negative": (_seed(-1), ["'trainer.seed'", "0 to 2**64 - 1", "got -1"]),
    "seed-2**64": (_seed(2**64), ["'trainer.seed'", "0 to 2**64 - 1"]),
    "pos-weight-abc": (_pos_weight, ["'pos_weight'", "got 'abc'"]),
    "mlp-on-a-table": (_mlp_on_a_table, ["'mlp' takes one tensor", "model.type: tabular"]),
    "ui-port-99999": (_ui_port, ["invalid port '99999'", "0 to 65535"]),
    "50MB-line-prepare": (_long_line, ["Line 3", "longer than 16,777,216 bytes"]),
    "44MB-header-prepare": (_long_header("prepare"), ["Line 1", "longer than 16,777,216"]),
    "44MB-header-train": (_long_header("train"), ["Line 1", "longer than 16,777,216"]),
    "1GB-png-prepare": (_huge_png, ["image_too_large: 1"]),
}


def _run(argv):
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors exit through SystemExit(2)
        return exc.code


def _assert_one_line(code, err, needles):
    lines = err.strip().splitlines()
    assert code == 2, err[-3000:]
    assert len(lines) == 1 and lines[0].startswith("deepfuse: error: "), err[-3000:]
    assert "Traceback" not in err and ".tmp" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, capsys):
    build, needles = CASES[case]
    argv = build(tmp_path)
    code = _run(argv)
    _, err = capsys.readouterr()
    _assert_one_line(code, err, needles)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# ----------------------------------------------------------------------------- a finished run
# model.json / weights edited by hand or damaged: `evaluate` and `predict` refuse on one line.


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    table = city_income_csv(root / "t.csv", 60)
    assert main(["train", str(_config(root, table)), "--out", str(root / "runs")]) == 0
    small = root / "small"
    small.mkdir()
    cfg = _config(small, table, extra="model:\n  type: tabular\n  hidden: [7]\n")
    assert main(["train", str(cfg), "--out", str(small / "runs")]) == 0
    return next((root / "runs").iterdir()), next((small / "runs").iterdir()), table


def _edit(meta, what):
    arch, spec = meta["architecture"], meta["input_spec"]
    if what == "format_version":
        meta["format_version"] = "abc"
    elif what == "no_layers":
        meta["architecture"] = {"kind": "sequential"}
    elif what == "zoo_without_name":
        arch.pop("name")
    elif what == "dtype_class":
        next(iter(spec.values()))["dtype"] = "Tensor"  # a torch attribute, not a dtype
    elif what == "dtype_function":
        next(iter(spec.values()))["dtype"] = "load"
    elif what == "shape_negative":
        next(iter(spec.values()))["shape"] = [-5]
    elif what == "shape_huge":
        next(iter(spec.values()))["shape"] = [10**12]  # 8 TB dummy batch before the fix
    elif what == "spec_list":
        meta["input_spec"] = [1, 2]


MODEL_CASES = {
    "format_version": ["'format_version'", "got 'abc'"],
    "no_layers": ["'architecture'", "needs 'layers'"],
    "zoo_without_name": ["'architecture'", "needs 'name'"],
    "dtype_class": ["Bad dtype", "'float32'", "got 'Tensor'"],
    "dtype_function": ["Bad dtype", "got 'load'"],
    "shape_negative": ["Bad shape of input", "got [-5]"],
    "shape_huge": ["Bad shape of input", "33,554,432 values"],
    "spec_list": ["Bad input_spec", "expected an object"],
}


@pytest.mark.parametrize("what", list(MODEL_CASES), ids=list(MODEL_CASES))
@pytest.mark.parametrize("verb", ["evaluate", "predict"])
def test_damaged_model_json_is_one_line(what, verb, finished_run, tmp_path, capsys):
    run, _, table = finished_run
    copy = tmp_path / run.name
    shutil.copytree(run, copy)
    meta = json.loads((copy / "model.json").read_text())
    _edit(meta, what)
    (copy / "model.json").write_text(json.dumps(meta))
    argv = [verb, copy] + ([table, "--out", tmp_path / "p.csv"] if verb == "predict" else [])
    code = _run(argv)
    _assert_one_line(code, capsys.readouterr()[1], MODEL_CASES[what])


def test_weights_of_another_shape_are_one_line(finished_run, tmp_path, capsys):
    run, other, table = finished_run
    copy = tmp_path / run.name
    shutil.copytree(run, copy)
    shutil.copy(other / "model.safetensors", copy / "model.safetensors")
    code = _run(["predict", copy, table, "--out", tmp_path / "p.csv"])
    _assert_one_line(code, capsys.readouterr()[1], ["do not match the architecture", "shape"])


def test_out_error_names_the_users_path_not_a_temp_file(finished_run, tmp_path, capsys):
    run, _, table = finished_run
    (tmp_path / "taken").mkdir()
    code = _run(["predict", run, table, "--out", tmp_path / "taken"])
    _assert_one_line(code, capsys.readouterr()[1], [f"'{tmp_path / 'taken'}'"])


def test_utf8_in_a_feature_column_keeps_the_column_and_warns(tmp_path, capsys):
    """Finding 6: the column was 'ignored: unsupported type binary' with exit 0 and no word."""
    bad = _damaged_table(tmp_path, [b"paris", b"lyon", b"nice"], b"pa\xffris", 5)
    code = _run(["train", _config(tmp_path, bad), "--out", tmp_path / "runs"])
    err = capsys.readouterr()[1]
    assert code == 0, err
    warning = "deepfuse: warning: Column 'city' of '"
    assert warning in err and "invalid UTF-8 in 1 row(s) (first: row 5)" in err, err
    run = next((tmp_path / "runs").iterdir())
    features = json.loads((run / "model.json").read_text())["preprocessing"]["schema"]["features"]
    city = next(f for f in features if f["name"] == "city")
    assert city["type"] == "categorical", city
