"""The ``Metric`` base class and the input conventions every metric shares.

A metric is exact over a whole set and streamed batch by batch: ``update`` adds one batch to
running counts/sums (kept on the batch's device, in int64/float64, with no ``.item()`` so a GPU
is not synced every step) and ``compute`` turns them into the result.

A metric owns its state: ``state_dict()`` returns the running accumulators (tensors, numbers,
lists of tensors), ``load_state_dict(state)`` puts them back (a checkpoint resumed mid-epoch) and
``merge(other)`` adds another worker's state (sums add, lists concatenate; R² merges its running
mean and variance with Chan's formula), so N workers' merged metric equals one process's.

Conventions (see ``docs/internals.md``): classification ``outputs`` are **logits** (``(N,)`` or
``(N, 1)`` for binary, ``(N, C)`` for multi-class) unless ``from_logits=False``; targets are class
indices ``(N,)`` of any int/float dtype or one-hot rows ``(N, C)``. Regression outputs are raw
values; ``(N, 1)`` against ``(N,)`` is squeezed, never broadcast to ``(N, N)``.

Example:
    >>> import torch
    >>> from deepfuse.metrics import Accuracy
    >>> m = Accuracy()
    >>> m.update(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
    >>> m.update(torch.tensor([[0.0, 3.0]]), torch.tensor([1]))
    >>> round(m.compute(), 4)
    0.6667
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor

from deepfuse._utils.errors import ConfigError, DataError, format_message
from deepfuse._utils.specs import squeeze_to_match
from deepfuse.metrics.keras_api import KerasMetricAPI, MetricVariable, as_tensor, refuse_weights

__all__ = [
    "ClassificationMetric",
    "MeanMetric",
    "Metric",
    "accumulator_dtype",
    "match_regression",
]


def accumulator_dtype(device: torch.device) -> torch.dtype:
    """float64 for exact sums, except on MPS which has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


def _merge_values(mine: Any, theirs: Any) -> Any:
    """One accumulator of two workers: tensors and numbers add, lists concatenate."""
    if mine is None:
        return theirs
    if theirs is None:  # that worker saw no batch
        return mine
    if isinstance(mine, list):
        return [*mine, *theirs]
    if isinstance(mine, Tensor):
        return mine + theirs.to(mine.device)
    return mine + theirs


def _on(value: Any, device: torch.device | None) -> Any:
    if isinstance(value, Tensor):
        value = value.detach()
        return value if device is None else value.to(device)
    if isinstance(value, list):
        return [_on(v, device) for v in value]
    return value


