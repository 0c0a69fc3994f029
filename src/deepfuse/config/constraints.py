"""Declared value constraints (scikit-learn ``_param_validation`` style): key path → check.

Only keys whose type a signature cannot express are listed; names (optimizers, layers, ...) are
checked against registries in ``schema.py``.

Example:
    >>> check, expected = CHECKS["trainer.epochs"]
    >>> check(3), check(0), expected
    (True, False, 'auto or an integer >= 1')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["CHECKS"]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _positive_int(v: Any) -> bool:
    return _is_int(v) and v >= 1


def _non_negative(v: Any) -> bool:
    return _is_num(v) and v >= 0


def _fraction(v: Any) -> bool:
    return _is_num(v) and 0 <= v < 1


def _grad_clip(v: Any) -> bool:
    if isinstance(v, Mapping):  # {norm: 1.0} or {value: 0.5}
        return (
            len(v) == 1
            and next(iter(v)) in ("norm", "value")
            and _grad_clip(next(iter(v.values())))
        )
    return v is None or (_is_num(v) and v > 0)


def _codec(v: Any) -> bool:
    """A name Python's codecs know (``latin-1``, ``cp1252``, ``utf-16``, ...)."""
    import codecs

    if not _non_empty_str(v):
        return False
    try:
        codecs.lookup(v)
    except LookupError:
        return False
    return True


def _non_empty_str(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != ""


CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "trainer.epochs": (lambda v: v == "auto" or _positive_int(v), "auto or an integer >= 1"),
    "trainer.batch_size": (lambda v: v == "auto" or _positive_int(v), "auto or an integer >= 1"),
    "trainer.threshold": (
        lambda v: v is None or v == "auto" or (_is_num(v) and 0 < v < 1),
        "auto (chosen on the validation rows), null (0.5) or a number in (0, 1)",
    ),
    "trainer.class_weight": (
        lambda v: v is None or v in ("auto", "balanced") or isinstance(v, Mapping),
        "auto, balanced, null or {class index: weight}",
    ),
    "trainer.initial_epoch": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "trainer.l1": (_non_negative, "a number >= 0"),
    "trainer.l2": (_non_negative, "a number >= 0"),
    "trainer.grad_clip": (_grad_clip, "null, a number > 0, {norm: n} or {value: v}"),
    "trainer.seed": (lambda v: v is None or _is_int(v), "null or an integer"),
    "trainer.checkpoint_every": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "trainer.keep_checkpoints": (_positive_int, "an integer >= 1"),
    "trainer.shuffle": (lambda v: isinstance(v, bool), "true or false"),
    "trainer.verbose": (
        lambda v: v == "auto" or isinstance(v, bool) or _is_int(v),
        "0, 1, 2 or auto",
    ),
    "trainer.validation_split": (_fraction, "a number in [0, 1)"),
    "trainer.time_budget": (
        lambda v: v is None or v == "auto" or (_is_num(v) and v > 0),
        "null (no limit), auto or a number of seconds > 0",
    ),
    "trainer.search": (lambda v: v == "auto" or isinstance(v, bool), "auto, true or false"),
    "trainer.baselines": (lambda v: v == "auto" or isinstance(v, bool), "auto, true or false"),
    "data.encoding": (
        lambda v: v is None or v == "auto" or _codec(v),
        "auto or an encoding name (utf-8, latin-1, cp1252, utf-16, ...)",
    ),
    "data.delimiter": (
        lambda v: v is None or v == "auto" or (isinstance(v, str) and len(v) == 1),
        "auto or one character (',', ';', '\\t', '|')",
    ),
    "data.validation_split": (_fraction, "a number in [0, 1)"),
    "data.test_split": (lambda v: _is_num(v) and 0 < v < 1, "a number in (0, 1)"),
    "data.limit": (lambda v: v is None or _positive_int(v), "null or an integer >= 1"),
    "data.train": (_non_empty_str, "a file path or glob"),
    "data.test": (lambda v: v is None or _non_empty_str(v), "a file path"),
    "data.target": (_non_empty_str, "a column name"),
    "data.streaming": (lambda v: v == "auto" or isinstance(v, bool), "auto, true or false"),
    "data.shuffle_buffer": (_positive_int, "an integer >= 1 (rows)"),
    "data.stream_threshold_mb": (
        lambda v: v is None or (_is_num(v) and v > 0),
        "null or a number > 0",
    ),
    "name": (
        lambda v: _non_empty_str(v) and "/" not in v and len(v) <= 100,
        "a name of at most 100 characters without '/'",
    ),
}


# ----------------------------------------------------------------------------- model sizes
#: Largest integer accepted anywhere in the ``model`` section (a width, a vocabulary, a count):
#: one 2**24 x 2**24 float32 weight matrix is already 1 PB, so anything larger is a typo.
MAX_MODEL_INT = 2**24
#: Longest list accepted in the ``model`` section (hidden sizes, layers, cardinalities).
MAX_MODEL_LIST = 4096


def model_size_problem(model: Any, path: str = "model") -> tuple[str, str, Any] | None:
    """The first size in ``model`` over the limits, as ``(key path, expected, value)``, or None.

    Checked before anything is built, so ``hidden: [100000000000]`` is refused in
    microseconds instead of asking the allocator for 800 GB.

    Example:
        >>> model_size_problem({"type": "mlp", "hidden": [64, 32]}) is None
        True
        >>> model_size_problem({"type": "mlp", "hidden": [10**11]})
        ('model.hidden.0', 'an integer <= 16777216 (2**24)', 100000000000)
        >>> model_size_problem({"hidden": [4] * 20000})[:2]
        ('model.hidden', 'a list of at most 4096 items')
    """
    stack: list[tuple[str, Any]] = [(path, model)]
    while stack:  # iterative: the loader bounds the depth, the walk needs no recursion
        where, value = stack.pop()
        if _is_int(value) and abs(value) > MAX_MODEL_INT:
            return where, f"an integer <= {MAX_MODEL_INT} (2**24)", value
        if isinstance(value, list | tuple):
            if len(value) > MAX_MODEL_LIST:
                return where, f"a list of at most {MAX_MODEL_LIST} items", value
            stack.extend((f"{where}.{i}", v) for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, Mapping):
            stack.extend((f"{where}.{k}", v) for k, v in reversed(list(value.items())))
    return None
