"""Layers by name: ``get``, ``serialize``, ``deserialize`` and ``register`` for custom layers.

Every :class:`~deepfuse.layers.Layer` subclass registers itself under its class name; Keras
aliases (``MaxPooling2D``, ``BatchNormalization`` ...) and snake_case names (``"max_pool2d"``)
resolve to the same classes.

Example:
    >>> from deepfuse import layers
    >>> layer = layers.get("Dense", units=4)
    >>> layers.serialize(layer)["class_name"]
    'Dense'
    >>> type(layers.deserialize(layers.serialize(layer))).__name__
    'Dense'
"""

from __future__ import annotations

from typing import Any

from deepfuse._utils.errors import ConfigError
from deepfuse.layers.base import AMBIGUOUS_NAMES, LAYER_CLASSES, Layer
from deepfuse.layers.keras_api import missing_config_args

__all__ = [
    "LAYER_CLASSES",
    "deserialize",
    "get",
    "names",
    "register",
    "register_keras_serializable",
    "serialize",
]


def register(cls: type[Layer], *aliases: str) -> type[Layer]:
    """Register a custom layer class (and optional aliases) so configs can name it.

    Subclasses of ``Layer`` are registered under their class name automatically; use this for
    extra names. Returns ``cls`` so it also works as a decorator.

    Example:
        >>> from deepfuse import layers
        >>> @register
        ... class Scaled(layers.Dense): ...
        >>> _ = register(Scaled, "ScaledDense")
        >>> type(layers.get("scaled_dense", units=2)).__name__
        'Scaled'
    """
    return LAYER_CLASSES.register(cls.__name__, cls, aliases=aliases)


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Any:
    """Keras' decorator: register a layer class under ``name`` (default: the class name).

    ``"package>name"`` (Keras' registered name) is registered too, so configs written by either
    spelling load.

    Example:
        >>> from deepfuse import layers
        >>> @register_keras_serializable(package="demo")
        ... class Doubler(layers.Layer):
        ...     def call(self, inputs):
        ...         return inputs * 2
        >>> type(layers.get("demo>Doubler")).__name__
        'Doubler'
    """

    def decorator(cls: type[Layer]) -> type[Layer]:
        key = name or cls.__name__
        return LAYER_CLASSES.register(key, cls, aliases=[f"{package}>{key}"])

    return decorator


def names() -> list[str]:
    """All registered layer names (class names and aliases), sorted.

    Example:
        >>> "Dense" in names()
        True
    """
    return LAYER_CLASSES.names()


def serialize(layer: Layer) -> dict[str, Any]:
    """``{"class_name": ..., "config": {...}}`` for a layer (JSON-able for built-in options)."""
    if not isinstance(layer, Layer):
        raise ConfigError(
            f"serialize() takes a deepfuse Layer; got {type(layer).__name__}. Plain "
            "torch modules are saved by their state_dict only."
        )
    config = layer.get_config()
    missing = missing_config_args(layer, config)
    if missing:
        cls = type(layer).__name__
        raise ConfigError(
            f"Cannot save layer {cls} '{layer.name}': its constructor takes "
            f"{', '.join(repr(m) for m in missing)} but get_config() does not return them. "
            f"Add get_config(self) returning {{**super().get_config(), {missing[0]!r}: ...}}."
        )
    return {"class_name": type(layer).__name__, "config": config}


def deserialize(
    config: dict[str, Any], custom_objects: dict[str, type[Layer]] | None = None
) -> Layer:
    """Build a layer from :func:`serialize` output.

    Args:
        config: ``{"class_name": ..., "config": {...}}``.
        custom_objects: Keras-style ``{"ClassName": cls}`` for classes not registered.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConfigError(
            f"A layer config must be a dict with 'class_name' and 'config'; got {config!r}."
        )
    name = config["class_name"]
    if custom_objects and name in custom_objects:
        cls = custom_objects[name]
    elif isinstance(name, str) and name in AMBIGUOUS_NAMES:
        raise ConfigError(
            f"Several layer classes are named {name!r} ({', '.join(sorted(AMBIGUOUS_NAMES[name]))}); "
            f"say which one the saved model means: custom_objects={{{name!r}: {name}}}."
        )
    elif isinstance(name, str) and name in LAYER_CLASSES:
        cls = LAYER_CLASSES.get(name)
    else:
        raise ConfigError(
            f"Unknown layer class {name!r} in the config. If it is your own Layer subclass, "
            "define (import) it before loading: subclasses register themselves by class name; "
            f"or call deepfuse.layers.register({name}) / pass custom_objects={{{name!r}: {name}}}."
        )
    options = config.get("config") or {}
    try:
        return cls.from_config(dict(options))
    except TypeError as exc:
        raise ConfigError(f"Bad config for layer {config['class_name']!r}: {exc}.") from exc


def get(identifier: str | dict[str, Any] | Layer, **kwargs: Any) -> Layer:
    """A layer from a name (with constructor ``kwargs``), a serialized dict, or a Layer.

    Example:
        >>> get({"class_name": "Dropout", "config": {"rate": 0.5}}).rate
        0.5
    """
    if isinstance(identifier, Layer):
        return identifier
    if isinstance(identifier, dict):
        if "class_name" in identifier:
            return deserialize(identifier)
        options = dict(identifier)
        name = options.pop("name", None) or options.pop("type", None)
        if name is None:
            raise ConfigError("A layer dict needs 'class_name' (with 'config') or 'type'.")
        return get(name, **options, **kwargs)
    if isinstance(identifier, str):
        cls = LAYER_CLASSES.get(identifier)
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"Bad arguments for layer {identifier!r}: {exc}.") from exc
    raise ConfigError(f"A layer must be a name, a config dict or a Layer; got {identifier!r}.")
