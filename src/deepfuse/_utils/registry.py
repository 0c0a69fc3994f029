"""One registry type for every "thing by name" table: layers, losses, metrics, optimizers, ...

A :class:`Registry` maps names (and aliases) to objects. ``get`` fails with the project's
:class:`~deepfuse._utils.errors.ConfigError`, listing the allowed names and a did-you-mean.
Lookups try the name as written first, then its *key* (``normalize(name)``), so a registry can be
case-insensitive (``str.lower``, the default) or looser (layers also ignore ``_`` and spaces).
``names()`` lists the names as they were registered. Torch-free on purpose: ``deepfuse.config``
and the CLI's ``info`` read registries without importing torch.

Example:
    >>> colours: Registry[str] = Registry("colour")
    >>> colours.register("red", "#f00", aliases=("rouge",))
    '#f00'
    >>> @colours.register("green")
    ... def green() -> str:
    ...     return "#0f0"
    >>> colours.get("RED"), colours.get("rouge"), colours.get("green")()
    ('#f00', '#f00', '#0f0')
    >>> colours.names(), "Green" in colours, len(colours)
    (['green', 'red', 'rouge'], True, 3)
    >>> colours.get("gren")
    Traceback (most recent call last):
    ...
    deepfuse._utils.errors.ConfigError: Unknown colour 'gren'. Allowed values: 'green', 'red', 'rouge'. Did you mean 'green'?
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar, overload

from deepfuse._utils.errors import ConfigError, format_message, invalid_choice

__all__ = ["Registry"]

T = TypeVar("T")
_MISSING: Any = object()


def _lower(name: str) -> str:
    return name.strip().lower()


class Registry(Generic[T]):
    """Objects by name, with aliases, a did-you-mean error and an optional loose key.

    Args:
        kind: What the entries are, singular (``"loss"``); used in error messages.
        normalize: Maps a name to its lookup key. Default: strip and lower-case, so lookups are
            case-insensitive. Pass ``None`` for exact names only.

    Registering a name that is already there replaces its entry (a user may override a built-in;
    a class redefined in a notebook replaces the old one).
    """

    def __init__(self, kind: str, *, normalize: Callable[[str], str] | None = _lower) -> None:
        self.kind = kind
        self._normalize = normalize or (lambda name: name)
        self._entries: dict[str, T] = {}  # every accepted name as written -> object
        self._keys: dict[str, str] = {}  # normalized key -> the name it was first written as

    @overload
    def register(self, name: str, *, aliases: Iterable[str] = ()) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, obj: T, *, aliases: Iterable[str] = ()) -> T: ...

    def register(self, name: str, obj: Any = _MISSING, *, aliases: Iterable[str] = ()) -> Any:
        """Register ``obj`` under ``name`` (and ``aliases``); without ``obj``, a decorator.

        Returns:
            ``obj`` itself (or, as a decorator, a function that registers and returns its
            argument), so ``@registry.register("name")`` leaves the decorated object unchanged.

        Raises:
            ConfigError: A name is not a non-empty string.

        Example:
            >>> r: Registry[int] = Registry("number")
            >>> r.register("one", 1, aliases=["un", "eins"])
            1
            >>> r.names()
            ['eins', 'one', 'un']
        """
        if obj is _MISSING:
            return lambda target: self.register(name, target, aliases=aliases)
        for each in (name, *aliases):
            if not isinstance(each, str) or not each.strip():
                raise ConfigError(
                    format_message(
                        f"Cannot register a {self.kind} under this name.",
                        expected="a non-empty string",
                        got=each,
                    )
                )
            self._entries[each] = obj
            self._keys.setdefault(self._normalize(each), each)
        return obj

    def unregister(self, name: str) -> T:
        """Remove ``name`` (one spelling: its aliases stay) and return what it named.

        Raises:
            ConfigError: No such name, as :meth:`get`.

        Example:
            >>> r: Registry[int] = Registry("number")
            >>> r.register("one", 1)
            1
            >>> r.unregister("ONE"), "one" in r
            (1, False)
        """
        found = self.canonical(name)
        obj = self._entries.pop(found)
        self._keys = {}
        for each in self._entries:  # rebuild: another spelling may share the normalized key
            self._keys.setdefault(self._normalize(each), each)
        return obj

    def get(self, name: str) -> T:
        """The object registered under ``name`` (as written, else by its normalized key).

        Raises:
            ConfigError: No such name; the message lists the allowed names and a did-you-mean.

        Example:
            >>> r: Registry[int] = Registry("number")
            >>> r.register("One", 1)
            1
            >>> r.get("one")
            1
        """
        return self._entries[self.canonical(name)]

    def canonical(self, name: str) -> str:
        """The spelling ``name`` was registered under (an alias stays the alias).

        Messages and per-entry tables use it, so ``"Adam"`` and ``" adam "`` both read ``'adam'``.

        Raises:
            ConfigError: No such name, as :meth:`get`.

        Example:
            >>> r: Registry[int] = Registry("number")
            >>> r.register("one", 1, aliases=["un"])
            1
            >>> r.canonical(" ONE "), r.canonical("Un")
            ('one', 'un')
        """
        found = self._find(name)
        if found is None:
            raise invalid_choice(self.kind, name, self.names())
        return found

    def names(self) -> list[str]:
        """Every accepted name (aliases included) as registered, sorted.

        Example:
            >>> Registry("thing").names()
            []
        """
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """``(name, object)`` for every accepted name (aliases included), sorted by name.

        Example:
            >>> r: Registry[int] = Registry("number")
            >>> r.register("two", 2, aliases=["deux"])
            2
            >>> r.items()
            [('deux', 2), ('two', 2)]
        """
        return [(n, self._entries[n]) for n in self.names()]

    def _find(self, name: object) -> str | None:
        if not isinstance(name, str):
            return None
        if name in self._entries:
            return name
        return self._keys.get(self._normalize(name))

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return self._find(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} names)"
