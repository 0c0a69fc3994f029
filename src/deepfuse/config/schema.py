"""Validate a config and fill in its defaults; keys come from signatures (see ``signatures.py``).

Errors name the key path, the bad value, the allowed values and the closest match.

Example:
    >>> def fit(x=None, *, epochs=1, batch_size=32): ...
    >>> validate({"data": {"dataset": "mnist"}, "trainer": {"epochs": 3}}, {"fit": fit})
    >>> validate({"data": {"dataset": "mnist"}, "trainer": {"epoch": 3}}, {"fit": fit})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    deepfuse._utils.errors.ConfigError: Unknown key 'trainer.epoch'. Allowed keys in 'trainer': ... Did you mean 'trainer.epochs'?
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from deepfuse._utils.errors import ConfigError, did_you_mean, format_message, short_repr
from deepfuse.config.constraints import CHECKS, model_size_problem
from deepfuse.config.loader import SECTIONS
from deepfuse.config.signatures import (
    accepts_any,
    choices_of,
    defaults_of,
    params_of,
)

__all__ = ["DATA_KEYS", "resolve", "trainer_keys", "validate"]

#: Keys of the ``data`` section (the data API's own options go under ``data.preprocessing``).
DATA_KEYS = (
    "dataset",
    "train",
    "test",
    "target",
    "features",
    "validation_split",
    "test_split",
    "limit",
    "preprocessing",
    "streaming",
    "shuffle_buffer",
    "stream_threshold_mb",
    "kind",
    "image_size",
    "mode",
    "quarantine",
    "encoding",
    "delimiter",
)
DATA_DEFAULTS = {"validation_split": 0.1}
TEST_SPLIT_DEFAULT = 0.2

# fit() arguments that the API supplies itself; a config cannot set them.
_FIT_DATA_ARGS = ("x", "y", "validation_data", "checkpoint_dir", "resume")
# Config-only trainer keys (not Model.compile/fit arguments); "auto" is resolved from the data by
# deepfuse.models.from_config.trainer_section and recorded concretely in config.yaml.
_TRAINER_EXTRA = {
    "early_stopping": "auto",
    "time_budget": "auto",
    "search": "auto",
    "baselines": "auto",
    "threshold": "auto",
}
# Model.compile/fit arguments whose config default is "auto" (chosen from the data; a Python
# caller of fit() keeps Keras' defaults).
_TRAINER_AUTO = ("optimizer", "epochs", "batch_size", "schedule", "class_weight")


def trainer_keys(signatures: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """Keys allowed in ``trainer`` with their defaults: the ``compile`` + ``fit`` arguments
    of the given signatures, or ``None`` (not checked) when neither is given.

    Example:
        >>> def fit(x=None, y=None, *, epochs=1, batch_size=32): ...
        >>> trainer_keys({"fit": fit})
        {'epochs': 'auto', 'batch_size': 'auto', 'early_stopping': 'auto', 'time_budget': 'auto', 'search': 'auto', 'baselines': 'auto', 'threshold': 'auto'}
        >>> trainer_keys() is None
        True
    """
    parts = [signatures[p] for p in ("compile", "fit") if (signatures or {}).get(p) is not None]
    if not parts:
        return None
    keys: dict[str, Any] = {}
    for fn in parts:
        defaults = defaults_of(fn)
        for name in params_of(fn):
            if name not in _FIT_DATA_ARGS:
                keys[name] = defaults.get(name)
    keys.update(_TRAINER_EXTRA)
    for name in _TRAINER_AUTO:
        if name in keys:
            keys[name] = "auto"
    return keys


def validate(cfg: Mapping[str, Any], signatures: Mapping[str, Any] | None = None) -> None:
    """Check every section of ``cfg``; raise :class:`ConfigError` on the first problem.

    Args:
        cfg: The config mapping (sections ``data``, ``model``, ``trainer``, ``name``).
        signatures: Optional real callables and registries from the API layer: ``compile``,
            ``fit``, ``early_stopping``, ``preprocessor`` (callables); ``models``, ``layers``,
            ``datasets``, ``optimizers``, ``losses``, ``metrics``, ``schedules``, ``callbacks``
            (mapping name → callable, or a list of names); ``feature_types`` and
            ``target_types`` (the values ``data.features`` takes). Missing entries are not
            checked.

    Raises:
        ConfigError: Naming the key path, the bad value, the allowed values and a close match.

    Example:
        >>> validate({"data": {"dataset": "mnst"}}, {"datasets": ["mnist", "fashion_mnist"]})
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.ConfigError: Invalid value for 'data.dataset': 'mnst'. Allowed values: 'fashion_mnist', 'mnist'. Did you mean 'mnist'?
    """
    sig = dict(signatures or {})
    _check_mapping("config", cfg)
    _check_keys("", cfg, SECTIONS)
    if "name" in cfg:
        _check_value("name", cfg["name"])
    if cfg.get("task") is not None:  # what the run learns: a name or {name: ..., options}
        _check_named("task", cfg["task"], choices_of(sig.get("tasks")))
    _validate_data(cfg.get("data"), sig)
    _validate_model(cfg.get("model"), sig)
    _validate_trainer(cfg.get("trainer"), sig)


def resolve(cfg: Mapping[str, Any], signatures: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate ``cfg`` and return a copy with every default filled in.

    ``trainer.validation_split`` is moved to ``data.validation_split`` (one place for one idea).

    Without ``compile``/``fit`` signatures the ``trainer`` section is kept as given.

    Example:
        >>> def fit(x=None, *, epochs=1, batch_size=32): ...
        >>> r = resolve({"data": {"dataset": "mnist"}, "trainer": {"epochs": 2}}, {"fit": fit})
        >>> r["trainer"]["epochs"], r["trainer"]["batch_size"], r["data"]["validation_split"]
        (2, 'auto', 0.1)
    """
    validate(cfg, signatures)
    out: dict[str, Any] = copy.deepcopy(dict(cfg))
    data = out.setdefault("data", {})
    trainer = dict(out.get("trainer") or {})
    if "validation_split" in trainer:
        split = trainer.pop("validation_split")
        if "validation_split" in data and data["validation_split"] != split:
            raise ConfigError(
                f"Both 'data.validation_split' ({short_repr(data['validation_split'])}) and "
                f"'trainer.validation_split' ({short_repr(split)}) are set. Set only 'data.validation_split'."
            )
        data["validation_split"] = split
    for key, default in DATA_DEFAULTS.items():
        data.setdefault(key, default)
    if data.get("train") and not data.get("test"):
        data.setdefault("test_split", TEST_SPLIT_DEFAULT)
    keys = trainer_keys(signatures)
    if keys is not None:
        trainer = {k: copy.deepcopy(trainer.get(k, d)) for k, d in keys.items()}
    trainer.pop("validation_split", None)
    out["trainer"] = trainer
    out.setdefault("model", None)
    return {k: out[k] for k in ("name", "task", "data", "model", "trainer") if k in out}


