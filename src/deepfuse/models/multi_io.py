"""Several inputs and outputs (functional models): data by name, one loss and metrics per output.

Keras' rules, kept here in one place:

* inputs: ``fit(x=[a, b])`` in the order of ``Model(inputs=[...])``, or ``fit(x={"title": a,
  ...})`` keyed by ``Input(name=...)``;
* targets: ``y=[t1, t2]`` in output order, or ``y={"priority": t1, ...}`` keyed by output name
  (the name of the layer that made the output, or the key when ``outputs`` was a dict); in a batch
  the target of output ``name`` is stored under ``"y/name"``;
* ``loss``: one loss for every output, a list (output order) or a dict (a missing output is not
  trained); ``loss_weights`` a list or a dict (default 1); the logged ``loss`` is the weighted
  sum, and each output's own loss is logged as ``<name>_loss``;
* ``metrics``: a list for every output, a list of lists, or a dict of lists; logged as
  ``<name>_<metric>``.

Outputs keep their final activation (no fusion into the loss), so Keras' probability losses
apply as written and classification metrics are told they get probabilities.

Example:
    >>> import torch, deepfuse as keras
    >>> from deepfuse import layers
    >>> x = keras.Input(shape=(4,), name="features")
    >>> h = layers.Dense(8, activation="relu")(x)
    >>> model = keras.Model(x, [layers.Dense(1, name="price")(h),
    ...                         layers.Dense(3, activation="softmax", name="kind")(h)])
    >>> model.compile(optimizer="adam", loss={"price": "mse", "kind": "sparse_categorical_crossentropy"},
    ...               loss_weights={"price": 0.5}, metrics={"kind": ["accuracy"]})
    >>> hist = model.fit(torch.randn(16, 4), {"price": torch.randn(16, 1), "kind": torch.randint(0, 3, (16,))},
    ...                  epochs=1, verbose=0)
    >>> sorted(k for k in hist.history if k not in ("lr", "time"))
    ['kind_accuracy', 'kind_loss', 'loss', 'price_loss']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from deepfuse._utils.errors import ConfigError, DataError

__all__ = [
    "MultiOutputLoss",
    "arrange_inputs",
    "arrange_targets",
    "compile_outputs",
    "expect_probabilities",
    "is_multi_output",
    "is_target_key",
    "map_outputs",
    "multi_output_metrics",
    "output_activations",
    "outputs_to_numpy",
    "target_key_of",
    "targets_from_batch",
]

_PROBABILITY_ACTIVATIONS = ("sigmoid", "softmax")


def _graph(model: Any) -> Any:
    from deepfuse.models.functional import Functional

    module = getattr(model, "module", None)
    return module if isinstance(module, Functional) else None


def is_multi_output(model: Any) -> bool:
    """True for a functional model with several outputs (or outputs given as a dict)."""
    graph = _graph(model)
    return graph is not None and (len(graph.output_names) > 1 or graph._out_kind == "dict")


def target_key_of(model: Any, output: str) -> str:
    """The batch key holding the target of ``output``."""
    return f"{model.target_key}/{output}"


def arrange_inputs(model: Any, x: Any) -> Any:
    """A list/tuple of arrays for a several-input model becomes a dict keyed by input name."""
    graph = _graph(model)
    if graph is None or len(graph.input_names) < 2 or not isinstance(x, list | tuple):
        return x
    if len(x) != len(graph.input_names):
        raise DataError(
            f"The model takes {len(graph.input_names)} inputs {graph.input_names}; x is a list "
            f"of {len(x)}. Pass one array per input, in that order, or a dict keyed by name."
        )
    return dict(zip(graph.input_names, x))


def arrange_targets(model: Any, y: Any) -> dict[str, Any] | None:
    """``{output name: targets}`` for a several-output model (``None`` for other models)."""
    if y is None or not is_multi_output(model):
        return None
    names = _graph(model).output_names
    if isinstance(y, Mapping):
        unknown = [k for k in y if k not in names]
        if unknown:
            raise DataError(
                f"y has targets for {unknown}, which are not outputs of the model; the outputs "
                f"are {names}."
            )
        return {str(k): v for k, v in y.items()}
    if isinstance(y, list | tuple) and len(y) == len(names):
        return dict(zip(names, y))
    raise DataError(
        f"The model has {len(names)} outputs {names}; pass y as a list of {len(names)} arrays "
        "in that order or as a dict keyed by output name."
    )


def output_activations(model: Any) -> dict[str, str | None]:
    """The final activation name of each output of a functional model."""
    graph = _graph(model)
    return {
        name: getattr(t.node.layer, "activation_name", None)
        for name, t in zip(graph.output_names, graph.output_tensors)
    }


def expect_probabilities(metric: Any) -> None:
    """Tell a classification metric that outputs are probabilities (a kept sigmoid/softmax)."""
    from deepfuse.metrics.base import ClassificationMetric

    if isinstance(metric, ClassificationMetric) and metric.from_logits:
        metric.from_logits = False
        metric._cut = metric.threshold


def _per_output(spec: Any, names: list[str], what: str, *, nested: bool) -> dict[str, Any]:
    """A list/dict/single value spread over the outputs, by Keras' rules."""
    if isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ConfigError(
                f"compile({what}=...) names {unknown}, which are not outputs of the model; "
                f"the outputs are {names}."
            )
        return {k: spec[k] for k in names if k in spec}
    if isinstance(spec, list | tuple) and (
        not nested or all(isinstance(s, list | tuple) for s in spec)
    ):
        if len(spec) != len(names):
            raise ConfigError(
                f"compile({what}=[...]) has {len(spec)} entries for {len(names)} outputs "
                f"{names}; give one per output, or a dict keyed by output name."
            )
        return dict(zip(names, spec))
    return dict.fromkeys(names, spec)


