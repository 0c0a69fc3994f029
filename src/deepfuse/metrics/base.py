"""The ``Metric`` base class and the input conventions every metric shares.

A metric is exact over a whole set and streamed batch by batch: ``update`` adds one batch to
running counts/sums (kept on the batch's device, in int64/float64, with no ``.item()`` so a GPU
is not synced every step) and ``compute`` turns them into the result.

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
from typing import Any, ClassVar

import torch
from torch import Tensor

from deepfuse._utils.errors import ConfigError, DataError, format_message
from deepfuse._utils.specs import squeeze_to_match

__all__ = ["ClassificationMetric", "MeanMetric", "Metric", "accumulator_dtype", "match_regression"]


def accumulator_dtype(device: torch.device) -> torch.dtype:
    """float64 for exact sums, except on MPS which has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


class Metric:
    """Base class: ``update(outputs, target)``, ``compute()``, ``reset()``, ``name``, ``get_config()``.

    Subclasses implement ``_update`` (on detached tensors, grad disabled), ``compute`` and
    ``reset``, set ``registry_name`` and list their constructor arguments in ``_config_keys``.

    Args:
        name: The key the metric is logged under (defaults to its registry name).
    """

    registry_name: ClassVar[str] = "metric"
    _config_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name or self.registry_name
        self.reset()

    def update(self, outputs: Tensor, target: Tensor) -> None:
        """Add one batch: ``outputs`` (logits or values) against ``target``."""
        with torch.no_grad():
            self._update(outputs.detach(), target.detach())

    def _update(self, outputs: Tensor, target: Tensor) -> None:
        raise NotImplementedError

    def compute(self) -> Any:
        """The metric over every batch since the last ``reset`` (``nan`` before any batch)."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget every batch seen so far."""
        raise NotImplementedError

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

    def __init__(
        self,
        *,
        from_logits: bool = True,
        threshold: float = 0.5,
        num_classes: int | None = None,
        name: str | None = None,
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
