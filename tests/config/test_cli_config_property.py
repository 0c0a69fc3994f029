"""Property test: whatever config file and overrides a user hands `deepfuse train`, the CLI exits
0 or 2 (never 1, "a bug"), prints one line on stderr for a mistake, answers in bounded time and
memory and writes nothing (issue 11, "Must show": generated configs through the CLI).

The configs are generated as YAML text: plain values, huge and odd numbers, anchors and aliases
(up to billion-laughs bombs), nesting thousands deep and arbitrary text. Training itself is
replaced by a dry run that resolves the config exactly as ``api.train`` does
(:func:`deepfuse.api.training.resolve_config`: load, validate against the real signatures, fill
defaults), so every example stays fast; validation happens there before any data is read.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from deepfuse.cli.main import main

PATHS = [
    ("trainer", "epochs"),
    ("trainer", "batch_size"),
    ("trainer", "seed"),
    ("trainer", "optimizer"),
    ("trainer", "optimizer", "lr"),
    ("trainer", "metrics"),
    ("trainer", "l2"),
    ("name",),
    ("data", "features"),
    ("data", "limit"),
    ("data", "validation_split"),
    ("model",),
    ("model", "hidden"),
    ("model", "type"),
    ("model", "layers"),
    ("unknown",),
]
BASES = [
    {"data": {"train": "t.csv", "target": "y"}},
    {"data": {"dataset": "mnist"}},
    {"data": {"train": "t.csv", "target": "y"}, "model": {"type": "tabular"}},
]
NUMBERS = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from(["1e-3", "1E+400", ".inf", "-.nan", "0x1F", "1_000", "9" * 5000])
    | st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False).map(repr)
)
SCALARS = NUMBERS.map(str) | st.sampled_from(
    ["adam", "mlp", "tabular", "null", "true", "~", "'1e-3'", "relu", "Dense", "accuracy"]
)


def flow(value: object) -> str:
    return json.dumps(value)  # JSON is YAML flow syntax


def laughs(levels: int, width: int, leaf: str) -> str:
    parts = [f"&l0 [{', '.join([leaf] * width)}]"]
    parts += [f"&l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=6).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.dictionaries(
        st.sampled_from(["name", "lr", "units", "type", "hidden"]), SCALARS, max_size=3
    ).map(lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"),
    st.builds(laughs, st.integers(1, 12), st.integers(1, 12), SCALARS),  # aliases, up to bombs
    st.integers(1, 20_000).map(lambda d: "[" * d + "1" + "]" * d),  # deep
    st.integers(1, 6_000).map(lambda n: flow([4] * n)),  # long lists (limit 4096)
    st.text(max_size=40).map(flow),  # any text, quoted
    st.text(max_size=40),  # any text, raw: often not YAML at all
)


# Values that validate (the dry run then exits 0), written as users write them.
VALID = [
    (("trainer", "epochs"), "3"),
    (("trainer", "optimizer"), "{name: adam, lr: 1e-3}"),
    (("trainer", "optimizer", "lr"), "1e-3"),
    (("trainer", "l2"), "1e-4"),
    (("trainer", "metrics"), "[accuracy]"),
    (("trainer", "seed"), "7"),
    (("name",), "my-run"),
    (("data", "validation_split"), "0.2"),
    (("trainer", "batch_size"), "&b 64"),
]


def document(base: dict, path: tuple[str, ...], value: str) -> str:
    cfg = json.loads(json.dumps(base))
    node = cfg
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node.get(key, {}), dict) else {}
    node[path[-1]] = "__VALUE__"
    return yaml.safe_dump(cfg, sort_keys=False).replace("__VALUE__", value.replace("\n", " "))


OVERRIDES = st.lists(
    st.tuples(st.sampled_from(PATHS), VALUES).map(lambda kv: ".".join(kv[0]) + "=" + kv[1])
    | st.text(max_size=30),
    max_size=2,
)


@pytest.fixture
def dry_train(monkeypatch):
    """`api.train` replaced by the config resolution it starts with (no data read, no run)."""
    from deepfuse import api
    from deepfuse.api.training import RunResult, resolve_config

    def train(cfg, out_dir=None, **_):
        resolve_config(cfg)
        return RunResult(run_dir=Path(tempfile.gettempdir()) / "no-run", metrics={"test": {}})

    monkeypatch.setattr(api, "train", train)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    base=st.sampled_from(BASES[:2]) | st.just(BASES[2]),
    case=st.tuples(st.sampled_from(PATHS), VALUES) | st.sampled_from(VALID),
    overrides=OVERRIDES | st.just([]),
)
def test_train_on_generated_configs_exits_0_or_2_with_one_line(
    dry_train, capsys, base, case, overrides
):
    text = document(base, *case)
    with tempfile.TemporaryDirectory() as work:
        config = Path(work) / "c.yaml"
        config.write_text(text, encoding="utf-8")
        before = os.getcwd()
        os.chdir(work)
        start = time.perf_counter()
        try:
            code = main(["train", "c.yaml", *overrides])
        finally:
            elapsed = time.perf_counter() - start
            os.chdir(before)
        _, err = capsys.readouterr()
        assert sorted(os.listdir(work)) == ["c.yaml"]  # nothing written, not even runs/
    event(f"exit {code}")
    assert code in (0, 2), err
    if code == 2:
        assert err.startswith("deepfuse: error: ") and err.count("\n") == 1, err
        assert len(err) < 2_000
    else:
        assert "Traceback" not in err
    assert elapsed < 2.0, (elapsed, text[:200])  # memory: test_bounded_yaml measures the bombs
