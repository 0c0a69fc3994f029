"""A resolved config that cannot change: read-only mappings and tuples all the way down.

A run computes its config once (validated, defaults filled, completed from the data), freezes
it, writes it to ``config.yaml`` and builds everything from it; an attempt to change it later
raises ``TypeError`` instead of making ``config.yaml`` lie. :func:`thaw` gives a plain,
mutable deep copy for code that wants dicts and lists.

Example:
    >>> cfg = freeze({"trainer": {"metrics": ["accuracy"]}})
    >>> cfg["trainer"]["metrics"]
    ('accuracy',)
    >>> cfg["trainer"]["epochs"] = 3
    Traceback (most recent call last):
    ...
    TypeError: 'FrozenMapping' object does not support item assignment
    >>> thaw(cfg)
    {'trainer': {'metrics': ['accuracy']}}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["FrozenMapping", "freeze", "thaw"]


class FrozenMapping(Mapping):
    """A read-only mapping that pickles (a run's config travels to Ray workers and back)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"FrozenMapping({self._items!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMapping, (self._items,))


def freeze(obj: Any) -> Any:
    """Mappings become :class:`FrozenMapping`, lists and tuples become tuples."""
    if isinstance(obj, Mapping):
        return FrozenMapping({k: freeze(v) for k, v in obj.items()})
    if isinstance(obj, list | tuple):
        return tuple(freeze(v) for v in obj)
    return obj


def thaw(obj: Any) -> Any:
    """A plain deep copy: mappings become dicts, tuples and lists become lists."""
    if isinstance(obj, Mapping):
        return {k: thaw(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [thaw(v) for v in obj]
    return obj
