"""Bounded parsing: the one place that holds the limits on the JSON and YAML deepfuse reads.

Every JSON document (``model.json``, ``metrics.json``, checkpoint manifest and state, the
safetensors header, ...) is parsed by :func:`loads_json` (files by
:func:`deepfuse._utils.io.read_json`), every YAML document (configs, ``key=value`` overrides) by a
loader derived from :class:`BoundedSafeLoader`. The limits, all checked *before* the value is
built, so that a small hostile file can never take gigabytes or minutes:

================================  =================  ============================================
limit                             value              why
================================  =================  ============================================
:data:`MAX_JSON_BYTES`            256 MB             checked (``fstat``) before a file is read
:data:`MAX_YAML_BYTES`            2 MB               a config is a few KB; a run's with 10,000
                                                     columns listed is about 200 KB
:data:`MAX_YAML_NODES`            100,000 values     PyYAML is pure Python (~50,000 values a
                                                     second): this bounds the time to ~2 s
:data:`MAX_DEPTH`                 100 levels         deepfuse writes at most ~10; deeper input
                                                     only serves to exhaust the stack
:data:`MAX_ALIAS_NODES`           10,000 values      what ``*alias`` references add once
                                                     expanded (the "billion laughs" bomb: 500
                                                     bytes that expand to 10^9 values)
================================  =================  ============================================

A document over a limit raises a :class:`~deepfuse._utils.errors.UserError` (``DataError`` unless
the caller names another) in one line: what was refused, the limit, where.

Example:
    >>> loads_json(b'{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> loads_json("[" * 500 + "]" * 500, what="metrics file")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    deepfuse._utils.errors.DataError: The metrics file is nested deeper than 100 levels ...
    >>> import yaml
    >>> bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\\n" + "".join(
    ...     f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\\n" for p, c in zip("abcde", "bcdef"))
    >>> yaml.load(bomb, Loader=BoundedSafeLoader)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    deepfuse._utils.bounded.YAMLLimitError: 'f' expands to more than 10000 values ...
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import Any

import yaml

from deepfuse._utils.errors import DataError, UserError

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_JSON_BYTES",
    "MAX_YAML_BYTES",
    "MAX_YAML_NODES",
    "BoundedSafeLoader",
    "YAMLLimitError",
    "loads_json",
    "read_bounded",
]

#: Largest JSON file read (model.json, metrics.json, state.json, manifest.json, ...).
MAX_JSON_BYTES = 256_000_000
#: Largest YAML file read (a config or a run's config.yaml).
MAX_YAML_BYTES = 2_000_000
#: Most values (scalars, lists, mappings) in one YAML document, aliases counted once.
MAX_YAML_NODES = 100_000
#: Deepest nesting of lists and mappings accepted in JSON and YAML.
MAX_DEPTH = 100
#: Most values that YAML ``*alias`` references may add once expanded.
MAX_ALIAS_NODES = 10_000

# ----------------------------------------------------------------------------- files


def read_bounded(
    path: str | os.PathLike, limit: int, *, what: str, error: type[UserError] = DataError
) -> bytes:
    """The bytes of the regular file ``path``, refused before reading when over ``limit``.

    The size is taken from the open file (``fstat``) and at most ``limit + 1`` bytes are read,
    so a file that grows while it is read is refused too.

    Raises:
        UserError (``error``): The file is missing, not a regular file or over ``limit`` bytes.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
        >>> _ = open(p, "w").write("12345")
        >>> read_bounded(p, 10, what="text file")
        b'12345'
        >>> read_bounded(p, 4, what="text file")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: The text file '...a.txt' has 5 bytes (limit 4); ...
    """
    path = Path(path)
    if not path.is_file():  # a FIFO or a device is never opened (open() would block on one)
        state = "is not a regular file" if path.exists() else "is missing"
        raise error(f"The {what} '{path}' {state}.")
    with open(path, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):  # replaced between the check and the open
            raise error(f"The {what} '{path}' is not a regular file.")
        data = fh.read(limit + 1) if info.st_size <= limit else b""
    size = max(info.st_size, len(data))
    if size > limit:
        raise error(
            f"The {what} '{path}' has {size} bytes (limit {limit}); it is not a deepfuse file."
        )
    return data


# ----------------------------------------------------------------------------- JSON

# A JSON string (escapes included); the bytes that are not brackets; brackets as 2 (open), 0 (close).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def _json_too_deep(data: bytes, limit: int) -> bool:
    """True when ``data`` nests lists/objects deeper than ``limit``: a pre-scan at C speed
    (strings removed, brackets kept) then a running level that stops at the first excess.
    Unbalanced brackets are a syntax error, left to the JSON parser to report."""
    steps = _JSON_STRING.sub(b"", data).translate(_STEP, _NOT_BRACKET)
    return any(level > limit for level in accumulate(step - 1 for step in steps))


def loads_json(
    data: bytes | str,
    *,
    what: str = "JSON document",
    source: str | os.PathLike | None = None,
    error: type[UserError] = DataError,
) -> Any:
    """Parse JSON with a depth limit (:data:`MAX_DEPTH`) checked before parsing.

    Args:
        data: The document (UTF-8 bytes or text).
        what: What it is, for the message ("checkpoint state", "safetensors header").
        source: The file it came from, named in the message.
        error: The error class raised.

    Raises:
        UserError (``error``): Not UTF-8, not JSON, nested too deep, or an integer too long
            to convert (over 4300 digits).

    Example:
        >>> loads_json('{"lr": 1e-3}')
        {'lr': 0.001}
        >>> loads_json(b"{", what="run file", source="m.json")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: The run file 'm.json' is not valid JSON (...). ...
    """
    name = f"The {what} '{source}'" if source is not None else f"The {what}"
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if _json_too_deep(raw, MAX_DEPTH):
        raise error(
            f"{name} is nested deeper than {MAX_DEPTH} levels (the limit); deepfuse never "
            "writes such a file. It is corrupt or crafted: do not use it."
        )
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: int digits
        reason = " ".join(str(exc).split())[:200]
        raise error(f"{name} is not valid JSON ({reason}). It is truncated or corrupt.") from None


# ----------------------------------------------------------------------------- YAML


class YAMLLimitError(yaml.MarkedYAMLError):
    """A YAML document over a limit of this module (depth, alias expansion).

    ``problem`` says which limit, ``key`` names the key path (``"trainer.epochs"``) where known.
    """

    def __init__(self, problem: str, mark: Any = None, key: str | None = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.key = key


class BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a document over the limits before constructing it.

    The node graph is composed first (aliases are shared nodes there, so it stays as small as
    the text); nesting deeper than :data:`MAX_DEPTH` or more than :data:`MAX_YAML_NODES`
    values stop the composer, then the graph is
    measured as if every alias were expanded: more than :data:`MAX_ALIAS_NODES` added values,
    an expanded depth over :data:`MAX_DEPTH` or an alias inside itself raise
    :class:`YAMLLimitError` naming the key. Python objects are only built after that.
    """

    max_depth = MAX_DEPTH
    max_nodes = MAX_YAML_NODES
    max_alias_nodes = MAX_ALIAS_NODES

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # PyYAML's recursive composer
        self._depth += 1
        self._nodes += 1
        try:
            if self._nodes > self.max_nodes:
                raise YAMLLimitError(
                    f"it holds more than {self.max_nodes} values (the limit)",
                    self.peek_event().start_mark,
                )
            if self._depth > self.max_depth:
                raise YAMLLimitError(
                    f"it is nested deeper than {self.max_depth} levels (the limit)",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            _measure(node, self.max_depth, self.max_alias_nodes)
        return node


_CAP = 10**15  # expanded sizes are capped: a chain of aliases can double 1,000 times


def _children(node: yaml.Node) -> Iterator[tuple[str | None, yaml.Node]]:
    """``(key, child)`` pairs; the key is a scalar mapping key, else ``None``."""
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            yield None, child
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield None, key
            yield (str(key.value) if isinstance(key, yaml.ScalarNode) else None), value


def _measure(root: yaml.Node, max_depth: int, max_alias_nodes: int) -> None:
    """Raise :class:`YAMLLimitError` when ``root`` expanded is too deep or too large.

    ``size[id(node)]`` is the number of values ``node`` stands for once aliases are expanded
    (memoised, so a shared node is measured once: the work is linear in the text).
    """
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    active: set[int] = set()

    def visit(node: yaml.Node, depth: int, path: list[str]) -> None:
        key = id(node)
        if key in active:
            raise YAMLLimitError(
                "an alias refers to a value that contains it (a recursive structure)",
                node.start_mark,
                ".".join(path) or None,
            )
        if key not in size:
            if depth > max_depth:
                raise YAMLLimitError(
                    f"once its aliases are expanded it is nested deeper than {max_depth} levels "
                    "(the limit)",
                    node.start_mark,
                    ".".join(path) or None,
                )
            active.add(key)
            total, tallest = 1, 0
            for name, child in _children(node):
                visit(child, depth + 1, [*path, name] if name is not None else path)
                total = min(_CAP, total + size[id(child)])
                tallest = max(tallest, height[id(child)])
            active.discard(key)
            size[key], height[key] = total, tallest + 1
        if depth + height[key] - 1 > max_depth:
            raise YAMLLimitError(
                f"once its aliases are expanded it is nested deeper than {max_depth} levels "
                "(the limit)",
                node.start_mark,
                ".".join(path) or None,
            )

    visit(root, 1, [])
    if size[id(root)] - len(size) > max_alias_nodes:
        where, node = _largest_key(root, size, max_alias_nodes)
        raise YAMLLimitError(
            f"{where!r} expands to more than {max_alias_nodes} values through '*alias' "
            "references (the limit; a 'billion laughs' bomb)",
            node.start_mark,
            where,
        )


def _largest_key(root: yaml.Node, size: dict[int, int], limit: int) -> tuple[str, yaml.Node]:
    """The deepest mapping key path whose value alone expands past ``limit``."""
    path: list[str] = []
    node = root
    while isinstance(node, yaml.MappingNode):
        big = [
            (k, v)
            for k, v in node.value
            if isinstance(k, yaml.ScalarNode) and size.get(id(v), 0) > limit
        ]
        if not big:
            break
        key, node = max(big, key=lambda kv: size[id(kv[1])])
        path.append(str(key.value))
    return (".".join(path) or "the document"), node
