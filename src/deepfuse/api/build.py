"""Build the model a config asks for, or pick one from the data when it does not say.

``model: {type: <zoo name>, **kwargs}`` calls the zoo builder; the sizes that follow from the data
(number of classes/outputs, input shape, the feature schema) are filled in for the parameters the
builder declares and the config leaves out. ``model: {type: sequential, layers: [...]}`` builds a
:class:`deepfuse.Sequential` from the layer registry. No ``model`` section: images → ``cnn``,
a text column → ``text``, any other table → ``tabular``.

Example:
    >>> default_model_type("image", {"x": "image"})
    'cnn'
    >>> default_loss("binary"), default_loss("regression")
    ('binary_cross_entropy', 'mse')
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from deepfuse._utils.errors import ConfigError
from deepfuse.api.data import Prepared

__all__ = ["build_model", "default_loss", "default_metrics", "default_model_type"]


def default_model_type(kind: str, features: Mapping[str, str]) -> str:
    """Zoo name for data without a ``model`` section."""
    if kind == "image" or "image" in features.values():
        return "cnn"
    if "text" in features.values():
        return "text"
    return "tabular"


def default_loss(task: str) -> str:
    """Loss for a task; classification losses take logits (a final softmax/sigmoid is fused)."""
    return {"binary": "binary_cross_entropy", "multiclass": "cross_entropy"}.get(task, "mse")


def default_metrics(task: str) -> list[str]:
    """Metrics reported when the config names none."""
    return ["accuracy"] if task in ("binary", "multiclass") else ["mae"]


def output_units(prep: Prepared) -> int:
    """Output width: 1 for binary (sigmoid) and regression, else the number of classes."""
    return prep.num_classes if prep.task == "multiclass" else 1


def build_model(spec: Mapping[str, Any], prep: Prepared) -> tuple[Any, dict[str, Any]]:
    """Build a :class:`deepfuse.Model` for ``spec`` and the prepared data.

    Args:
        spec: The ``model`` section (``type`` plus builder arguments, or ``layers``).
        prep: The prepared data (sizes, schema, task).

    Returns:
        ``(model, resolved_spec)``; ``resolved_spec`` holds the arguments actually used.
    """
    if spec["type"] == "sequential":
        return _sequential(spec), dict(spec)
    from deepfuse.models import build, zoo

    name = spec["type"]
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    builder = _zoo_builder(zoo, name)
    for key, value in _data_context(prep).items():
        if key not in kwargs and _accepts(builder, key):
            kwargs[key] = value
    model = build(name, **kwargs)
    return model, {"type": name, **kwargs}


def _zoo_builder(zoo: Any, name: str) -> Any:
    for attr in ("REGISTRY", "MODELS"):
        registry = getattr(zoo, attr, None)
        if isinstance(registry, Mapping) and name in registry:
            return registry[name]
    return getattr(zoo, name, None)


def _accepts(fn: Any, key: str) -> bool:
    if fn is None:
        return False
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return key in params


def _data_context(prep: Prepared) -> dict[str, Any]:
    """Arguments a zoo builder may need that follow from the data (JSON-able: saved in model.json)."""
    units = output_units(prep)
    ctx: dict[str, Any] = {"out_features": units, "num_classes": units, "task": prep.task}
    if prep.kind == "image":
        shape = list(prep.train["x"].shape[1:])  # (C, H, W)
        ctx.update(input_shape=shape, in_channels=shape[0])
    if prep.preprocessor is not None:
        inputs = prep.preprocessor.inputs()  # per input key: shape, cardinalities, vocab_size
        ctx["num_numeric"] = inputs.get("numeric", {}).get("shape", [0])[0]
        ctx["cardinalities"] = list(inputs.get("categorical", {}).get("cardinalities", []))
        vocab = [spec["vocab_size"] for spec in inputs.values() if "vocab_size" in spec]
        if vocab:
            ctx["vocab_size"] = max(vocab)
    return ctx


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