class MultiOutputLoss:
    """The weighted sum of one loss per output; ``compute(outputs, targets)`` (torch order).

    Args:
        names: The model's output names, in order.
        loss: One loss spec for all outputs, a list, or a dict (see the module docstring).
        loss_weights: A list or dict of floats (default 1.0 each).
    """

    def __init__(self, names: list[str], loss: Any, loss_weights: Any = None) -> None:
        from deepfuse import losses as losses_mod

        specs = _per_output(loss, names, "loss", nested=False)
        weights = (
            _per_output(loss_weights, names, "loss_weights", nested=False)
            if (loss_weights is not None)
            else {}
        )
        self.names = names
        self.losses = {name: losses_mod.get(spec) for name, spec in specs.items() if spec}
        self.weights = {name: float(weights.get(name, 1.0)) for name in self.losses}
        if not self.losses:
            raise ConfigError("compile(loss=...) gives no loss for any output of the model.")

    def compute(self, outputs: Any, targets: Any) -> Tensor:
        outputs = self._by_name(outputs)
        if not isinstance(targets, Mapping):
            raise DataError(
                f"The model has several outputs {self.names}; its targets must come per output "
                "(y as a list or a dict keyed by output name)."
            )
        total: Tensor | None = None
        for name, loss in self.losses.items():
            if name not in targets:
                raise DataError(
                    f"No target for output '{name}', which has a loss; pass y[{name!r}]."
                )
            value = self.weights[name] * _loss_value(loss, outputs[name], targets[name])
            total = value if total is None else total + value
        return total  # type: ignore[return-value]

    __call__ = compute

    def per_output(self, name: str) -> Any:
        """``fn(outputs, targets)`` giving output ``name``'s own loss (for its log entry)."""
        loss = self.losses[name]
        return lambda outputs, target: _loss_value(loss, outputs, target)

    def _by_name(self, outputs: Any) -> Mapping[str, Tensor]:
        if isinstance(outputs, Mapping):
            return outputs
        return dict(zip(self.names, outputs))


def _loss_value(loss: Any, outputs: Tensor, target: Tensor) -> Tensor:
    compute = getattr(loss, "compute", None)
    return compute(outputs, target) if callable(compute) else loss(outputs, target)


