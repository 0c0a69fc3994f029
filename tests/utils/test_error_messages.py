"""Error messages truncate values (issue 11, finding 4: formatting an error took the repr of a
billion-laughs value, 3.7 GB and a MemoryError; an int over 4300 digits made repr raise)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepfuse._utils.errors import (
    MAX_REPR,
    ConfigError,
    did_you_mean,
    format_message,
    invalid_choice,
    short_repr,
)


def shared_bomb(levels: int = 30, width: int = 10) -> list:
    """10**30 elements once expanded, a few hundred objects in memory (shared references)."""
    value: list = ["lol"] * width
    for _ in range(levels):
        value = [value] * width
    return value


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("boom")


@pytest.mark.parametrize(
    "value",
    [
        shared_bomb(),
        list(range(10**6)),
        "x" * 10**7,
        10**20_000,
        -(10**20_000),
        {str(i): i for i in range(10**5)},
        BrokenRepr(),
    ],
    ids=["bomb", "long-list", "long-str", "huge-int", "huge-negative-int", "big-dict", "broken"],
)
def test_short_repr_is_bounded_and_fast(value):
    start = time.perf_counter()
    text = short_repr(value)
    assert time.perf_counter() - start < 0.5
    assert len(text) <= MAX_REPR and "\n" not in text


def test_short_repr_of_recursive_and_frozen_values():
    from deepfuse.config import freeze

    a: list = []
    a.append(a)
    assert short_repr(a) == "[[[[...]]]]"
    assert short_repr(freeze({"a": [1, 2]})) == "{'a': (1, 2)}"  # frozen lists are tuples
    assert short_repr(freeze({"a": shared_bomb(levels=3)})).startswith("{'a': ((")


def test_short_values_are_unchanged():
    for value in (-1, 0.001, "adam", [64, 32], {"name": "sgd"}, None, True):
        assert short_repr(value) == repr(value)


def test_the_one_template_truncates_every_value():
    start = time.perf_counter()
    message = format_message(
        "Invalid value for 'trainer.epochs'.", expected="an int", got=shared_bomb()
    )
    assert time.perf_counter() - start < 0.5
    assert len(message) < 2 * MAX_REPR and message.startswith("Invalid value for 'trainer.epochs'.")
    error = invalid_choice("optimizer", "a" * 10**6, ["adam", "sgd"])
    assert isinstance(error, ConfigError) and len(str(error)) < 2 * MAX_REPR
    assert did_you_mean(10**10_000, ["adam"]) == ""  # str() of such an int raises ValueError


@settings(max_examples=100, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_subnormal=False) | st.text(),
        lambda inner: st.lists(inner, max_size=50) | st.dictionaries(st.text(), inner, max_size=50),
        max_leaves=300,
    )
)
def test_short_repr_of_generated_values(value):
    text = short_repr(value)
    assert len(text) <= MAX_REPR
    if len(repr(value)) <= 40 and not isinstance(value, dict | list):
        assert text == repr(value)


def test_validation_of_a_shared_bomb_value_is_one_short_line():
    """A value built with shared references (a config made in Python, not read from YAML)."""
    from deepfuse.config import validate
    from deepfuse.models.from_config import config_signatures

    real_signatures = config_signatures()
    cfg = {"data": {"dataset": "mnist"}, "trainer": {"epochs": shared_bomb()}, "name": "x"}
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        validate(cfg, real_signatures)
    assert time.perf_counter() - start < 0.5 and len(str(info.value)) < 2 * MAX_REPR
