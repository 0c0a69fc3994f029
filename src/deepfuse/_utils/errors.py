"""One error hierarchy and one message template for the whole package.

Every user-facing error says *what happened*, *what was expected* and *how to fix it*.
The CLI maps :class:`UserError` to exit code 2 with the one-line message on stderr.

Example:
    >>> from deepfuse._utils.errors import ConfigError, format_message
    >>> str(ConfigError(format_message("Unknown key 'trainer.epoch'.", fix="Did you mean 'trainer.epochs'?")))
    "Unknown key 'trainer.epoch'. Did you mean 'trainer.epochs'?"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "DataError",
    "DeepfuseError",
    "MissingDependencyError",
    "NaNLossError",
    "UserError",
    "did_you_mean",
    "format_message",
    "invalid_choice",
]


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


def format_message(
    what: str, *, expected: str | None = None, got: object = None, fix: str | None = None
) -> str:
    """Build a one-line error message from its parts.

    Args:
        what: What happened, as a sentence.
        expected: What was expected instead (optional).
        got: The offending value (optional; shown with ``repr``).
        fix: How to fix it (optional).

    Returns:
        A single line: ``"<what> Expected <expected>; got <got>. <fix>"``.

    Example:
        >>> format_message("Bad 'lr'.", expected="a positive float", got=-1, fix="Use lr=0.001.")
        "Bad 'lr'. Expected a positive float; got -1. Use lr=0.001."
    """
    parts = [what.strip()]
    if expected is not None and got is not None:
        parts.append(f"Expected {expected}; got {got!r}.")
    elif expected is not None:
        parts.append(f"Expected {expected}.")
    elif got is not None:
        parts.append(f"Got {got!r}.")
    if fix:
        parts.append(fix.strip())
    return " ".join(p for p in parts if p).replace("\n", " ")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""`` when nothing is close.

    Example:
        >>> did_you_mean("adma", ["adam", "sgd"])
        " Did you mean 'adam'?"
    """
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
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
        f"Unknown {kind} {name!r}. Allowed values: {allowed}.{did_you_mean(str(name), choices)}"
    )
