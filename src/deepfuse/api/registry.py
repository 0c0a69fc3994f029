"""The real signatures and registries that :func:`deepfuse.config.validate` checks a config against.

``deepfuse.config`` never imports torch; this module collects, from the packages that do, the
callables whose parameters *are* the config schema: ``Model.compile``/``Model.fit`` (trainer keys),
the zoo builders (``model`` keys), layer classes (``model.layers``), dataset loaders,
``Preprocessor`` (``data.preprocessing``), ``EarlyStopping`` and the names of optimizers, losses,
metrics, schedules and callbacks.

Example:
    >>> sig = signatures()
    >>> "epochs" in __import__("inspect").signature(sig["fit"]).parameters
    True
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["signatures"]


def _attr(module: str, name: str) -> Any:
    """``module.name`` or ``None`` when that part of deepfuse is not available."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _names(module: str, *candidates: str) -> Any:
    """A registry (dict or list of names) from the first attribute of ``module`` that exists."""
    for name in candidates:
        value = _attr(module, name)
        if value is None:
            continue
        if callable(value) and not isinstance(value, dict):
            try:
                value = value()
            except TypeError:
                continue
        return value
    return None


def _optional(registry: Any) -> dict[str, None] | None:
    """Names only: their builders validate their own options (aliases, Keras spellings)."""
    return None if registry is None else dict.fromkeys(registry)


def _layer_signature(cls: Any, base: Any) -> inspect.Signature | None:
    """A layer's constructor parameters, following ``**kwargs`` up the class hierarchy to
    ``Layer.__init__`` (name, input_shape, trainable), so a misspelt option is caught."""
    params: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            sig = inspect.signature(init)
        except (TypeError, ValueError):
            return None
        for p in sig.parameters.values():
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                kind = p.KEYWORD_ONLY if params else p.kind
                params.setdefault(p.name, p.replace(kind=kind))
        open_ended = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        if not open_ended or klass is base:
            break
    else:
        return None
    ordered = sorted(params.values(), key=lambda p: p.kind)  # a valid parameter order
    return inspect.Signature(ordered)


def signatures() -> dict[str, Any]:
    """Collect the signature mapping for :func:`deepfuse.config.validate`.

    Returns:
        ``{"compile": Model.compile, "fit": Model.fit, "models": {...}, "layers": {...},
        "datasets": {...}, "optimizers": {...}, ...}``; entries that cannot be found are left out
        (they are then not checked).
    """
    from deepfuse.api.data import DATASET_LOADERS

    out: dict[str, Any] = {"datasets": DATASET_LOADERS}
    model = _attr("deepfuse.models.model", "Model")
    if model is not None:
        out["compile"], out["fit"] = model.compile, model.fit
    zoo_names = _names("deepfuse.models.zoo", "names")
    if zoo_names is not None:
        # The built-in builders are attributes of the zoo package; registered ones: names only.
        out["models"] = {n: _attr("deepfuse.models.zoo", n) for n in zoo_names}
    layer_names = _names("deepfuse.layers", "names")
    if layer_names is not None:
        classes = _attr("deepfuse.layers.base", "LAYER_CLASSES") or {}
        base = _attr("deepfuse.layers.base", "Layer")
        # aliases: names only (their builders still check the options)
        out["layers"] = {
            n: _layer_signature(classes[n], base) if n in classes else None for n in layer_names
        }
    entries: dict[str, tuple[str, tuple[str, ...]]] = {
        "optimizers": ("deepfuse.training.optim", ("OPTIMIZERS",)),
        "losses": ("deepfuse.losses", ("names", "_REGISTRY")),
        "metrics": ("deepfuse.metrics", ("names", "METRICS", "_REGISTRY")),
        "schedules": ("deepfuse.training.schedules", ("names", "SCHEDULES")),
        "callbacks": ("deepfuse.training.callbacks", ("names", "CALLBACKS", "REGISTRY")),
    }
    for key, (module, candidates) in entries.items():
        registry = _optional(_names(module, *candidates))
        if registry is not None:
            if key == "schedules":
                registry.update(dict.fromkeys(_attr(module, "_ALIASES") or {}))
            out[key] = registry
    stop: Callable[..., Any] | None = _attr("deepfuse.training.callbacks", "EarlyStopping")
    if stop is not None:
        out["early_stopping"] = stop
    pre = _attr("deepfuse.data", "Preprocessor")
    if pre is not None:
        out["preprocessor"] = pre
    return out
