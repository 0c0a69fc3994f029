"""What ``evaluate`` returns, like Keras (``fit`` returns a
:class:`deepfuse.training.callbacks.History`).

Example:
    >>> s = Scores({"loss": 0.5, "accuracy": 0.9})
    >>> loss, acc = s                      # Keras: test_loss, test_acc = model.evaluate(...)
    >>> s["accuracy"], s[1]
    (0.9, 0.9)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Scores"]


class Scores(list):
    """Evaluation results: a list of values in Keras order (loss first) that is also indexable
    by metric name (``scores["accuracy"]``) and has ``as_dict()``, ``keys()``, ``items()``."""

    def __init__(self, values: Mapping[str, float]) -> None:
        super().__init__(values.values())
        self.names = list(values.keys())

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            try:
                return list.__getitem__(self, self.names.index(key))
            except ValueError:
                raise KeyError(f"No metric named {key!r}; available: {self.names}") from None
        return list.__getitem__(self, key)

    def as_dict(self) -> dict[str, float]:
        """The results as ``{name: value}``."""
        return dict(zip(self.names, self, strict=True))

    def keys(self) -> list[str]:
        return list(self.names)

    def items(self) -> list[tuple[str, float]]:
        return list(self.as_dict().items())

    def __repr__(self) -> str:
        return "Scores(" + ", ".join(f"{k}={v:.4g}" for k, v in self.as_dict().items()) + ")"
