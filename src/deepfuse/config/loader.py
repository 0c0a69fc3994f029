"""Read YAML configs, apply ``key=value`` overrides, write resolved configs.

Pure: imports only the standard library, PyYAML and :mod:`deepfuse._utils`.

Example:
    >>> cfg = {"data": {"dataset": "mnist"}, "trainer": {"epochs": 10}}
    >>> apply_overrides(cfg, ["trainer.epochs=3", "model.filters=[32,64]"])
    {'data': {'dataset': 'mnist'}, 'trainer': {'epochs': 3}, 'model': {'filters': [32, 64]}}
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from deepfuse._utils.bounded import MAX_YAML_BYTES, BoundedSafeLoader, YAMLLimitError, read_bounded
from deepfuse._utils.errors import ConfigError, did_you_mean, format_message, short_repr
from deepfuse._utils.io import atomic_write_text
from deepfuse.config.frozen import thaw

__all__ = ["SECTIONS", "apply_overrides", "dump_config", "load_config", "parse_value"]

#: Top-level keys a config may have. ``name`` names the run directory.
SECTIONS = ("data", "model", "trainer", "name", "task")

_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
# Scientific notation that PyYAML's YAML 1.1 rules read as a string (they want a dot and a signed
# exponent: 1e-3 and 1.5e3 are strings there): a float in YAML 1.2 and to every user.
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


def _config_yaml(cls: type) -> type:
    """The YAML rules of a config, on a loader or dumper class (both must agree, so that a
    string such as ``'1e-3'`` is written quoted): PyYAML's safe rules, plus scientific
    notation as floats, minus YAML 1.1 timestamps (``2024-01-05`` stays a string; an invalid
    date such as ``2001-13-01`` failed with a ValueError)."""
    cls.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    cls.add_implicit_resolver(_FLOAT, _EXPONENT_FLOAT, list("-+0123456789."))
    return cls


@_config_yaml
class _ConfigSafeLoader(BoundedSafeLoader):
    """``yaml.safe_load`` with the config rules (see :func:`_config_yaml`) and the limits on
    size, depth and alias expansion of :mod:`deepfuse._utils.bounded`."""


@_config_yaml
class _ConfigSafeDumper(yaml.SafeDumper):
    """``yaml.safe_dump`` with the config rules (see :func:`_config_yaml`)."""


# Raised by PyYAML's constructors beside YAMLError: '!!int x' (ValueError), deep nesting.
_CONSTRUCT_ERRORS = (yaml.YAMLError, ValueError, TypeError, AttributeError, RecursionError)


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Load a YAML config file into a plain dict.

    Args:
        path: Path to a ``.yaml`` file whose top level is a mapping.

    Returns:
        The parsed mapping (an empty file gives ``{}``).

    Raises:
        ConfigError: The file is missing, unreadable, not valid YAML (the message names the
            line and column) or its top level is not a mapping.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "c.yaml")
        >>> _ = open(p, "w").write("trainer:\\n  epochs: 2\\n")
        >>> load_config(p)
        {'trainer': {'epochs': 2}}
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            format_message(f"Config file '{path}' does not exist.", fix="Check the path.")
        )
    try:
        data = read_bounded(path, MAX_YAML_BYTES, what="config file", error=ConfigError)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"Cannot read config file '{path}': {reason}.") from None
    try:
        cfg = yaml.load(text, Loader=_ConfigSafeLoader)
    except _CONSTRUCT_ERRORS as exc:
        raise ConfigError(_yaml_error_message(path, exc)) from None
    if cfg is None:
        return {}
    if not isinstance(cfg, dict):
        raise ConfigError(
            format_message(
                f"Config file '{path}' must contain a mapping of sections at the top level.",
                expected="keys such as 'data:', 'model:', 'trainer:'",
                got=type(cfg).__name__,
            )
        )
    return cfg


def _yaml_error_message(path: Path, exc: Exception) -> str:
    """One line naming the file, line and column of a YAML syntax error or refused document."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    if isinstance(exc, YAMLLimitError):
        key = f" (key '{exc.key}')" if exc.key and repr(exc.key) not in str(exc.problem) else ""
        return format_message(
            f"Config file '{path}' is refused{where}{key}: {exc.problem}.",
            fix="Write the values out plainly (limits: deepfuse._utils.bounded).",
        )
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return format_message(
        f"Invalid YAML in '{path}'{where}: {problem}.",
        fix="Fix the syntax there (check indentation, ':' after keys and closing brackets).",
    )