# ----------------------------------------------------------------------------- sections


def _validate_data(data: Any, sig: Mapping[str, Any]) -> None:
    if data is None:
        raise ConfigError(
            "The config has no 'data' section. Add 'data: {dataset: mnist}' or "
            "'data: {train: train.csv, target: label}'."
        )
    _check_mapping("data", data)
    _check_keys("data", data, DATA_KEYS)
    for key, value in data.items():
        if f"data.{key}" in CHECKS:
            _check_value(f"data.{key}", value)
    has_dataset, has_train = data.get("dataset") is not None, data.get("train") is not None
    if has_dataset == has_train:
        what = "both" if has_dataset else "neither"
        raise ConfigError(
            f"The 'data' section has {what} of 'data.dataset' and 'data.train'. Set exactly one: "
            "a built-in dataset (data.dataset: mnist) or your own file (data.train: train.csv)."
        )
    if has_dataset:
        _check_named("data.dataset", data["dataset"], choices_of(sig.get("datasets")))
        for key in ("target", "features", "test", "test_split", "kind"):
            if data.get(key) is not None:
                raise ConfigError(
                    f"'data.{key}' applies to your own files (data.train), not to the built-in "
                    f"dataset {short_repr(_name_of(data['dataset']))}. Remove 'data.{key}'."
                )
    elif data.get("target") is None and data.get("kind") is None:
        raise ConfigError(
            "'data.train' is set but 'data.target' is missing. Name the column to predict, "
            "for example data.target=label; or, for a folder with one subfolder per class, set "
            "data.kind (image_folder, text_folder)."
        )
    _validate_kind(data, choices_of(sig.get("data_kinds")))
    if data.get("test") is not None and data.get("test_split") is not None:
        raise ConfigError(
            "Both 'data.test' and 'data.test_split' are set. Use 'data.test' (a file) or "
            "'data.test_split' (a held-out fraction of data.train), not both."
        )
    features = data.get("features")
    if features is not None:
        _check_mapping("data.features", features)
        for col, spec in features.items():
            # {col: text} or {col: {type: text, max_len: 100}}; the target may take a task type.
            path = f"data.features.{col}"
            kind = spec.get("type") if isinstance(spec, Mapping) else spec
            allowed = sig.get("target_types" if col == data.get("target") else "feature_types")
            if allowed is not None and kind not in allowed:
                _bad_choice(f"{path}.type" if isinstance(spec, Mapping) else path, kind, allowed)
    pre = data.get("preprocessing")
    if pre is not None:
        _check_mapping("data.preprocessing", pre)
        if sig.get("preprocessor") is not None:
            # Column types belong in data.features, not in the Preprocessor's own 'overrides'.
            _check_kwargs("data.preprocessing", pre, sig["preprocessor"], skip=("overrides",))


