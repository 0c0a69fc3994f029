"""Save and load models as ``model.safetensors`` (weights) + ``model.json`` (everything else).

Nothing here can execute code from a file: weights are read with safetensors, the rest is JSON,
and architectures are rebuilt only from deepfuse's own registries (layers, zoo). A model wrapping
your own ``nn.Module`` class is loaded by passing a fresh instance: ``load(dir, module=MyNet())``.

Example:
    >>> import tempfile, numpy as np, deepfuse as df
    >>> model = df.Sequential([df.layers.Dense(2, input_shape=(3,))])
    >>> d = tempfile.mkdtemp()
    >>> model.save(d)
    >>> x = np.ones((1, 3), dtype="float32")
    >>> bool((df.load(d).predict(x) == model.predict(x)).all())
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import DataError, UserError, format_message
from deepfuse._utils.io import atomic_write_json, read_json
from deepfuse._utils.safefiles import (
    load_safetensors,
    regular_file,
    save_safetensors,
    weights_mismatch,
)
from deepfuse.models import layout
from deepfuse.run.files import limit_of
from deepfuse.run.layout import MODEL_FILE, WEIGHTS_FILE

__all__ = [
    "FORMAT",
    "INPUT_DTYPES",
    "MAX_INPUT_ELEMENTS",
    "input_dtype",
    "jsonable",
    "load_model",
    "load_weights",
    "save_model",
]

FORMAT = "deepfuse.model"
FORMAT_VERSION = 1
META_FILE = MODEL_FILE
# The dtypes an ``input_spec`` may name: an explicit allow-list (``getattr(torch, name)`` would
# accept any torch attribute, a function or a class).
INPUT_DTYPES: dict[str, torch.dtype] = {
    str(d).removeprefix("torch."): d
    for d in (
        torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8, torch.int8,
        torch.int16, torch.int32, torch.int64, torch.bool,
    )
}  # fmt: skip
# At most this many values per sample in an ``input_spec`` shape (the loader builds a dummy batch
# of two from it): 2**25 float32 values = 128 MiB per sample, e.g. a 3 x 3344 x 3344 image.
MAX_INPUT_ELEMENTS = 2**25
_KINDS = ("sequential", "functional", "zoo", "module")


def input_dtype(name: object, where: object = "input_spec") -> torch.dtype:
    """The torch dtype an ``input_spec`` names, from :data:`INPUT_DTYPES` only.

    Example:
        >>> input_dtype("float32")
        torch.float32
        >>> input_dtype("Tensor")
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: Bad dtype in input_spec. Expected one of 'bfloat16', ...; got 'Tensor'. ...
    """
    if isinstance(name, str) and name in INPUT_DTYPES:
        return INPUT_DTYPES[name]
    raise DataError(
        format_message(
            f"Bad dtype in {where}.",
            expected="one of " + ", ".join(repr(k) for k in sorted(INPUT_DTYPES)),
            got=_short(name),
            fix="The model file is corrupt or was edited; save the model again.",
        )
    )


def _short(value: object) -> object:
    """``value`` for an error message: long values cut to 60 characters of their repr."""
    text = repr(value)
    return value if len(text) <= 60 else f"{text[:60]}..."


def _check_format_version(meta: dict[str, Any], path: Path) -> None:
    version = meta.get("format_version", FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DataError(
            format_message(
                f"Bad 'format_version' in '{path}'.",
                expected=f"an integer from 1 to {FORMAT_VERSION}",
                got=_short(version),
                fix="The file is corrupt or was edited; save the model again.",
            )
        )
    if version > FORMAT_VERSION:
        raise DataError(
            f"'{path}' was written by a newer deepfuse (format version "
            f"{version}); upgrade deepfuse to load it."
        )


def _check_architecture(arch: Any, path: Path) -> None:
    """Each architecture kind has what :func:`load_model` reads from it, with the right types."""
    if not isinstance(arch, dict):
        raise DataError(f"'{path}' has no valid 'architecture' object; the file is corrupt.")
    kind = arch.get("kind")
    problem = None
    if kind not in _KINDS:
        problem = f"'kind' must be one of {', '.join(map(repr, _KINDS))}; got {_short(kind)!r}"
    elif kind == "sequential" and not (
        isinstance(arch.get("layers"), list)
        and all(isinstance(spec, dict) for spec in arch["layers"])
    ):
        problem = "a sequential architecture needs 'layers', a list of layer objects"
    elif kind == "functional" and not (
        isinstance(arch.get("layers"), dict)
        and isinstance(arch.get("inputs"), list)
        and isinstance(arch.get("nodes"), list)
        and isinstance(arch.get("outputs"), dict)
    ):
        problem = "a functional architecture needs 'layers', 'inputs', 'nodes' and 'outputs'"
    elif kind == "zoo" and not isinstance(arch.get("name"), str):
        problem = "a zoo architecture needs 'name', the zoo model's name"
    elif kind == "zoo" and not isinstance(arch.get("kwargs", {}), dict):
        problem = "a zoo architecture's 'kwargs' must be an object"
    if problem:
        raise DataError(f"Bad 'architecture' in '{path}': {problem}. The file is corrupt.")


def _check_input_spec(spec: Any, path: Path) -> None:
    """``{input name: {"shape": [non-negative ints], "dtype": allowed name}}`` or null."""
    if spec is None:
        return
    where = f"'{path}' input_spec"
    if not isinstance(spec, dict):
        raise DataError(f"Bad input_spec in '{path}': expected an object; the file is corrupt.")
    for key, entry in spec.items():
        shape = entry.get("shape") if isinstance(entry, dict) else None
        ok = isinstance(shape, list) and all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
        )
        size = 1
        for n in shape if ok else []:
            size = min(size * n, MAX_INPUT_ELEMENTS + 1)
        if not ok or size > MAX_INPUT_ELEMENTS:
            raise DataError(
                format_message(
                    f"Bad shape of input {str(key)[:40]!r} in {where}.",
                    expected=f"a list of non-negative ints, at most {MAX_INPUT_ELEMENTS:,} "
                    "values per sample",
                    got=_short(shape if isinstance(entry, dict) else entry),
                    fix="The file is corrupt or was edited; save the model again.",
                )
            )
        input_dtype(entry.get("dtype"), where)


def architecture_of(model: Any) -> dict[str, Any]:
    """How to rebuild ``model``: sequential layers, a functional graph, a zoo builder with kwargs,
    or a user module."""
    from deepfuse.models.functional import Functional, graph_architecture

    get_arch = getattr(model, "get_architecture", None)
    if callable(get_arch):
        return get_arch()
    if isinstance(model.module, Functional):
        return graph_architecture(model.module, module_spec)
    if model.architecture is not None:
        return model.architecture
    module = model.module if model.module is not None else model
    return {"kind": "module", "class": f"{type(module).__module__}.{type(module).__qualname__}"}


def module_spec(module: nn.Module) -> dict[str, Any]:
    """A layer's ``{"class_name", "config"}``, or a nested model's name and architecture."""
    from deepfuse import layers as layers_mod
    from deepfuse.models.model import Model

    if isinstance(module, Model):
        return {"class_name": "Model", "name": module.name, "architecture": architecture_of(module)}
    if isinstance(module, layers_mod.Layer):
        return layers_mod.serialize(module)
    raise UserError(
        f"The model holds a {type(module).__name__} (a plain torch module), which deepfuse "
        "cannot describe in model.json. Use deepfuse layers, or wrap the whole network: "
        "Model(MyNet()).save(dir), then deepfuse.load(dir, module=MyNet())."
    )


def module_from_spec(
    spec: dict[str, Any], custom_objects: Mapping[str, type] | None = None
) -> nn.Module:
    """The layer or nested model that :func:`module_spec` described (``custom_objects``:
    Keras' ``{"ClassName": cls}`` for your own Layer subclasses)."""
    from deepfuse import layers as layers_mod

    if spec.get("class_name") == "Model":
        return _model_from_architecture(spec["architecture"], spec.get("name"), custom_objects)
    return layers_mod.deserialize(spec, dict(custom_objects) if custom_objects else None)


def _model_from_architecture(
    arch: dict[str, Any], name: str | None, custom_objects: Mapping[str, type] | None = None
) -> Any:
    from deepfuse.models.functional import rebuild_graph
    from deepfuse.models.model import Model
    from deepfuse.models.sequential import Sequential

    def build(spec: dict[str, Any]) -> nn.Module:
        return module_from_spec(spec, custom_objects)

    kind = arch.get("kind")
    if kind == "sequential":
        return Sequential([build(spec) for spec in arch["layers"]], name=name)
    if kind == "functional":
        return Model(rebuild_graph(arch, build), name=name)
    if kind == "zoo":
        from deepfuse.models import zoo

        built = zoo.get(arch["name"], **arch.get("kwargs", {}))
        model = built if isinstance(built, Model) else Model(built, name=name)  # a GAN is a Model
        model.name = name or model.name
        model.architecture = arch
        return model
    raise DataError(f"A nested model of kind {kind!r} cannot be rebuilt from model.json.")


def save_model(model: Any, directory: str | os.PathLike) -> None:
    """Write the weights and metadata of ``model`` into ``directory`` (each file atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_safetensors(model.state_dict(), directory / WEIGHTS_FILE)  # atomic, contiguous copies
    preprocessor = getattr(model, "preprocessor", None)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": model.name,
        "architecture": architecture_of(model),
        "input_spec": model.input_spec,
        "input_layout": model.input_layout,
        "output_activation": model.output_activation,
        "trainable": bool(getattr(model, "trainable", True)),
        "target_key": model.target_key,
        # binary classifiers: P(class 1) >= this predicts class 1 (chosen on validation rows)
        "decision_threshold": getattr(model, "decision_threshold", None),
        # anomaly detectors: a score >= this flags the row (chosen on validation rows)
        "anomaly_threshold": getattr(model, "anomaly_threshold", None),
        "compile": model._compile_args,
        "preprocessing": preprocessor.get_config() if preprocessor is not None else None,
        "num_parameters": int(sum(p.numel() for p in model.parameters())),
        "torch_version": torch.__version__,
    }
    atomic_write_json(directory / META_FILE, meta)


def read_meta(directory: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``model.json``."""
    path = Path(directory) / META_FILE
    try:  # a regular file within model.json's size limit, checked before a byte is read
        regular_file(path, limit=limit_of(META_FILE), what="model file")
    except FileNotFoundError:
        raise DataError(
            f"No saved model in '{directory}': {META_FILE} is missing. "
            "Pass a directory written by model.save() or `deepfuse train`."
        ) from None
    meta = read_json(path, what="model file")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"'{path}' is not a deepfuse model file (format must be {FORMAT!r}).")
    _check_format_version(meta, path)
    _check_architecture(meta.get("architecture"), path)
    _check_input_spec(meta.get("input_spec"), path)
    return meta