def multi_output_metrics(
    names: list[str], metrics: Any, loss: MultiOutputLoss, activations: Mapping[str, str | None]
) -> Any:
    """A ``MetricSet`` whose metrics each read one output: ``<name>_loss`` and ``<name>_<metric>``."""
    from deepfuse import metrics as metrics_mod
    from deepfuse.metrics.base import MeanMetric

    per_output = _per_output(metrics, names, "metrics", nested=True) if metrics else {}
    routed: dict[str, tuple[str, Any]] = {}
    for name in names:
        if name in loss.losses:
            routed[f"{name}_loss"] = (name, MeanMetric(loss.per_output(name), name=f"{name}_loss"))
        specs = per_output.get(name) or []
        for spec in specs if isinstance(specs, list | tuple) else [specs]:
            metric = metrics_mod.get(spec)
            if activations.get(name) in _PROBABILITY_ACTIVATIONS:
                expect_probabilities(metric)
            metric.name = f"{name}_{metric.name}"
            routed[metric.name] = (name, metric)
    return _RoutedMetricSet(routed, names)


class _RoutedMetricSet:
    """A metric set whose metrics read one output and its target each (a ``MetricSet`` inside)."""

    def __init__(self, routed: dict[str, tuple[str, Any]], names: list[str]) -> None:
        from deepfuse.metrics import MetricSet

        self.names = names
        self.routes = {key: output for key, (output, _) in routed.items()}
        self.inner = MetricSet({key: metric for key, (_, metric) in routed.items()})

    @property
    def metrics(self) -> dict[str, Any]:
        return self.inner.metrics

    def __len__(self) -> int:
        return len(self.inner.metrics)

    def update(self, outputs: Any, targets: Any) -> None:
        if not isinstance(targets, Mapping):
            return
        if not isinstance(outputs, Mapping):
            outputs = dict(zip(self.names, outputs))
        with torch.no_grad():
            for key, metric in self.inner.metrics.items():
                name = self.routes[key]
                if name in targets:
                    metric._update(outputs[name].detach(), targets[name].detach())

    def __getattr__(self, name: str) -> Any:  # compute, reset, state_dict, results, ...
        return getattr(self.__dict__["inner"], name)


def check_names(names: Sequence[str]) -> None:
    """Output names must be distinct (they key the targets and the logs)."""
    if len(set(names)) != len(names):
        raise ConfigError(f"Two outputs share a name in {list(names)}; name the output layers.")


def compile_outputs(
    model: Any, loss: Any, metrics: Any, loss_weights: Any
) -> tuple[Any, Any] | None:
    """``(loss, metric set)`` for a several-output model; ``None`` for other models."""
    if not is_multi_output(model):
        if loss_weights is not None and not isinstance(loss_weights, int | float):
            raise ConfigError(
                "compile(loss_weights=...) weighs the losses of several outputs; this model has "
                "one output. Remove loss_weights."
            )
        return None
    names = _graph(model).output_names
    check_names(names)
    multi_loss = MultiOutputLoss(names, loss, loss_weights)
    return multi_loss, multi_output_metrics(names, metrics, multi_loss, output_activations(model))


def targets_from_batch(model: Any, batch: Mapping[str, Tensor]) -> Any:
    """The target(s) of ``batch``: a tensor, or ``{output: tensor}`` for several outputs."""
    if not is_multi_output(model):
        return batch.get(model.target_key)
    prefix = model.target_key + "/"
    targets = {k[len(prefix) :]: v for k, v in batch.items() if k.startswith(prefix)}
    return targets or None


def is_target_key(model: Any, key: str) -> bool:
    """Whether batch key ``key`` holds a target (``y`` or ``y/<output>``)."""
    return key == model.target_key or key.startswith(model.target_key + "/")


def map_outputs(fn: Any, outputs: Any) -> Any:
    """``fn`` applied to one output tensor, or to each of a list/dict of them."""
    if isinstance(outputs, Tensor):
        return fn(outputs)
    if isinstance(outputs, Mapping):
        return {k: fn(t) for k, t in outputs.items()}
    return [fn(t) for t in outputs]


def outputs_to_numpy(outputs: list[Any], model: Any) -> Any:
    """Stack predict()'s per-batch outputs: one array, or a list/dict of arrays per output."""
    import numpy as np

    first = outputs[0]
    if isinstance(first, Tensor):
        return torch.cat(outputs).numpy()
    if isinstance(first, Mapping):
        return {k: torch.cat([o[k] for o in outputs]).numpy() for k in first}
    return [np.asarray(torch.cat([o[i] for o in outputs]).numpy()) for i in range(len(first))]
