"""Keras' metric API on every :class:`~deepfuse.metrics.Metric`: ``update_state``, ``result``,
``reset_state``, and ``add_weight`` for metrics written the Keras way.

A metric written for Keras (``class TruePositives(keras.metrics.Metric)`` with
``self.tp = self.add_weight(...)``, ``update_state`` doing ``self.tp.assign_add(...)``, ``result``
and optionally ``reset_state``) runs unchanged: its weights are :class:`MetricVariable` tensors,
they are its state (``state_dict`` / ``merge`` / ``reset`` see them), Keras' default
``reset_state`` zeroes them, and ``compile(metrics=[...])`` feeds it through ``update_state``.

Example:
    >>> import torch
    >>> from deepfuse.metrics import Metric
    >>> class Total(Metric):
    ...     def __init__(self, name="total", **kwargs):
    ...         super().__init__(name=name, **kwargs)
    ...         self.total = self.add_weight(name="total", initializer="zeros")
    ...     def update_state(self, y_true, y_pred, sample_weight=None):
    ...         self.total.assign_add(torch.sum(torch.as_tensor(y_pred)))
    ...     def result(self):
    ...         return self.total
    >>> m = Total(); m.update_state(None, [1.0, 2.0]); float(m.result())
    3.0
    >>> m.reset_state(); float(m.result()), m.state_dict()
    (0.0, {'total': MetricVariable(0.)})
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from deepfuse._utils.errors import UserError, invalid_choice
from deepfuse._utils.variables import KerasVariable

__all__ = ["KerasMetricAPI", "MetricVariable", "as_tensor"]

_INITIALIZERS = {"zeros": torch.zeros, "ones": torch.ones}


def as_tensor(value: Any) -> Tensor:
    """An array, list or number as a tensor (tensors pass unchanged)."""
    return value if isinstance(value, Tensor) else torch.as_tensor(np.asarray(value))


class MetricVariable(KerasVariable, Tensor):
    """A metric's state tensor with Keras' in-place ``assign`` / ``assign_add`` / ``assign_sub``.

    Example:
        >>> v = torch.zeros(2).as_subclass(MetricVariable)
        >>> v.assign_add([1.0, 2.0]).assign_sub(1.0).tolist()
        [0.0, 1.0]
    """

    def __deepcopy__(self, memo: dict) -> MetricVariable:
        return self.detach().clone().as_subclass(MetricVariable)


class KerasMetricAPI:
    """Keras' names; :class:`~deepfuse.metrics.Metric` inherits them (see the module doc)."""

    name: str

    # The deepfuse side, implemented by Metric (declared here for the type checker).
    def update(self, outputs: Tensor, target: Tensor) -> None:
        raise NotImplementedError

    def compute(self) -> Any:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ Keras API
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Keras' ``update_state(y_true, y_pred)`` (Keras' order): add one batch.

        Raises:
            UserError: ``sample_weight`` is given (only ``Mean`` and ``Sum`` take weights).
        """
        refuse_weights(self, sample_weight)
        self.update(as_tensor(y_pred), as_tensor(y_true))

    def result(self) -> Any:
        """Keras' ``result()``: a 0-d float32 tensor (``float(m.result())`` works); ``nan``
        (no batch yet, or an undefined ratio) reads as 0.0, Keras' divide-no-nan rule. Results
        that are not one number (a confusion matrix) are returned as ``compute()`` gives them."""
        value = self.compute()
        if isinstance(value, int | float):
            return torch.tensor(0.0 if math.isnan(value) else value, dtype=torch.float32)
        return value

    def reset_state(self) -> None:
        """Keras' ``reset_state()``: the same as ``reset()``."""
        self.reset()

    reset_states = reset_state  # Keras 2's spelling

    def add_weight(
        self,
        name: str | None = None,
        shape: tuple[int, ...] = (),
        initializer: str = "zeros",
        dtype: Any = None,
        aggregation: str = "sum",
    ) -> MetricVariable:
        """A state tensor for a Keras-style metric (``"zeros"`` or ``"ones"``, float32 default).

        ``aggregation`` is accepted for Keras; merging workers always adds the weights.
        """
        if initializer not in _INITIALIZERS:
            raise invalid_choice("initializer of a metric weight", initializer, list(_INITIALIZERS))
        torch_dtype = getattr(torch, str(dtype or "float32").replace("torch.", ""), None)
        if not isinstance(torch_dtype, torch.dtype):
            raise invalid_choice(
                "dtype of a metric weight", dtype, ["float32", "float64", "int32", "int64"]
            )
        return _INITIALIZERS[initializer](tuple(shape), dtype=torch_dtype).as_subclass(
            MetricVariable
        )

    @property
    def variables(self) -> list[MetricVariable]:
        """The weights made with :meth:`add_weight`, in creation order."""
        return [v for v in vars(self).values() if isinstance(v, MetricVariable)]

    # ---------------------------------------------- defaults for Keras-style subclasses
    def _keras_update(self, outputs: Tensor, target: Tensor) -> None:
        """``update``'s default: a Keras-style metric's own ``update_state(y_true, y_pred)``."""
        if type(self).update_state is KerasMetricAPI.update_state:
            raise NotImplementedError(
                f"{type(self).__name__} implements neither _update nor update_state"
            )
        self.update_state(target, outputs)

    def _keras_compute(self) -> Any:
        """``compute``'s default: a Keras-style metric's ``result()`` as a float."""
        if type(self).result is KerasMetricAPI.result:
            raise NotImplementedError(
                f"{type(self).__name__} implements neither compute nor result"
            )
        value = self.result()
        return float(value) if isinstance(value, Tensor) and value.numel() == 1 else value

    def _keras_reset(self) -> None:
        """``reset``'s default: the metric's own ``reset_state``, else Keras' (zero every weight).
        Nothing to do before ``add_weight`` (the base ``__init__`` resets before the weights exist)."""
        if not self.variables:
            return
        if type(self).reset_state is not KerasMetricAPI.reset_state:
            self.reset_state()
            return
        for variable in self.variables:
            variable.assign(0)

    def _keras_style(self) -> bool:
        """True for a metric keeping its state in :meth:`add_weight` weights."""
        return bool(self.variables)


def refuse_weights(metric: Any, sample_weight: Any) -> None:
    """Raise a one-line UserError when ``sample_weight`` is given to a metric that has none."""
    if sample_weight is not None:
        raise UserError(
            f"Metric '{metric.name}' ({type(metric).__name__}) does not take sample_weight in "
            "deepfuse; only keras.metrics.Mean and Sum do. Drop sample_weight, or select the "
            "rows to count before update_state."
        )