def load_model(
    directory: str | os.PathLike,
    *,
    module: nn.Module | None = None,
    compile: bool = True,
    custom_objects: Mapping[str, type] | None = None,
) -> Any:
    """Rebuild a model saved by :func:`save_model`.

    Args:
        directory: The folder holding ``model.json`` and ``model.safetensors``.
        module: A fresh instance of your own module class, when the model wraps one.
        compile: Re-compile with the saved loss/metrics/optimizer so ``evaluate`` works at once.
        custom_objects: Keras' ``{"ClassName": cls}`` for your own Layer subclasses (defining
            the class already registers it under its name; this picks a class explicitly).

    Returns:
        The model, in eval mode, with identical outputs to the saved one.
    """
    meta = read_meta(directory)
    try:
        return _rebuild(meta, directory, module, compile, custom_objects)
    except UserError:
        raise
    except (TypeError, KeyError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        # every value used here comes from model.json: a wrong type or a missing key is damage
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise DataError(
            f"'{Path(directory) / META_FILE}' does not describe a model deepfuse can rebuild "
            f"({reason}); the file is damaged. Re-save the model or train it again."
        ) from exc


def _rebuild(
    meta: dict[str, Any],
    directory: str | os.PathLike,
    module: Any,
    compile: bool,
    custom_objects: Mapping[str, type] | None = None,
) -> Any:
    """The model described by ``meta`` (a read model.json), with its weights; see load_model."""
    from deepfuse.models.model import Model

    arch = meta["architecture"]
    kind = arch.get("kind")
    if kind in ("sequential", "functional", "zoo"):
        model: Model = _model_from_architecture(arch, meta.get("name"), custom_objects)
    elif kind == "module":
        if module is None:
            raise UserError(
                f"The model in '{directory}' wraps your own class {arch.get('class')}; deepfuse "
                "never imports classes named in a file. Pass a fresh instance: "
                "deepfuse.load(dir, module=MyNet())."
            )
        model = Model(module, name=meta.get("name"))
    else:
        raise DataError(f"Unknown architecture kind {kind!r} in {directory}/{META_FILE}.")
    model.input_layout = meta.get("input_layout")
    model.target_key = meta.get("target_key") or "y"
    model.input_spec = meta.get("input_spec")
    threshold = meta.get("decision_threshold")
    if threshold is not None:
        if not isinstance(threshold, int | float) or not 0 < threshold < 1:
            raise DataError(
                f"'decision_threshold' in {directory}/{META_FILE} must be a number in (0, 1); "
                f"got {threshold!r}. The file is damaged: train the run again."
            )
        model.decision_threshold = float(threshold)
    anomaly = meta.get("anomaly_threshold")
    if anomaly is not None:
        if isinstance(anomaly, bool) or not isinstance(anomaly, int | float):
            raise DataError(
                f"'anomaly_threshold' in {directory}/{META_FILE} must be a number; got "
                f"{anomaly!r}. The file is damaged: train the run again."
            )
        model.anomaly_threshold = float(anomaly)
    if meta.get("preprocessing") is not None:
        from deepfuse.data import Preprocessor

        model.preprocessor = Preprocessor.from_config(meta["preprocessing"])
    if model.input_spec:
        example = {
            k: torch.zeros((2, *spec["shape"]), dtype=input_dtype(spec["dtype"]))
            for k, spec in model.input_spec.items()
        }
        model._input_keys = None
        model.setup(example, for_training=False)
    if meta.get("trainable") is False:
        model.trainable = False  # before compile: compile captures what is trainable
    compile_args = meta.get("compile")
    if compile and compile_args:
        model.compile(**compile_args)
    if meta.get("output_activation") and layout.final_activation(model) is None:
        # A network that ends in logits (zoo models); files written before fused activations
        # stayed in the network name the final layer's own activation here: nothing to add.
        model.output_activation = meta["output_activation"]
    load_weights(model, Path(directory) / WEIGHTS_FILE)
    model.train(False)
    return model


def load_weights(model: nn.Module, path: str | os.PathLike) -> None:
    """Load safetensors weights into ``model``, checking the file, names and shapes first.

    Raises:
        DataError: the file is missing, not safetensors (e.g. a pickle), truncated, has a
            malformed or oversized header or unsafe names, or its tensors do not match ``model``.
    """
    path = Path(path)
    state = load_safetensors(path)  # header checked before anything is read (safefiles.py)
    problem = weights_mismatch(model.state_dict(), state)
    if problem:
        raise DataError(f"The weights in '{path}' do not match the architecture: {problem}.")
    model.load_state_dict(state, strict=True)


def jsonable(value: Any) -> Any:
    """A ``compile`` argument as JSON for ``model.json``: objects by their ``get_config()``,
    functions by name.

    Example:
        >>> jsonable({"name": "sgd", "betas": (0.9, 0.99)})
        {'name': 'sgd', 'betas': [0.9, 0.99]}
    """
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    get_config = getattr(value, "get_config", None)
    if callable(get_config):
        return {"name": getattr(value, "name", type(value).__name__), **get_config()}
    return getattr(value, "__name__", type(value).__name__)