def _validate_kind(data: Mapping[str, Any], kinds: dict[str, Any] | None) -> None:
    """``data.kind`` names a route chosen by kind (``kinds``: name -> route class); the keys
    that only some kinds take (the class's ``own_keys``) and those a kind refuses (its
    ``refused_keys``: key -> reason) are checked against it. Not checked without ``kinds``."""
    if kinds is None:
        return
    kind = data.get("kind")
    if kind is not None and (not isinstance(kind, str) or kind not in kinds):
        _bad_choice("data.kind", kind, kinds)
    route = kinds.get(kind) if kind is not None else None
    for key, reason in getattr(route, "refused_keys", {}).items():
        if data.get(key) is not None:
            raise ConfigError(
                f"'data.{key}' does not apply to data.kind={kind}: {reason}. Remove 'data.{key}'."
            )
    for key in DATA_KEYS:
        owners = [name for name, r in kinds.items() if key in getattr(r, "own_keys", ())]
        if owners and data.get(key) is not None and kind not in owners:
            raise ConfigError(
                f"'data.{key}' applies to data.kind={' or '.join(owners)}. Remove "
                f"'data.{key}' or set data.kind."
            )


def _validate_model(model: Any, sig: Mapping[str, Any]) -> None:
    if model is None:
        return  # the API picks a model from the data
    _check_mapping("model", model)
    problem = model_size_problem(model)
    if problem is not None:
        where, expected, value = problem
        raise ConfigError(
            format_message(
                f"Invalid value for '{where}'.",
                expected=expected,
                got=value,
                fix="Use a smaller model (limits: deepfuse.config.constraints).",
            )
        )
    kind = model.get("type")
    if not isinstance(kind, str) or not kind:
        raise ConfigError(
            format_message(
                "'model.type' is missing.",
                expected="a zoo model name (for example 'mlp', 'cnn') or 'sequential'",
                got=kind,
                fix="Remove the 'model' section to let deepfuse choose a model from the data.",
            )
        )
    if kind == "sequential":
        _check_keys("model", model, ("type", "layers"))
        _validate_layers(model.get("layers"), sig)
        return
    zoo = choices_of(sig.get("models"))
    if zoo is None:
        return
    if kind not in zoo:
        _bad_choice("model.type", kind, [*zoo, "sequential"])
    if zoo[kind] is not None:
        kwargs = {k: v for k, v in model.items() if k != "type"}
        _check_kwargs("model", kwargs, zoo[kind])


def _validate_layers(layers: Any, sig: Mapping[str, Any]) -> None:
    if not isinstance(layers, list) or not layers:
        raise ConfigError(
            format_message(
                "'model.layers' must be a non-empty list of layers.",
                expected="for example [{Dense: {units: 128, activation: relu}}, {Dense: {units: 10}}]",
                got=layers,
            )
        )
    registry = choices_of(sig.get("layers"))
    for i, spec in enumerate(layers):
        path = f"model.layers.{i}"
        if isinstance(spec, str):
            spec = {spec: {}}
        if not isinstance(spec, Mapping) or len(spec) != 1:
            raise ConfigError(
                format_message(
                    f"Invalid layer at '{path}'.",
                    expected="a one-key mapping {LayerName: {arguments}} or a layer name",
                    got=spec,
                )
            )
        ((name, kwargs),) = spec.items()
        kwargs = {} if kwargs is None else kwargs
        _check_mapping(f"{path}.{name}", kwargs)
        if registry is None:
            continue
        normalised = {_norm(k): v for k, v in registry.items()}
        if _norm(name) not in normalised:
            _bad_choice(f"{path}", name, registry, kind="layer")
        if normalised[_norm(name)] is not None:
            _check_kwargs(f"{path}.{name}", kwargs, normalised[_norm(name)])


