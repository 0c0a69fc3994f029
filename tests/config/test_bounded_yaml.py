"""Bounded YAML and bounded validation (issue 11, findings 4, 7, 8 and 9).

Old code: a 500-byte config with nested anchors in a valid key ran `deepfuse train` to 3.7 GB and
a MemoryError (the error message took the value's repr); a config nested thousands deep was a
traceback; `hidden: [100000000000]` asked the allocator for 800 GB (traceback, exit 1) and a
20,000-entry `hidden` list was built layer by layer.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from deepfuse._utils.bounded import MAX_ALIAS_NODES, MAX_DEPTH, MAX_YAML_BYTES
from deepfuse._utils.errors import ConfigError
from deepfuse.config import load_config, parse_value, validate
from deepfuse.config.constraints import MAX_MODEL_INT, MAX_MODEL_LIST


def laughs(levels: int = 9, width: int = 9) -> str:
    """The billion-laughs value: each anchor is a list of ``width`` aliases of the previous."""
    parts = ["&l0 [" + ", ".join(["lol"] * width) + "]"]
    parts += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


BASE = "data: {train: t.csv, target: y}\n"
BOMBS = {
    "trainer.epochs": BASE + f"trainer:\n  epochs: {laughs()}\n",
    "name": BASE + f"name: {laughs()}\n",
    "data.features": f"data:\n  train: t.csv\n  target: y\n  features: {laughs()}\n",
}


@pytest.mark.parametrize("key", sorted(BOMBS))
def test_billion_laughs_is_refused_in_milliseconds_naming_file_and_key(tmp_path, key):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMBS[key])
    assert path.stat().st_size < 600
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ConfigError) as info:
            load_config(path)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert elapsed < 0.5 and peak < 20_000_000
    assert "bomb.yaml" in message and f"'{key}'" in message and "alias" in message
    assert "\n" not in message and len(message) < 500


def test_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(BASE + "trainer:\n  epochs: &a [1, *a]\n")
    with pytest.raises(ConfigError, match="recursive"):
        load_config(path)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 200_000])
def test_deep_nesting_is_refused_quickly(tmp_path, depth):
    path = tmp_path / "c.yaml"
    path.write_text(BASE + "name: " + "[" * depth + "1" + "]" * depth + "\n")
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_config(path)
    assert time.perf_counter() - start < 2.0


def test_depth_at_the_limit_loads(tmp_path):
    path = tmp_path / "c.yaml"
    # the root mapping is level 1, the 'name' value level 2: MAX_DEPTH - 2 more lists fit.
    inner = MAX_DEPTH - 2
    path.write_text(BASE + "name: " + "[" * inner + "1" + "]" * inner + "\n")
    assert isinstance(load_config(path)["name"], list)


def test_alias_chain_deeper_once_expanded_is_refused(tmp_path):
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, MAX_DEPTH + 5)]
    path = tmp_path / "c.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="once its aliases are expanded it is nested deeper"):
        load_config(path)


def test_ordinary_anchors_and_merge_keys_still_work(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "data: {dataset: mnist}\n"
        "model:\n"
        "  type: sequential\n"
        "  layers:\n"
        "    - Dense: &dense {units: 64, activation: relu}\n"
        "    - Dense: *dense\n"
        "    - Dense: {<<: *dense, units: 10}\n"
    )
    layers = load_config(path)["model"]["layers"]
    assert layers[1]["Dense"] == {"units": 64, "activation": "relu"}
    assert layers[2]["Dense"] == {"units": 10, "activation": "relu"}


def test_alias_expansion_limit_is_exact_enough(tmp_path):
    # One anchor of n scalars aliased k times adds k * (n + 1) values.
    n = 99
    ok = MAX_ALIAS_NODES // (n + 1)
    for k, fails in ((ok, False), (ok + 1, True)):
        text = "a: &a [" + ", ".join(["1"] * n) + "]\nb: [" + ", ".join(["*a"] * k) + "]\n"
        path = tmp_path / "c.yaml"
        path.write_text(text)
        if fails:
            with pytest.raises(ConfigError, match="'b' expands to more than"):
                load_config(path)
        else:
            assert len(load_config(path)["b"]) == k


def test_size_is_checked_before_reading(tmp_path):
    path = tmp_path / "c.yaml"
    with open(path, "wb") as fh:
        fh.truncate(MAX_YAML_BYTES + 1)  # sparse
    with pytest.raises(ConfigError, match=f"limit {MAX_YAML_BYTES}"):
        load_config(path)


def test_a_folder_is_not_a_config(tmp_path):
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(tmp_path)


def test_an_override_bomb_stays_a_string():
    text = laughs()
    start = time.perf_counter()
    assert parse_value(text) == text  # refused as YAML: validation then rejects the string
    assert time.perf_counter() - start < 0.5


def test_run_config_yaml_bomb_does_not_hang_the_reader(tmp_path):
    """`deepfuse info` and the dashboard read config.yaml with the same loader."""
    from deepfuse.run.reader import RunReader

    (tmp_path / "config.yaml").write_text(BOMBS["name"])
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="alias"):
        RunReader(tmp_path).config()
    assert time.perf_counter() - start < 0.5


# ----------------------------------------------------------------------------- finding 9


def test_scientific_notation_in_a_yaml_file_validates(tmp_path, real_signatures):
    """`lr: 1e-3` was a string (YAML 1.1): "'<=' not supported between 'float' and 'str'"."""
    path = tmp_path / "c.yaml"
    path.write_text(BASE + "trainer:\n  optimizer: {name: adam, lr: 1e-3}\n  l2: 1e-4\n")
    cfg = load_config(path)
    assert cfg["trainer"]["optimizer"]["lr"] == 0.001 and cfg["trainer"]["l2"] == 0.0001
    validate(cfg, real_signatures)


# ----------------------------------------------------------------------------- model sizes


@pytest.mark.parametrize(
    ("model", "where", "fragment"),
    [
        ({"type": "tabular", "hidden": [100000000000]}, "model.hidden.0", "integer <= 16777216"),
        ({"type": "tabular", "hidden": [4] * 20_000}, "model.hidden", "at most 4096 items"),
        ({"type": "mlp", "hidden": [MAX_MODEL_INT + 1]}, "model.hidden.0", "2**24"),
        (
            {"type": "sequential", "layers": [{"Dense": {"units": 2**40}}]},
            "model.layers.0.Dense.units",
            "integer <=",
        ),
        ({"type": "sequential", "layers": ["Flatten"] * 5000}, "model.layers", "4096"),
    ],
)
def test_model_sizes_are_bounded_before_anything_is_built(real_signatures, model, where, fragment):
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        validate({"data": {"dataset": "mnist"}, "model": model}, real_signatures)
    assert time.perf_counter() - start < 0.5
    message = str(info.value)
    assert f"'{where}'" in message and fragment in message and len(message) < 400


def test_model_sizes_at_the_limit_validate(real_signatures):
    model = {"type": "tabular", "hidden": [MAX_MODEL_INT] + [4] * (MAX_MODEL_LIST - 1)}
    validate({"data": {"dataset": "mnist"}, "model": model}, real_signatures)


def test_cli_refuses_a_huge_width_with_one_line(tmp_path, capsys, monkeypatch):
    from deepfuse.cli.main import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.csv").write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40)))
    (tmp_path / "c.yaml").write_text(BASE + "model: {type: tabular, hidden: [100000000000]}\n")
    assert main(["train", "c.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'model.hidden.0'" in err and "100000000000" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "t.csv"]


def test_value_count_is_bounded(tmp_path):
    from deepfuse._utils.bounded import MAX_YAML_NODES

    path = tmp_path / "c.yaml"
    path.write_text("name: [" + ", ".join(["1"] * MAX_YAML_NODES) + "]\n")
    assert path.stat().st_size < MAX_YAML_BYTES
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=f"more than {MAX_YAML_NODES} values"):
        load_config(path)
    assert time.perf_counter() - start < 10.0  # pure-Python PyYAML: ~2 s here
