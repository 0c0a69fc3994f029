"""``MetricSet``: several metrics updated together, computed into one flat ``dict[str, float]``.

The training loop calls ``update`` every step: it detaches the batch once, disables grad once,
and each metric only adds to on-device counters (no ``.item()``), so a step is never synced.

Example:
    >>> import torch
    >>> ms = MetricSet(["accuracy", "confusion_matrix", {"name": "f1", "average": "micro"}])
    >>> ms.update(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
    >>> ms.compute()
    {'accuracy': 0.5, 'f1': 0.5}
    >>> ms.results()["confusion_matrix"].tolist()
    [[1, 1], [0, 0]]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor

from deepfuse._utils.errors import ConfigError, DataError, format_message
from deepfuse.metrics.base import Metric

__all__ = ["MetricSet"]


class MetricSet:
    """An ordered group of metrics keyed by ``metric.name``.

    Args:
        metrics: Metrics as anything ``deepfuse.metrics.get`` accepts (names, dicts, ``Metric``
            objects), or a mapping ``{key: metric}`` to choose the logged keys. ``None`` = empty.
        prefix: Prepended to every key of ``compute()`` (e.g. ``"val_"``).

    ``Metric`` objects are cloned (fresh state), so one list can build a training set and a
    validation set that never share counts.

    Raises:
        ConfigError: Two metrics share a name.
    """

    def __init__(
        self, metrics: Iterable[Any] | Mapping[str, Any] | None = None, *, prefix: str = ""
    ) -> None:
        from deepfuse.metrics import get  # the registry imports this module

        self.prefix = prefix
        self.metrics: dict[str, Metric] = {}
        items = (
            metrics.items() if isinstance(metrics, Mapping) else ((None, m) for m in metrics or ())
        )
        for key, spec in items:
            metric = spec.clone() if isinstance(spec, Metric) else get(spec)
            if key is not None:
                metric.name = key
            if metric.name in self.metrics:
                raise ConfigError(
                    format_message(
                        f"Two metrics are both named '{metric.name}'.",
                        fix="Key them yourself: MetricSet({'f1_micro': {'name': 'f1', 'average': "
                        "'micro'}, ...}), or pass F1Score(average='micro', name='f1_micro').",
                    )
                )
            self.metrics[metric.name] = metric

    def update(self, outputs: Tensor, target: Tensor) -> None:
        """Add one batch to every metric."""
        with torch.no_grad():
            outputs, target = outputs.detach(), target.detach()
            for metric in self.metrics.values():
                metric._update(outputs, target)

    def results(self) -> dict[str, Any]:
        """Every metric's raw ``compute()`` (floats, tensors, lists) keyed by name (no prefix)."""
        return {name: metric.compute() for name, metric in self.metrics.items()}

    def compute(self) -> dict[str, float]:
        """Scalar results as ``{prefix + name: float}``.

        Dict results are flattened to ``name_key``; tensor and list results (confusion matrix,
        per-class scores) are left out here: read them with :meth:`results`.
        """
        flat: dict[str, float] = {}
        for name, value in self.results().items():
            if isinstance(value, Mapping):
                for key, inner in value.items():
                    if isinstance(inner, int | float):
                        flat[f"{self.prefix}{name}_{key}"] = float(inner)
            elif isinstance(value, int | float) or (
                isinstance(value, Tensor) and value.numel() == 1
            ):
                flat[self.prefix + name] = float(value)
        return flat

    def reset(self) -> None:
        """Reset every metric."""
        for metric in self.metrics.values():
            metric.reset()

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """Every metric's running state, keyed by name (see ``Metric.state_dict``)."""
        return {name: metric.state_dict() for name, metric in self.metrics.items()}

    def load_state_dict(
        self, state: Mapping[str, Mapping[str, Any]], *, device: torch.device | None = None
    ) -> None:
        """Load :meth:`state_dict` into the metrics of the same names; tensors to ``device``.

        Raises:
            DataError: ``state`` names other metrics than this set's.
        """
        if set(state) != set(self.metrics):
            raise DataError(
                format_message(
                    f"Cannot load metric states for {sorted(state)} into a set of "
                    f"{sorted(self.metrics)}.",
                    fix="Compile the model with the same metrics as the run that saved them.",
                )
            )
        for name, metric in self.metrics.items():
            metric.load_state_dict(state[name], device=device)

    def merge(self, other: MetricSet | Mapping[str, Mapping[str, Any]]) -> None:
        """Add another worker's metric states (a ``MetricSet`` or its :meth:`state_dict`).

        Example:
            >>> a, b = MetricSet(["accuracy"]), MetricSet(["accuracy"])
            >>> a.update(torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
            >>> b.update(torch.tensor([[1.0, 0.0]]), torch.tensor([1]))
            >>> a.merge(b.state_dict()); a.compute()
            {'accuracy': 0.5}
        """
        theirs = other.state_dict() if isinstance(other, MetricSet) else other
        for name, metric in self.metrics.items():
            metric.merge(theirs[name])

    def __len__(self) -> int:
        return len(self.metrics)

    def __iter__(self) -> Iterator[Metric]:
        return iter(self.metrics.values())

    def __getitem__(self, name: str) -> Metric:
        return self.metrics[name]

    def __contains__(self, name: object) -> bool:
        return name in self.metrics

    def __repr__(self) -> str:
        return f"MetricSet({list(self.metrics.values())!r})"
