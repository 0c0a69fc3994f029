"""Keras' custom-training surface on :class:`~deepfuse.models.Model`: what a user's ``train_step``
receives, ``train_on_batch`` and friends, ``fit`` options Keras programs pass, ``get_config``.

**What a step receives.** deepfuse's loop yields ``dict[str, Tensor]`` batches. A ``train_step``
/ ``test_step`` / ``predict_step`` that a ``Model`` subclass defines gets what Keras passes:
``data`` is ``x`` alone or the tuple ``(x, y)``, ``x`` being a tensor, or a dict of tensors for
several inputs. A step whose parameter is annotated as a dict (``def train_step(self, batch:
dict[str, torch.Tensor])``) keeps getting deepfuse's dict batch. The built-in steps and :meth:`Model.split_batch` accept both forms, so
``super().train_step(data)`` works from either kind of override.

Example:
    >>> import torch, deepfuse as df
    >>> class Net(df.Model):
    ...     def train_step(self, data):
    ...         x, y = data
    ...         return {"rows": float(len(x))}
    >>> model = Net(torch.nn.Linear(2, 1))
    >>> model.compile()                          # no loss: the step does not need one
    >>> model.train_on_batch(torch.zeros(3, 2), torch.zeros(3, 1), return_dict=True)
    {'rows': 3.0}
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfuse._utils.errors import UserError
from deepfuse.layers import symbolic
from deepfuse.layers.base import training_mode
from deepfuse.models import feeding, freezing, layout, weighting

__all__ = [
    "KerasSurface",
    "adapt_overrides",
    "check_fit_options",
    "check_steps_per_execution",
    "from_keras_data",
    "get_config",
    "interface_shapes",
    "on_batch",
    "predict_on_batch",
    "results",
    "to_keras_data",
]

_STEPS = ("train_step", "test_step", "predict_step")

# fit() keywords of Keras that deepfuse refuses, with what to do instead.
_REFUSED = {
    "workers": "in-memory arrays are batched in the main process; for parallel loading pass a "
    "torch DataLoader(dataset, num_workers=...) as x",
    "use_multiprocessing": "pass a torch DataLoader(dataset, num_workers=...) as x",
    "max_queue_size": "pass a torch DataLoader(dataset, prefetch_factor=...) as x",
}
# Keras 2's defaults of those keywords: they change nothing, so they are accepted.
_DEFAULTS = {"workers": 1, "use_multiprocessing": False, "max_queue_size": 10}


def check_steps_per_execution(value: Any) -> None:
    """``compile(steps_per_execution=...)``: only 1 exists (one step per call)."""
    if value != 1:
        raise UserError(
            f"compile(steps_per_execution={value!r}) is not supported: deepfuse runs one step "
            "per call; leave it at 1 (it does not change results)."
        )


def check_fit_options(options: Mapping[str, Any], where: str = "fit") -> None:
    """Refuse Keras keywords deepfuse does not support, in one line naming the fix.

    Example:
        >>> check_fit_options({"workers": None})  # Keras' default: nothing to refuse
        >>> check_fit_options({"workers": 4})
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.UserError: fit(workers=...) is not supported by deepfuse: in-memory arrays are batched in the main process; for parallel loading pass a torch DataLoader(dataset, num_workers=...) as x.
    """
    for key, value in options.items():
        default = _DEFAULTS.get(key)
        if key in _REFUSED and (
            value is None or (type(value) is type(default) and value == default)
        ):
            continue
        if key in _REFUSED:
            raise UserError(f"{where}({key}=...) is not supported by deepfuse: {_REFUSED[key]}.")
        raise UserError(
            f"{where}() got an unexpected keyword argument {key!r}. See "
            f"help(deepfuse.Model.{where}) for the arguments it takes."
        )


def _takes_dict_batch(step: Callable[..., Any]) -> bool:
    """True when the step's data parameter is annotated as a dict (deepfuse's own batches)."""
    params = list(inspect.signature(step).parameters.values())
    if len(params) < 2:
        return False
    annotation = params[1].annotation
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return str(text).split("[")[0].strip().lower() in ("dict", "mapping", "typing.dict")


def adapt_overrides(cls: type) -> None:
    """Wrap the steps ``cls`` defines itself so they receive Keras' ``data`` (see the module)."""
    for name in _STEPS:
        step = vars(cls).get(name)
        if step is None or getattr(step, "_keras_data", False) or _takes_dict_batch(step):
            continue
        setattr(cls, name, _keras_step(step))


