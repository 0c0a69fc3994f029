"""Property tests of the ``key=value`` override parser (what ``deepfuse train CONFIG k=v`` runs).

Whatever text a user types, :func:`apply_overrides` returns a new config or raises
:class:`ConfigError` (exit 2 with one line), never another exception (exit 1, "a bug"). Values
written as JSON (a subset of YAML flow) and numbers written as Python prints them come back
exactly; the input config is never modified, frozen or not.
"""

from __future__ import annotations

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepfuse._utils.errors import ConfigError
from deepfuse.config import SECTIONS, apply_overrides, dump_config, freeze, load_config, thaw
from deepfuse.config.loader import parse_value

# Text YAML can hold at all: no control, surrogate or unassigned characters (the YAML reader
# rejects those before parsing; such a value stays the raw string, tested separately).
PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs", "Cn"))
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False)
    | st.text(PRINTABLE, max_size=12)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(PRINTABLE, max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
# A key part: no '.', '=' or surrounding space (those separate parts, key and value).
PARTS = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Zs"), blacklist_characters=".="),
    min_size=1,
    max_size=8,
)
KEYS = st.builds(
    lambda s, rest: ".".join([s, *rest]),
    st.sampled_from(SECTIONS[:3]),
    st.lists(PARTS, min_size=1, max_size=3),
)
# Configs as YAML files give them (mappings, lists, strings, numbers), plain or frozen.
CONFIGS = st.dictionaries(st.sampled_from(SECTIONS), VALUES, max_size=4)
ANY_TEXT = st.text(max_size=40)
OVERRIDES = st.one_of(
    ANY_TEXT,
    st.builds(lambda k, v: f"{k}={v}", KEYS, ANY_TEXT),
    st.builds(
        lambda k, v: f"{k}={v}",
        KEYS,
        st.sampled_from(
            [
                "[",
                "{a: [1",
                "!!int x",
                "2001-13-01",
                "*x",
                "&a [*a]",
                "!!python/name:os.system",
                "? [1]\n: 2",
                "{[1]: 2}",
                "--- a\n--- b",
            ]
        ),
    ),
    st.builds(
        lambda k, i: f"{k}.{i}=1",
        st.sampled_from(["model.layers", "data.train"]),
        st.sampled_from(["--1", "²", "-0", "١", "+1", " 1", "01", "1e1"]),
    ),
)


def get_path(cfg, key):
    node = cfg
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=CONFIGS, overrides=st.lists(OVERRIDES, max_size=3), frozen=st.booleans())
def test_any_text_gives_a_config_or_a_config_error(cfg, overrides, frozen):
    given_cfg = freeze(cfg) if frozen else cfg
    before = copy.deepcopy(cfg)
    try:
        out = apply_overrides(given_cfg, overrides)
    except ConfigError:
        return
    finally:
        assert thaw(given_cfg) == before  # never modified
    assert isinstance(out, dict) and set(out) <= set(SECTIONS)


@settings(max_examples=300, deadline=None)
@given(key=KEYS, value=VALUES, frozen=st.booleans())
def test_json_values_round_trip(key, value, frozen):
    cfg = freeze({"trainer": {"epochs": 3}}) if frozen else {"trainer": {"epochs": 3}}
    out = apply_overrides(cfg, [f"{key}={json.dumps(value, ensure_ascii=False)}"])
    assert get_path(out, key) == value
    if not key.startswith("trainer.epochs."):
        assert out["trainer"]["epochs"] == 3  # the rest of the config is kept


@settings(max_examples=300, deadline=None)
@given(
    number=st.integers() | st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False)
)
def test_numbers_as_python_prints_them(number):
    # 1e-05, 1e+16, -2.5, 3: what a user copies from a script is the number it printed
    assert parse_value(repr(number)) == number
    assert apply_overrides({}, [f"trainer.lr={number!r}"])["trainer"]["lr"] == number


@settings(max_examples=200, deadline=None)
@given(mantissa=st.integers(0, 999), digits=st.integers(0, 3), exponent=st.integers(-12, 12))
def test_scientific_notation_is_a_float_at_any_depth(mantissa, digits, exponent):
    text = f"{mantissa}{'.' + '5' * digits if digits else ''}e{exponent}"
    out = apply_overrides(
        {}, [f"trainer.optimizer={{name: adam, lr: {text}}}", f"trainer.x=[{text}]"]
    )
    assert out["trainer"]["optimizer"]["lr"] == float(text)
    assert out["trainer"]["x"] == [float(text)]


@settings(max_examples=200, deadline=None)
@given(
    cfg=st.dictionaries(
        st.sampled_from(SECTIONS[:3]), st.dictionaries(PARTS, VALUES, max_size=3), max_size=3
    )
)
def test_dump_and_load_keep_every_value(cfg, tmp_path_factory):
    # config.yaml is written with dump_config and read back with load_config (resume, evaluate)
    path = tmp_path_factory.mktemp("cfg") / "config.yaml"
    dump_config(cfg, path)
    assert load_config(path) == cfg


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1e-3", 0.001),  # a float, as YAML 1.2 and every user reads it
        ("[1e-3, 2E+2]", [0.001, 200.0]),
        ("'1e-3'", "1e-3"),  # quoted: the string
        ("2001-13-01", "2001-13-01"),  # not a date (YAML 1.1 timestamps made it a ValueError)
        ("2024-01-05", "2024-01-05"),
        ("!!int x", "!!int x"),  # a tag that cannot construct: the raw text
        ("[", "["),
        ("adam", "adam"),
        ("0.5", 0.5),
        (".inf", math.inf),
    ],
)
def test_parse_value_examples(text, expected):
    assert parse_value(text) == expected


@pytest.mark.parametrize("index", ["--1", "²", "1e1", "x"])
def test_a_bad_list_index_is_a_config_error(index):
    with pytest.raises(ConfigError, match="not a valid index"):
        apply_overrides({"model": {"layers": [1, 2]}}, [f"model.layers.{index}=3"])


def test_a_frozen_config_takes_overrides():
    # regression: nested FrozenMapping sections were "not a mapping"
    out = apply_overrides(
        freeze({"trainer": {"epochs": 1, "optimizer": "adam"}}), ["trainer.epochs=2"]
    )
    assert out == {"trainer": {"epochs": 2, "optimizer": "adam"}} and type(out["trainer"]) is dict


def test_a_config_file_reads_scientific_notation(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "trainer:\n  optimizer: {name: adam, lr: 1e-3}\n  note: '1e-3'\nname: 2001-13-01\n"
    )
    assert load_config(path) == {
        "trainer": {"optimizer": {"name": "adam", "lr": 0.001}, "note": "1e-3"},
        "name": "2001-13-01",
    }
    path.write_text("trainer: {epochs: !!int x}\n")
    with pytest.raises(ConfigError, match="Invalid YAML"):
        load_config(path)


def test_the_config_yaml_rules_stay_safe():
    import yaml

    from deepfuse.config.loader import _ConfigSafeLoader

    assert issubclass(_ConfigSafeLoader, yaml.SafeLoader)
    assert parse_value("!!python/object/apply:os.system ['true']") == (
        "!!python/object/apply:os.system ['true']"
    )
