"""Where config keys come from: constructor and function signatures, not a second schema tree.

The config package stays import-light (no torch), so the real callables (``Model.compile``,
``Model.fit``, the zoo builders, layer classes, optimizers, ...) are handed in as a *signatures*
mapping by the code that may import them
(:func:`deepfuse.models.from_config.config_signatures`). A section whose callables are not given
is not checked: there is no hand-written copy to drift from the real API.

Example:
    >>> sorted(params_of(lambda optimizer="adam", loss=None, *args, **kw: None))
    ['loss', 'optimizer']
    >>> accepts_any(lambda **kw: None)
    True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "accepts_any",
    "choices_of",
    "params_of",
    "signature_of",
]


def signature_of(fn: Callable[..., Any] | inspect.Signature) -> inspect.Signature | None:
    """``inspect.signature`` that returns ``None`` for builtins without one."""
    if isinstance(fn, inspect.Signature):
        return fn
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def params_of(fn: Callable[..., Any] | inspect.Signature) -> dict[str, inspect.Parameter]:
    """Named parameters a config may set: everything except ``self``/``*args``/``**kwargs``.

    Example:
        >>> list(params_of(lambda a, b=2, *args, **kw: None))
        ['a', 'b']
    """
    sig = signature_of(fn)
    if sig is None:
        return {}
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return {n: p for n, p in sig.parameters.items() if n != "self" and p.kind not in skip}


def accepts_any(fn: Callable[..., Any] | inspect.Signature) -> bool:
    """True when ``fn`` takes ``**kwargs`` (or has no signature), so any key is allowed."""
    sig = signature_of(fn)
    if sig is None:
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())


def defaults_of(fn: Callable[..., Any] | inspect.Signature) -> dict[str, Any]:
    """Parameters with a default value, as ``{name: default}``.

    Example:
        >>> defaults_of(lambda a, b=2: None)
        {'b': 2}
    """
    return {
        n: p.default for n, p in params_of(fn).items() if p.default is not inspect.Parameter.empty
    }


def choices_of(registry: Any) -> dict[str, Callable[..., Any] | None] | None:
    """Normalise a registry (mapping name → callable, or an iterable of names) to a dict.

    Returns ``None`` when no registry was given, meaning "do not check names".

    Example:
        >>> choices_of(["adam", "sgd"])
        {'adam': None, 'sgd': None}
    """
    if registry is None:
        return None
    if isinstance(registry, Mapping):
        return {str(k): v for k, v in registry.items()}
    if isinstance(registry, Iterable) and not isinstance(registry, str):
        return {str(k): None for k in registry}
    raise TypeError(f"A registry must be a mapping or a list of names; got {type(registry)!r}.")
