"""A config's ``model`` and ``trainer`` sections → a compiled :class:`~deepfuse.models.Model`.

Three steps, each on plain values:

* :func:`model_section` completes ``model:`` from the data: no section → a zoo model picked from
  the data (images → ``cnn``, a text column → ``bag``, any other table → ``tabular``); the sizes
  that follow from the data (number of outputs, input shape, the feature schema) fill the builder
  parameters the config leaves out. The result is what the run records in ``config.yaml``.
* :func:`trainer_section` fills the task's default loss and metrics (and ``from_logits`` for a
  zoo model's Keras probability loss).
* :func:`build_compiled_model` builds, names and compiles the model the completed sections say;
  it reads them and never changes them.

:func:`config_signatures` hands config validation the real callables and registries whose
parameters and names *are* the schema (``Model.compile``/``Model.fit``, zoo builders, layer
classes, optimizers, losses, ...): :mod:`deepfuse.config` itself never imports torch.

``data`` arguments are duck-typed :class:`deepfuse.data.routes.Prepared` objects (``kind``,
``task``, ``features``, ``num_classes``, ``train``, ``preprocessor``, ``target``).

Example:
    >>> from types import SimpleNamespace as NS
    >>> data = NS(kind="table", task="binary", features={"age": "numeric"}, num_classes=2,
    ...           preprocessor=None, train={}, val=None, rows=None, classes=[0, 1], target="y")
    >>> model_section(None, data)
    {'type': 'tabular', 'out_features': 1}
    >>> trainer_section({"loss": None, "metrics": None, "epochs": 3}, data, "tabular")
    {'loss': 'binary_cross_entropy', 'metrics': ['accuracy'], 'epochs': 3}
    >>> "epochs" in __import__("inspect").signature(config_signatures()["fit"]).parameters
    True
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from deepfuse._utils.errors import ConfigError
from deepfuse.models import layout

__all__ = [
    "build_compiled_model",
    "config_signatures",
    "default_loss",
    "default_metrics",
    "model_section",
    "trainer_section",
]


def default_model_type(kind: str, features: Mapping[str, str]) -> str:
    """Zoo name for data without a ``model`` section."""
    if kind == "image" or "image" in features.values():
        return "cnn"
    if "text" in features.values():
        return "bag"  # fastText-style, over every column; the recurrent ``text`` is an option
    return "tabular"


def default_loss(task: str) -> str:
    """Loss for a task; classification losses take logits (a final softmax/sigmoid is fused)."""
    return {"binary": "binary_cross_entropy", "multiclass": "cross_entropy"}.get(task, "mse")


def default_metrics(task: str) -> list[str]:
    """Metrics reported when the config names none."""
    return ["accuracy"] if task in ("binary", "multiclass") else ["mae"]


def output_units(data: Any) -> int:
    """Output width: 1 for binary (sigmoid) and regression, else the number of classes."""
    return data.num_classes if data.task == "multiclass" else 1


def _data_context(data: Any) -> dict[str, Any]:
    """Builder arguments that follow from the data (JSON-able: recorded in config.yaml)."""
    units = output_units(data)
    ctx: dict[str, Any] = {"out_features": units, "num_classes": units, "task": data.task}
    if data.kind == "image":
        shape = [int(s) for s in data.train["x"].shape[1:]]  # (C, H, W)
        ctx.update(input_shape=shape, in_channels=shape[0])
    if data.preprocessor is not None:
        inputs = data.preprocessor.inputs()  # per input key: shape, cardinalities, vocab_size
        ctx["num_numeric"] = int(inputs.get("numeric", {}).get("shape", [0])[0])
        ctx["cardinalities"] = [
            int(c) for c in inputs.get("categorical", {}).get("cardinalities", [])
        ]
        vocab = {k: int(spec["vocab_size"]) for k, spec in inputs.items() if "vocab_size" in spec}
        if vocab:
            ctx["vocab_size"] = max(vocab.values())
            ctx["vocab_sizes"] = vocab  # per text column (``bag``)
    return ctx


def model_section(
    spec: Mapping[str, Any] | None, data: Any, *, default_type: str | None = None
) -> dict[str, Any]:
    """The ``model`` section a run uses: the config's, or ``default_type`` (else one picked
    from the data), with the data-derived builder arguments it leaves out filled in
    (``sequential``: as given)."""
    default_type = default_type or default_model_type(data.kind, data.features)
    spec = dict(spec) if spec else {"type": default_type}
    if spec["type"] == "sequential":
        return spec
    from deepfuse.models.zoo import MODELS

    # An unknown type is left for the zoo to report when the model is built.
    builder = MODELS.get(spec["type"]) if spec["type"] in MODELS else None
    try:
        params = inspect.signature(builder).parameters if builder is not None else {}
    except (TypeError, ValueError):
        params = {}
    for key, value in _data_context(data).items():
        if key not in spec and key in params:
            spec[key] = value
    return spec


def trainer_section(trainer: Mapping[str, Any], data: Any, model_type: str) -> dict[str, Any]:
    """``trainer`` completed for ``data`` (a copy): the task's default loss and metrics, and
    every ``auto`` value chosen from the data (:mod:`deepfuse.models.auto_defaults`)."""
    from deepfuse.models.auto_defaults import resolve_auto
    from deepfuse.models.zoo import RECIPES

    out = dict(trainer)
    loss_defaulted = out.get("loss") is None
    if loss_defaulted:
        out["loss"] = default_loss(data.task)
    elif model_type != "sequential":
        out["loss"] = _for_logits(out["loss"])
    if not out.get("metrics"):
        out["metrics"] = default_metrics(data.task)
    elif not isinstance(out["metrics"], list | tuple):
        out["metrics"] = [out["metrics"]]
    return resolve_auto(
        out, data, model_type, RECIPES.get(model_type), loss_defaulted=loss_defaulted
    )


def _for_logits(spec: Any) -> Any:
    """Zoo models output logits: a Keras probability loss (``sparse_categorical_crossentropy``)
    gets ``from_logits: true`` unless the config set it, so the loss sees what the model gives."""
    from deepfuse import losses

    if isinstance(spec, Mapping) and "from_logits" in spec:
        return spec
    if getattr(losses.get(spec), "from_logits", True):
        return spec
    return {**({"name": spec} if isinstance(spec, str) else dict(spec)), "from_logits": True}


def arguments_of(method: Any, trainer: Mapping[str, Any], skip: tuple = ()) -> dict[str, Any]:
    """The ``trainer`` keys that are parameters of ``method`` (``Model.compile``/``Model.fit``),
    as plain (mutable) values."""
    from deepfuse.config import thaw
    from deepfuse.config.signatures import params_of

    names = params_of(method)
    return {k: thaw(v) for k, v in trainer.items() if k in names and k not in skip}


def build_compiled_model(cfg: Mapping[str, Any], data: Any, *, name: str) -> Any:
    """The model of a completed config (:func:`model_section`, :func:`trainer_section`),
    built for ``data``, named ``name`` and compiled; ``cfg`` is only read.

    Example:
        >>> model = build_compiled_model(run_cfg, prepared, name="adult")  # doctest: +SKIP
    """
    from deepfuse.config import thaw

    spec, trainer = thaw(cfg["model"]), cfg["trainer"]
    if trainer.get("seed") is not None:
        from deepfuse._utils.seed import seed_everything

        seed_everything(trainer["seed"])  # weights created at construction are reproducible too
    if spec["type"] == "sequential":
        model = _sequential(spec)
    else:
        from deepfuse.models import build

        model = build(spec["type"], **{k: v for k, v in spec.items() if k != "type"})
    model.name = name
    model.target_key = data.target
    model.preprocessor = data.preprocessor
    model.compile(**arguments_of(type(model).compile, trainer))
    if (
        data.task in ("binary", "multiclass")
        and model.output_activation is None
        and layout.final_activation(model) is None
        and getattr(model.compiled_loss, "from_logits", False)
    ):
        # The network ends in logits (zoo models do): predict() must still give probabilities.
        model.output_activation = "sigmoid" if output_units(data) == 1 else "softmax"
    return model


def _sequential(spec: Mapping[str, Any]) -> Any:
    from deepfuse import layers
    from deepfuse.models import Sequential

    built = []
    for i, item in enumerate(spec["layers"]):
        if isinstance(item, str):
            item = {item: {}}
        ((name, kwargs),) = item.items()
        try:
            built.append(layers.get({"class_name": name, "config": dict(kwargs or {})}))
        except TypeError as exc:  # a missing required argument, e.g. Dense without units
            raise ConfigError(f"Cannot build 'model.layers.{i}' ({name}): {exc}.") from None
    return Sequential(built)


# ----------------------------------------------------------------------------- config schema


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
    return inspect.Signature(sorted(params.values(), key=lambda p: p.kind))  # a valid order


def config_signatures() -> dict[str, Any]:
    """The real callables and registries :func:`deepfuse.config.validate` checks a config with.

    Returns:
        ``{"compile": Model.compile, "fit": Model.fit, "models": {name: builder}, "layers":
        {name: signature}, "datasets": {name: loader}, "optimizers", "losses", "metrics",
        "schedules", "callbacks": {name: None}, "early_stopping": EarlyStopping,
        "preprocessor": Preprocessor, "feature_types", "target_types": (names,), "data_kinds":
        {name: route class}}``.
        Every name list is a registry's ``names()`` (aliases included). Names-only registries:
        their builders check options (optimizers take Keras spellings a signature would reject).
    """
    from deepfuse import losses, metrics
    from deepfuse.data.preprocessor import Preprocessor
    from deepfuse.data.routes import data_kinds
    from deepfuse.data.routes.tables import FEATURE_ALIASES
    from deepfuse.data.schema import FEATURE_TYPES, TARGET_TYPES
    from deepfuse.datasets.catalog import BUILTIN_DATASETS
    from deepfuse.layers.base import LAYER_CLASSES, Layer
    from deepfuse.models.model import Model
    from deepfuse.models.zoo import MODELS
    from deepfuse.training import callbacks, optim, schedules

    return {
        "compile": Model.compile,
        "fit": Model.fit,
        "models": {n: MODELS.get(n) for n in MODELS.names()},
        "layers": {n: _layer_signature(LAYER_CLASSES.get(n), Layer) for n in LAYER_CLASSES.names()},
        "datasets": {name: entry.load for name, entry in BUILTIN_DATASETS.items()},
        "data_kinds": data_kinds(),
        "feature_types": (*FEATURE_TYPES, *FEATURE_ALIASES),
        "target_types": TARGET_TYPES,
        "optimizers": dict.fromkeys(optim.OPTIMIZERS.names()),
        "losses": dict.fromkeys(losses.LOSSES.names()),
        "metrics": dict.fromkeys(metrics.METRICS.names()),
        "schedules": dict.fromkeys(schedules.SCHEDULES.names()),
        "callbacks": dict.fromkeys(callbacks.CALLBACKS.names()),
        "early_stopping": callbacks.EarlyStopping,
        "preprocessor": Preprocessor,
    }