def _keras_step(step: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(step)
    def wrapper(self: Any, data: Any) -> Any:
        if isinstance(data, dict):  # a batch from deepfuse's loop
            data = to_keras_data(self, data)
        return step(self, data)

    wrapper._keras_data = True  # type: ignore[attr-defined]
    return wrapper


def to_keras_data(model: Any, batch: Mapping[str, torch.Tensor]) -> Any:
    """A dict batch as Keras passes it: ``x`` alone, ``(x, y)`` when it has a target, and
    ``(x, y, sample_weight)`` when it has weights; ``x`` is a tensor, or a dict of tensors for
    several inputs."""
    weight = weighting.of_batch(batch)
    batch = weighting.without_weights(batch)
    keys = model._input_keys or [k for k in batch if k != model.target_key]
    x = batch[keys[0]] if len(keys) == 1 else {k: batch[k] for k in keys}
    y = batch.get(model.target_key)
    if y is None:
        return x
    return (x, y) if weight is None else (x, y, weight)


def from_keras_data(data: Any) -> tuple[Any, Any]:
    """Keras' ``data`` (``x``, ``(x,)``, ``(x, y)``, ``(x, y, sample_weight)``) -> ``(x, y)``."""
    if isinstance(data, tuple | list) and 1 <= len(data) <= 3:
        return data[0], data[1] if len(data) > 1 else None
    return data, None


def results(logs: Mapping[str, Any], *, return_dict: bool) -> Any:
    """What ``evaluate`` / ``train_on_batch`` return in Keras: a dict with ``return_dict``, a
    float for the loss alone, else the list ``[loss, metric...]`` (a ``Scores``)."""
    from deepfuse.models.results import Scores

    values = {k: float(v) for k, v in logs.items()}
    if return_dict:
        return values
    if len(values) == 1:
        return next(iter(values.values()))
    return Scores(values)


def get_config(model: Any) -> dict[str, Any]:
    """Keras' ``model.get_config()``: the layers of a Sequential; a clear error for subclasses."""
    get_architecture = getattr(type(model), "get_architecture", None)
    if get_architecture is None:
        raise UserError(
            f"{type(model).__name__}.get_config() is not implemented: a Model subclass must "
            "define get_config() (returning its constructor arguments) itself, as in Keras; "
            "or save the model with model.save(dir) and reload it with deepfuse.load(dir, "
            "module=...)."
        )
    return {"name": model.name, **get_architecture(model)}


def on_batch(
    model: Any, x: Any, y: Any, *, train: bool, sample_weight: Any = None, class_weight: Any = None
) -> dict[str, float]:
    """One ``train_step`` (or ``test_step``) on ``(x, y)`` with fresh metrics; its logs."""
    model._require_compiled()
    weighting.check_supported(model, x, sample_weight, class_weight, training=train)
    batch = weighting.add_sample_weights(feeding.to_tensors(model, x, y), sample_weight)
    batch = weighting.add_class_weights(batch, class_weight, model.target_key)
    model.setup(weighting.without_weights(batch), for_training=train)
    model.train(train)
    model.reset_metrics()
    with torch.set_grad_enabled(train):
        out = model.train_step(batch) if train else model.test_step(batch)
    logs = {k: float(v.detach() if isinstance(v, torch.Tensor) else v) for k, v in out.items()}
    return {**logs, **model.compute_metrics()}


@torch.no_grad()
def predict_on_batch(model: Any, x: Any) -> np.ndarray:
    """``model.predict`` on one batch, without a loader."""
    batch = feeding.to_tensors(model, x, None)
    model.setup(batch, for_training=False)
    model.train(False)
    out = model.predict_step(batch)
    return layout.to_interface_layout(out, layout.interface_format(model)).cpu().numpy()


def interface_shapes(model: Any) -> tuple[Any, Any]:
    """``(input_shape, output_shape)`` with ``None`` batch, in Keras' layout (one forward pass
    of two zero rows in eval mode; a list per input for several inputs)."""
    from deepfuse.models.functional import graph_of
    from deepfuse.models.serialization import input_dtype

    graph = graph_of(model)
    if graph is not None:  # symbolic shapes: Keras' layout, None where sizes vary
        ins = [t.shape for t in graph.input_tensors]
        outs = [t.shape for t in graph.output_tensors]
        return (ins[0] if len(ins) == 1 else ins), (outs[0] if len(outs) == 1 else outs)
    if not model.input_spec or layout.has_unbuilt_layers(model):
        raise UserError(
            f"{model.name} has no known input shape yet: declare input_shape=... on its first "
            "layer (or start it with keras.Input(shape=...)), or call fit/predict once."
        )
    data_format = layout.interface_format(model)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    example = {
        k: torch.zeros((2, *s["shape"]), dtype=input_dtype(s["dtype"]), device=device)
        for k, s in model.input_spec.items()
    }
    inputs = [
        layout.keras_shape((None, *s["shape"]), data_format) for s in model.input_spec.values()
    ]
    with torch.no_grad(), training_mode(model, False):
        out = model(model.split_batch(example)[0])
    output = layout.keras_shape((None, *out.shape[1:]), data_format)
    return (inputs[0] if len(inputs) == 1 else inputs), output


class KerasSurface:
    """Keras' model attributes and one-batch methods, mixed into :class:`~deepfuse.models.Model`
    (an ``nn.Module``): ``trainable``, ``trainable_weights``, ``get_weights``, ``get_config``,
    ``input_shape`` / ``output_shape``, ``train_on_batch`` and friends."""

    @property
    def metrics(self) -> list[Any]:
        """The metric objects (Keras' ``model.metrics``; a subclass may override it to list its
        own trackers). They are reset at the start of every epoch.

        As in Keras, a compiled model lists first its loss tracker, a ``keras.metrics.Mean``
        named ``"loss"``, then the compiled metrics: the keras.io ``train_step`` updates it with
        ``metric.update_state(loss)`` and returns ``{m.name: m.result() for m in self.metrics}``,
        and the epoch's ``"loss"`` is then that tracker's result (the built-in steps leave it
        alone and log the exact row-weighted mean loss).
        """
        metric_set = self.metric_set  # type: ignore[attr-defined]
        if metric_set is None:  # not compiled
            return []
        return [self._compiled_loss_tracker(), *metric_set.metrics.values()]

    def _compiled_loss_tracker(self) -> Any:
        """The ``Mean(name="loss")`` listed first in :attr:`metrics` (made on first use; not a
        submodule, so it never enters ``state_dict``; private, because Keras programs name
        their own trackers ``self.loss_tracker``)."""
        tracker = self.__dict__.get("_loss_tracker")
        if tracker is None:
            from deepfuse.metrics.keras import Mean

            tracker = Mean(name="loss")
            object.__setattr__(self, "_loss_tracker", tracker)
        return tracker

    def reset_own_metrics(self) -> None:
        """``reset_state()`` (else ``reset()``) of the ``metrics`` a subclass lists itself."""
        metric_set = self.metric_set  # type: ignore[attr-defined]
        compiled = set(map(id, metric_set.metrics.values())) if metric_set is not None else set()
        for metric in self.metrics:
            reset = getattr(metric, "reset_state", None) or getattr(metric, "reset", None)
            if id(metric) not in compiled and callable(reset):
                reset()

    def _require_loss(self, where: str) -> None:
        if self.compiled_loss is None:  # type: ignore[attr-defined]
            raise UserError(
                f"The built-in {where} needs a loss, but compile() got none. Pass one "
                "(model.compile(optimizer=..., loss='mse')) or override train_step/test_step."
            )

    #: Whether ``forward`` itself takes ``training=`` (then it is passed through untouched).
    _forward_takes_training = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the network; Keras' ``training=True/False`` runs this one call in that mode.
        On symbolic tensors (the functional API) the model is recorded as a layer of the graph."""
        if symbolic.has_symbolic(args):
            return symbolic.call_layer(self, args, kwargs)
        if "training" in kwargs and not self._forward_takes_training:
            training = kwargs.pop("training")
            if training is not None and bool(training) != self.training:  # type: ignore[attr-defined]
                with training_mode(self, bool(training)):  # type: ignore[arg-type]
                    return super().__call__(*args, **kwargs)  # type: ignore[misc]
        return super().__call__(*args, **kwargs)  # type: ignore[misc]

    @property
    def trainable(self) -> bool:
        """Keras' ``model.trainable``: ``False`` freezes every layer inside (saved with the
        model). A compiled model keeps training the weights that were trainable at compile."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        freezing.set_trainable(self, value)

    @property
    def trainable_weights(self) -> list[nn.Parameter]:
        """The parameters training updates, layer by layer (Keras order)."""
        return freezing.trainable_parameters(self)

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list[torch.Tensor]:
        """Frozen parameters and moving statistics (BatchNorm's running mean and variance)."""
        return freezing.non_trainable_weights(self)

    @property
    def weights(self) -> list[torch.Tensor]:
        """Every weight, layer by layer (Keras' ``model.weights``)."""
        return freezing.weights(self)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight as numpy arrays, layer by layer, in Keras' layout (``Dense``
        kernel ``(in, units)``, so ``x @ w + b`` in numpy gives the layer's output)."""
        from deepfuse.models import keras_weights

        return keras_weights.get_weights(self)  # type: ignore[arg-type]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Load arrays in the order and shapes :meth:`get_weights` returns (Keras' layout),
        every shape checked first; an error names the layer whose array does not fit."""
        from deepfuse.models import keras_weights

        keras_weights.set_weights(self, weights)  # type: ignore[arg-type]

    def get_config(self) -> dict[str, Any]:
        """Keras' ``get_config`` (Sequential: its layers); a subclass must define its own."""
        return get_config(self)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Any:
        """Rebuild from :meth:`get_config` (Keras: ``cls(**config)`` for a subclass)."""
        return cls(**config)

    @property
    def input_shape(self) -> Any:
        """Per-input shape with ``None`` batch, in Keras' layout (``(None, 28, 28, 1)``)."""
        return interface_shapes(self)[0]

    @property
    def output_shape(self) -> Any:
        """Output shape with ``None`` batch, in Keras' layout (``(None, 28, 28, 1)``)."""
        return interface_shapes(self)[1]

    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: Any = None,
        return_dict: bool = False,
    ) -> Any:
        """One training step on ``(x, y)``: the loss (a float), ``[loss, metric...]`` with
        metrics, or a dict with ``return_dict=True``, as in Keras (weights: see ``fit``)."""
        logs = on_batch(
            self, x, y, train=True, sample_weight=sample_weight, class_weight=class_weight
        )
        return results(logs, return_dict=return_dict)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        """Loss (and metrics) of one batch, without training; returns like :meth:`train_on_batch`."""
        logs = on_batch(self, x, y, train=False, sample_weight=sample_weight)
        return results(logs, return_dict=return_dict)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """:meth:`predict` on one batch, without a loader."""
        return predict_on_batch(self, x)