def _validate_trainer(trainer: Any, sig: Mapping[str, Any]) -> None:
    if trainer is None:
        return
    _check_mapping("trainer", trainer)
    keys = trainer_keys(sig)
    if keys is not None:
        _check_keys("trainer", trainer, keys)
    for key, value in trainer.items():
        if f"trainer.{key}" in CHECKS:
            _check_value(f"trainer.{key}", value)
    for key, registry in (
        ("optimizer", "optimizers"),
        ("loss", "losses"),
        ("schedule", "schedules"),
    ):
        if trainer.get(key) is not None and trainer.get(key) != "auto":
            _check_named(f"trainer.{key}", trainer[key], choices_of(sig.get(registry)))
    for key, registry in (("metrics", "metrics"), ("callbacks", "callbacks")):
        items = trainer.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            items = [items]  # metrics: accuracy  ==  metrics: [accuracy]
        for i, item in enumerate(items):
            _check_named(f"trainer.{key}.{i}", item, choices_of(sig.get(registry)))
    stop = trainer.get("early_stopping")
    if stop is not None and not isinstance(stop, bool) and stop != "auto":
        _check_mapping("trainer.early_stopping", stop)
        if sig.get("early_stopping") is not None:
            _check_kwargs("trainer.early_stopping", stop, sig["early_stopping"])


# ----------------------------------------------------------------------------- helpers


def _name_of(spec: Any) -> Any:
    return spec.get("name") if isinstance(spec, Mapping) else spec


def _norm(name: str) -> str:
    """Names are matched like the registries match them: case, '_' and '-' do not matter."""
    return name.replace("_", "").replace("-", "").lower()


def _check_named(path: str, spec: Any, registry: dict[str, Any] | None) -> None:
    """A component given as ``name``, ``{name: ..., **kwargs}`` or ``{<name>: {kwargs}}``."""
    if isinstance(spec, Mapping) and "name" not in spec and len(spec) == 1:
        ((name, kwargs),) = spec.items()  # {early_stopping: {patience: 3}}
        spec = {"name": name, **(kwargs or {})} if isinstance(kwargs, Mapping | None) else spec
    if isinstance(spec, Mapping):
        name = spec.get("name")
        if not isinstance(name, str):
            raise ConfigError(
                format_message(
                    f"'{path}' is a mapping without a 'name'.",
                    expected="{name: <name>, <option>: <value>, ...}",
                    got=dict(spec),
                )
            )
        kwargs = {k: v for k, v in spec.items() if k != "name"}
    elif isinstance(spec, str):
        name, kwargs = spec, {}
    else:
        raise ConfigError(
            format_message(f"Invalid value for '{path}'.", expected="a name or a mapping", got=spec)
        )
    if registry is None:
        return
    normalised = {_norm(k): v for k, v in registry.items()}
    if _norm(name) not in normalised:
        _bad_choice(path if isinstance(spec, str) else f"{path}.name", name, registry)
    if kwargs and normalised[_norm(name)] is not None:
        _check_kwargs(path, kwargs, normalised[_norm(name)])


def _check_mapping(path: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(
            format_message(f"'{path}' must be a mapping of keys to values.", got=value)
        )


def _check_keys(path: str, mapping: Mapping[str, Any], allowed: Any) -> None:
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            key = key if isinstance(key, str) and len(key) <= 80 else short_repr(key, 80)
            full = f"{path}.{key}" if path else str(key)
            prefix = f"{path}." if path else ""
            where = f" in '{path}'" if path else ""
            names = ", ".join(repr(a) for a in sorted(allowed))
            hint = did_you_mean(full, [prefix + a for a in allowed])
            raise ConfigError(f"Unknown key '{full}'. Allowed keys{where}: {names}.{hint}")


def _check_kwargs(path: str, kwargs: Mapping[str, Any], fn: Any, skip: tuple = ()) -> None:
    """Keys of ``kwargs`` must be parameters of ``fn`` (unless it takes ``**kwargs``)."""
    if accepts_any(fn):
        return
    _check_keys(path, kwargs, [p for p in params_of(fn) if p not in skip])


def _check_value(path: str, value: Any) -> None:
    check, expected = CHECKS[path]
    if not check(value):
        raise ConfigError(
            format_message(f"Invalid value for '{path}'.", expected=expected, got=value)
        )


def _bad_choice(path: str, value: Any, choices: Any, kind: str = "value") -> None:
    choices = sorted(str(c) for c in choices)
    allowed = ", ".join(repr(c) for c in choices)
    raise ConfigError(
        f"Invalid {kind} for '{path}': {short_repr(value)}. Allowed values: {allowed}."
        f"{did_you_mean(value if isinstance(value, str) else short_repr(value), choices)}"
    )
