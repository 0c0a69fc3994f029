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
    TypeError: 'mappingproxy' object does not support item assignment
    >>> thaw(cfg)
    {'trainer': {'metrics': ['accuracy']}}
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["freeze", "thaw"]


def freeze(obj: Any) -> Any:
    """Mappings become read-only ``MappingProxyType``, lists and tuples become tuples."""
    if isinstance(obj, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in obj.items()})
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