def parse_value(text: str) -> Any:
    """Parse an override value as a YAML scalar or flow collection.

    ``"3"`` → ``3``, ``"1e-3"`` → ``0.001`` (at any depth: ``"{lr: 1e-3}"``), ``"[64,32]"`` →
    ``[64, 32]``, ``"{name: adam}"`` → a dict, ``"null"`` → ``None``, ``"'1e-3'"`` (quoted) →
    the string; anything that is not valid YAML stays a string. Never raises.

    Example:
        >>> parse_value("[64,32]"), parse_value("{lr: 1e-3}"), parse_value("adam")
        ([64, 32], {'lr': 0.001}, 'adam')
    """
    try:
        return yaml.load(text, Loader=_ConfigSafeLoader)
    except _CONSTRUCT_ERRORS:
        return text


def apply_overrides(cfg: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``cfg`` with dotted ``key=value`` overrides applied.

    Missing intermediate mappings are created. A list element is addressed by its index
    (``model.layers.0.Dense.units=64``). Setting a sub-key of a string value turns the string into
    ``{"name": <string>}`` (``trainer.optimizer.lr=0.01`` on ``optimizer: adam``).

    Args:
        cfg: The config mapping (not modified).
        overrides: Strings ``"a.b.c=value"``; values are parsed by :func:`parse_value`.

    Returns:
        A new dict.

    Raises:
        ConfigError: An override has no ``=``, an empty key, an unknown top-level section,
            or walks through a value that is not a mapping or list.

    Example:
        >>> apply_overrides({"trainer": {"optimizer": "adam"}}, ["trainer.optimizer.lr=0.01"])
        {'trainer': {'optimizer': {'name': 'adam', 'lr': 0.01}}}
    """
    out: dict[str, Any] = thaw(cfg)  # new dicts and lists all the way down (frozen or not)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not sep or not key or any(not p for p in parts):
            raise ConfigError(
                format_message(
                    f"Invalid override {short_repr(item)}.",
                    expected="key=value with a dotted key",
                    fix="For example: trainer.epochs=3 or model.filters=[32,64].",
                )
            )
        if parts[0] not in SECTIONS:
            allowed = ", ".join(repr(s) for s in SECTIONS)
            raise ConfigError(
                f"Unknown config section {short_repr(parts[0])} in override {short_repr(item)}. "
                f"Allowed sections: {allowed}.{did_you_mean(parts[0], SECTIONS)}"
            )
        _set_path(out, parts, parse_value(raw.strip()), item)
    return out


def _set_path(node: Any, parts: list[str], value: Any, item: str) -> None:
    for i, part in enumerate(parts[:-1]):
        child = _get_child(node, part, item)
        if child is None:
            child = {}
        elif isinstance(child, str):
            child = {"name": child}  # optimizer: adam  +  optimizer.lr=..  ->  {name: adam, lr: ..}
        elif not isinstance(child, dict | list):
            where = ".".join(parts[: i + 1])
            raise ConfigError(
                f"Cannot set {short_repr(item)}: '{where}' holds {short_repr(child)}, not a mapping. "
                f"Set '{where}' itself, for example {where}={{...}}."
            )
        _put_child(node, part, child, item)
        node = child
    _put_child(node, parts[-1], value, item)


def _get_child(node: Any, part: str, item: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, item)]
    return node.get(part)


def _put_child(node: Any, part: str, value: Any, item: str) -> None:
    if isinstance(node, list):
        node[_index(node, part, item)] = value
    else:
        node[part] = value


def _index(node: list, part: str, item: str) -> int:
    if not re.fullmatch(r"-?[0-9]+", part) or not -len(node) <= int(part) < len(node):
        raise ConfigError(
            format_message(
                f"Cannot set {short_repr(item)}: {short_repr(part)} is not a valid index into a "
                f"list of {len(node)}.",
                expected=f"an integer from 0 to {len(node) - 1}",
            )
        )
    return int(part)


def dump_config(cfg: Mapping[str, Any], path: str | os.PathLike | None = None) -> str:
    """Serialise ``cfg`` as block-style YAML (keys in insertion order); write it atomically.

    Example:
        >>> print(dump_config({"trainer": {"epochs": 3}}), end="")
        trainer:
          epochs: 3
    """
    text = yaml.dump(
        _plain(cfg), Dumper=_ConfigSafeDumper, sort_keys=False, default_flow_style=False
    )
    if path is not None:
        atomic_write_text(path, text)
    return text


def _plain(obj: Any) -> Any:
    """Turn tuples/Paths/numpy scalars into YAML-safe builtins."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    return obj
