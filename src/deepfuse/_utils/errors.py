"""One error hierarchy and one message template for the whole package.

Every user-facing error says *what happened*, *what was expected* and *how to fix it*.
The CLI maps :class:`UserError` to exit code 2 with the one-line message on stderr. A value shown
in a message goes through :func:`short_repr`: at most :data:`MAX_REPR` characters, however large,
deep or recursive the value (formatting an error never takes more than a moment).

Example:
    >>> from deepfuse._utils.errors import ConfigError, format_message
    >>> str(ConfigError(format_message("Unknown key 'trainer.epoch'.", fix="Did you mean 'trainer.epochs'?")))
    "Unknown key 'trainer.epoch'. Did you mean 'trainer.epochs'?"
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MAX_REPR",
    "ConfigError",
    "DataError",
    "DeepfuseError",
    "MissingDependencyError",
    "NaNLossError",
    "UserError",
    "did_you_mean",
    "format_message",
    "invalid_choice",
    "short_repr",
]

#: Longest ``repr`` of a value in an error message (longer ones end with ``...``).
MAX_REPR = 200


class DeepfuseError(Exception):
    """Base class of every error deepfuse raises on purpose."""


class UserError(DeepfuseError, ValueError):
    """A mistake the user can fix (bad argument, bad file, bad config). CLI exit code 2."""


class ConfigError(UserError):
    """A configuration key or value is invalid."""


class DataError(UserError):
    """Input data is missing, malformed or inconsistent (names the file, column and row)."""


class NaNLossError(UserError):
    """The loss became NaN or infinite; training stopped at the step named in the message."""


class MissingDependencyError(UserError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class _ShortRepr(reprlib.Repr):
    """``reprlib`` limits (few items, shallow levels, short strings) for any mapping and for
    integers too long to print (``repr`` of an int over 4300 digits raises ValueError)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxstring, self.maxother = 3, 80, 80
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 6

    def repr1(self, x: Any, level: int) -> str:
        if isinstance(x, int) and not isinstance(x, bool) and x.bit_length() > 200:
            digits = int(x.bit_length() * 0.30103) + 1
            return f"<{'-' if x < 0 else ''}int of about {digits} digits>"
        if isinstance(x, Mapping) and not isinstance(x, dict):  # read-only config mappings
            return self.repr_dict(x, level)  # type: ignore[arg-type]
        return super().repr1(x, level)


_SHORT = _ShortRepr()


def short_repr(value: object, limit: int = MAX_REPR) -> str:
    """``repr(value)`` cut to ``limit`` characters, built without formatting the whole value.

    Example:
        >>> short_repr([1, 2, 3])
        '[1, 2, 3]'
        >>> short_repr(list(range(10**6)))
        '[0, 1, 2, 3, 4, 5, ...]'
        >>> short_repr(10**5000)
        '<int of about 5001 digits>'
        >>> a = []; a.append(a); short_repr(a)
        '[[[[...]]]]'
    """
    try:
        text = _SHORT.repr(value)
    except Exception:  # a broken __repr__ must not hide the error being reported
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_message(
    what: str, *, expected: str | None = None, got: object = None, fix: str | None = None
) -> str:
    """Build a one-line error message from its parts.

    Args:
        what: What happened, as a sentence.
        expected: What was expected instead (optional).
        got: The offending value (optional; shown with :func:`short_repr`).
        fix: How to fix it (optional).

    Returns:
        A single line: ``"<what> Expected <expected>; got <got>. <fix>"``.

    Example:
        >>> format_message("Bad 'lr'.", expected="a positive float", got=-1, fix="Use lr=0.001.")
        "Bad 'lr'. Expected a positive float; got -1. Use lr=0.001."
    """
    parts = [what.strip()]
    if expected is not None and got is not None:
        parts.append(f"Expected {expected}; got {short_repr(got)}.")
    elif expected is not None:
        parts.append(f"Expected {expected}.")
    elif got is not None:
        parts.append(f"Got {short_repr(got)}.")
    if fix:
        parts.append(fix.strip())
    return " ".join(p for p in parts if p).replace("\n", " ")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""`` when nothing is close.

    Example:
        >>> did_you_mean("adma", ["adam", "sgd"])
        " Did you mean 'adam'?"
    """
    # A long name is never close to a registered one; difflib's cost grows with its length.
    name = name if isinstance(name, str) and len(name) <= MAX_REPR else short_repr(name)
    close = difflib.get_close_matches(name, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def invalid_choice(
    kind: str, name: object, choices: Iterable[str], *, error: type[UserError] = ConfigError
) -> UserError:
    """Build the error for an unknown name (optimizer, loss, metric, layer, ...).

    Example:
        >>> str(invalid_choice("optimizer", "adma", ["adam", "sgd"]))
        "Unknown optimizer 'adma'. Allowed values: 'adam', 'sgd'. Did you mean 'adam'?"
    """
    choices = sorted(choices)
    allowed = ", ".join(repr(c) for c in choices)
    return error(
        f"Unknown {kind} {short_repr(name)}. Allowed values: {allowed}."
        f"{did_you_mean(name if isinstance(name, str) else short_repr(name), choices)}"
    )