class Metric(KerasMetricAPI):
    """Base class: ``update(outputs, target)``, ``compute()``, ``reset()``, ``name``, ``get_config()``.

    Keras' ``update_state(y_true, y_pred)`` / ``result()`` / ``reset_state()`` / ``add_weight``
    come from :class:`~deepfuse.metrics.keras_api.KerasMetricAPI`: a metric written the Keras
    way (weights from ``add_weight``, ``update_state``, ``result``) works as a deepfuse metric.

    Subclasses implement ``_update`` (on detached tensors, grad disabled), ``compute`` and
    ``reset``, set ``registry_name`` and list their constructor arguments in ``_config_keys``.
    The running state is what ``reset()`` sets (its ``_``-prefixed attributes); a subclass with
    more state lists it in ``_state_keys``, and one whose state does not simply add overrides
    :meth:`_merge_state`.

    Args:
        name: The key the metric is logged under (defaults to its registry name).
    """

    registry_name: ClassVar[str] = "metric"
    _config_keys: ClassVar[tuple[str, ...]] = ()
    #: State attributes besides the ``_``-prefixed ones ``reset()`` sets (``None``: none).
    _state_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, name: str | None = None, dtype: Any = None) -> None:
        self.name = name or self.registry_name  # dtype: Keras' argument, accepted and unused
        self.reset()

    def update(self, outputs: Tensor, target: Tensor) -> None:
        """Add one batch: ``outputs`` (logits or values) against ``target``."""
        with torch.no_grad():
            self._update(outputs.detach(), target.detach())

    def _update(self, outputs: Tensor, target: Tensor) -> None:
        self._keras_update(outputs, target)  # a Keras-style subclass's update_state

    def compute(self) -> Any:
        """The metric over every batch since the last ``reset`` (``nan`` before any batch)."""
        return self._keras_compute()  # a Keras-style subclass's result()

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self._keras_reset()  # a Keras-style subclass's reset_state, or zero its weights

    # ------------------------------------------------------------------ state
    def state_names(self) -> list[str]:
        """Names of the state attributes: what ``reset()`` sets, plus ``_state_keys`` (the
        ``add_weight`` weights of a Keras-style metric)."""
        if self._keras_style() and type(self).reset is Metric.reset:
            return [k for k, v in vars(self).items() if isinstance(v, MetricVariable)]
        probe = copy.copy(self)  # shallow: reset() rebinds attributes, never mutates them
        probe.__dict__ = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        type(self).reset(probe)
        names = [k for k in vars(probe) if k.startswith("_")]
        return [*names, *(k for k in self._state_keys if k not in names)]

    def state_dict(self) -> dict[str, Any]:
        """The running state (tensors detached, on their device; numbers; lists of tensors).

        Example:
            >>> from deepfuse.metrics import Accuracy
            >>> m = Accuracy()
            >>> m.update(torch.tensor([[2.0, 0.0]]), torch.tensor([0]))
            >>> m.state_dict()["_total"]
            1
        """
        return {k: _on(getattr(self, k), None) for k in self.state_names()}

    def load_state_dict(
        self, state: Mapping[str, Any], *, device: torch.device | None = None
    ) -> None:
        """Replace the running state with ``state`` (from :meth:`state_dict`), tensors to ``device``.

        Raises:
            DataError: ``state`` holds other keys than this metric's state.
        """
        names = self.state_names()
        if set(state) != set(names):
            raise DataError(
                format_message(
                    f"Cannot load this state into metric '{self.name}' "
                    f"({type(self).__name__}): its keys are {sorted(state)}.",
                    expected=f"the keys {sorted(names)}",
                    fix="Load a state saved by the same kind of metric.",
                )
            )
        for key in names:
            current = getattr(self, key, None)
            if isinstance(current, MetricVariable):  # Keras-style weights are updated in place
                current.assign(state[key])
            else:
                setattr(self, key, _on(state[key], device))

    def merge(self, other: Metric | Mapping[str, Any]) -> None:
        """Add another worker's batches: ``other`` is a metric of the same kind or its state.

        After merging, ``compute()`` equals that of one metric fed both workers' batches.

        Example:
            >>> from deepfuse.metrics import Accuracy
            >>> a, b = Accuracy(), Accuracy()
            >>> a.update(torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
            >>> b.update(torch.tensor([[1.0, 0.0]]), torch.tensor([1]))
            >>> a.merge(b); a.compute()
            0.5
        """
        theirs = other.state_dict() if isinstance(other, Metric) else dict(other)
        mine = self.state_dict()
        if set(theirs) != set(mine):
            raise DataError(
                format_message(
                    f"Cannot merge into metric '{self.name}' ({type(self).__name__}) a state "
                    f"with the keys {sorted(theirs)}.",
                    expected=f"the keys {sorted(mine)}",
                )
            )
        for key, value in self._merge_state(mine, theirs).items():
            setattr(self, key, value)

    def _merge_state(self, mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        """The merged state; the default adds every accumulator (see :func:`_merge_values`)."""
        return {key: _merge_values(mine[key], theirs[key]) for key in mine}

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-able dict (``type(self)(**cfg)`` rebuilds the metric)."""
        config = {key: getattr(self, key) for key in self._config_keys}
        config["name"] = self.name
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        """Rebuild a metric from :meth:`get_config`'s output."""
        return cls(**config)

    def clone(self) -> Metric:
        """A fresh copy with the same settings and no batches seen (works for user subclasses)."""
        metric = copy.deepcopy(self)
        metric.reset()
        return metric

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def match_regression(outputs: Tensor, target: Tensor, metric: str) -> tuple[Tensor, Tensor]:
    """Both as float64 ``(N, K)`` (``(N,)`` becomes ``(N, 1)``); raise DataError on a real mismatch."""
    outputs, target = squeeze_to_match(outputs, target, what=f"Metric '{metric}'")
    dtype = accumulator_dtype(outputs.device)
    outputs, target = outputs.to(dtype), target.to(dtype)
    if outputs.dim() <= 1:
        return outputs.reshape(-1, 1), target.reshape(-1, 1)
    return outputs.reshape(outputs.shape[0], -1), target.reshape(target.shape[0], -1)


class ClassificationMetric(Metric):
    """Shared input handling for classification metrics.

    Args:
        from_logits: ``False`` when the model's outputs are already probabilities.
        threshold: Probability above which a binary output counts as positive (0.5 = logit 0).
        num_classes: Number of classes; inferred from the first batch when ``None``
            (2 for binary outputs, ``C`` for ``(N, C)`` outputs).
        name: The key the metric is logged under.
    """

    _config_keys: ClassVar[tuple[str, ...]] = ("from_logits", "threshold", "num_classes")
    _state_keys: ClassVar[tuple[str, ...]] = ("binary", "num_classes")  # fixed by the 1st batch

    def __init__(
        self,
        *,
        from_logits: bool = True,
        threshold: float = 0.5,
        num_classes: int | None = None,
        name: str | None = None,
        dtype: Any = None,  # Keras' argument, accepted and unused
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise ConfigError(
                format_message(
                    f"Bad 'threshold' for metric '{name or self.registry_name}'.",
                    expected="a probability in (0, 1)",
                    got=threshold,
                )
            )
        if num_classes is not None and num_classes < 2:
            raise ConfigError(
                format_message("Bad 'num_classes'.", expected="an int >= 2", got=num_classes)
            )
        self.from_logits = bool(from_logits)
        self.threshold = float(threshold)
        self.num_classes = num_classes
        # Binary outputs are compared with a logit when from_logits (sigmoid is monotonic).
        self._cut = math.log(threshold / (1.0 - threshold)) if from_logits else threshold
        self.binary: bool | None = None  # set by the first batch
        super().__init__(name=name)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Keras' ``update_state(y_true, y_pred)``. As in Keras, ``y_pred`` is read as the
        model returns it (probabilities: a binary output is compared with ``threshold``
        directly, multi-class scores are not softmaxed), whatever ``from_logits`` says; the
        trainer's ``update`` reads ``from_logits`` (compiled steps pass logits).

        Example:
            >>> from deepfuse.metrics import BinaryAccuracy
            >>> m = BinaryAccuracy()
            >>> m.update_state([1, 1, 0], [0.7, 0.2, 0.4]); round(float(m.result()), 4)
            0.6667
        """
        refuse_weights(self, sample_weight)
        saved = self.from_logits, self._cut
        self.from_logits, self._cut = False, self.threshold  # for this batch only
        try:
            self.update(as_tensor(y_pred), as_tensor(y_true))
        finally:
            self.from_logits, self._cut = saved

    def _shape(self, outputs: Tensor) -> tuple[bool, int]:
        """``(binary, num_classes)`` of a batch; fixes them on the first batch, checks later ones."""
        binary = outputs.dim() == 1 or (outputs.dim() == 2 and outputs.shape[1] == 1)
        if not binary and outputs.dim() != 2:
            raise DataError(
                format_message(
                    f"Metric '{self.name}' got outputs of shape {tuple(outputs.shape)}.",
                    expected="(N,) or (N, 1) for binary, (N, C) for C classes",
                )
            )
        classes = 2 if binary else outputs.shape[1]
        if self.binary is None:
            if self.num_classes is not None and classes != self.num_classes:
                raise DataError(
                    format_message(
                        f"Metric '{self.name}' was set up for {self.num_classes} classes but got "
                        f"outputs of shape {tuple(outputs.shape)} ({classes} classes)."
                    )
                )
            self.binary, self.num_classes = binary, self.num_classes or classes
        elif binary != self.binary or (not binary and classes != self.num_classes):
            raise DataError(
                format_message(
                    f"Metric '{self.name}' got outputs of shape {tuple(outputs.shape)} after batches "
                    f"with {'1 output' if self.binary else f'{self.num_classes} classes'}.",
                    fix="Call reset() before evaluating a different model.",
                )
            )
        return binary, classes

    def _targets(self, outputs: Tensor, target: Tensor, binary: bool) -> Tensor:
        """Class indices ``(N,)`` int64 from indices of any dtype or one-hot rows."""
        if target.dim() == 2 and target.shape[1] == 1:
            target = target.squeeze(1)
        elif target.dim() == 2 and not binary and target.shape[1] == outputs.shape[1]:
            target = target.argmax(1)  # one-hot (or soft) rows
        if target.dim() != 1 or target.shape[0] != outputs.shape[0]:
            raise DataError(
                format_message(
                    f"Metric '{self.name}' got outputs of shape {tuple(outputs.shape)} and a target "
                    f"of shape {tuple(target.shape)}.",
                    expected="class indices (N,) or one-hot rows (N, C) for the same N samples",
                )
            )
        if target.dtype == torch.long:
            return target
        if target.is_floating_point():
            return (target > 0.5).long() if binary else target.round().long()
        return target.long()

    def _predictions(self, outputs: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """``(predicted, true)`` class indices, both ``(N,)`` int64."""
        binary, _ = self._shape(outputs)
        true = self._targets(outputs, target, binary)
        pred = (outputs.reshape(-1) > self._cut).long() if binary else outputs.argmax(1)
        return pred, true

    def reset(self) -> None:
        # num_classes/binary stay: the model's output shape does not change between epochs.
        pass

    def _merge_state(self, mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        """Output shapes are taken from whichever worker saw a batch; the counts add."""
        shape = {}
        for key in ("binary", "num_classes"):
            a, b = mine.pop(key), theirs.pop(key)
            if a is not None and b is not None and a != b:
                raise DataError(
                    format_message(
                        f"Cannot merge metric '{self.name}': one state has {key}={a!r}, the "
                        f"other {key}={b!r}.",
                        expected="states of the same model's outputs",
                    )
                )
            shape[key] = a if a is not None else b
        return {**super()._merge_state(mine, theirs), **shape}


class MeanMetric(Metric):
    """Wrap ``fn(outputs, target) -> scalar`` as a metric: its batch values averaged by batch size.

    This is Keras' rule for custom metric functions. It is exact for per-sample means (e.g.
    a loss) and an approximation otherwise.

    Example:
        >>> m = MeanMetric(lambda o, t: (o - t).abs().max(), name="max_err")
        >>> m.update(torch.tensor([1.0, 4.0]), torch.tensor([1.0, 1.0]))
        >>> m.update(torch.tensor([2.0, 1.0]), torch.tensor([1.0, 1.0]))
        >>> m.compute()
        2.0
    """

    registry_name = "mean"

    def __init__(self, fn: Any, *, name: str | None = None) -> None:
        self.fn = fn
        super().__init__(name=name or getattr(fn, "__name__", None) or "mean")

    def _update(self, outputs: Tensor, target: Tensor) -> None:
        value = torch.as_tensor(self.fn(outputs, target), dtype=torch.float64) * outputs.shape[0]
        self._sum = value if self._sum is None else self._sum + value
        self._count += outputs.shape[0]

    def compute(self) -> float:
        return float("nan") if self._count == 0 else float(self._sum) / self._count

    def reset(self) -> None:
        self._sum: Tensor | None = None
        self._count = 0
