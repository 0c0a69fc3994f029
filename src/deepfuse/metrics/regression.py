"""Regression metrics: MSE, MAE and R², streamed exactly in float64.

Multi-output targets ``(N, K)`` are averaged uniformly over the K outputs, as scikit-learn's
default ``multioutput="uniform_average"``.

Example:
    >>> import torch
    >>> m = R2Score()
    >>> m.update(torch.tensor([[1.0], [2.0]]), torch.tensor([1.0, 2.0]))
    >>> m.update(torch.tensor([[3.5]]), torch.tensor([3.0]))
    >>> round(m.compute(), 4)
    0.875
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from deepfuse.metrics.base import Metric, match_regression

__all__ = ["MeanAbsoluteError", "MeanSquaredError", "R2Score"]


class _ErrorSum(Metric):
    """Mean of an elementwise error over every value seen."""

    def _error(self, diff: Tensor) -> Tensor:
        raise NotImplementedError

    def _update(self, outputs: Tensor, target: Tensor) -> None:
        outputs, target = match_regression(outputs, target, self.name)
        total = self._error(outputs - target).sum()
        self._sum = total if self._sum is None else self._sum + total
        self._count += target.numel()

    def compute(self) -> float:
        return float("nan") if self._count == 0 else float(self._sum) / self._count

    def reset(self) -> None:
        self._sum: Tensor | None = None
        self._count = 0


class MeanSquaredError(_ErrorSum):
    """Mean squared error (``sklearn.metrics.mean_squared_error``).

    Example:
        >>> m = MeanSquaredError()
        >>> m.update(torch.tensor([0.0, 2.0]), torch.tensor([0.0, 0.0]))
        >>> m.compute()
        2.0
    """

    registry_name = "mse"

    def _error(self, diff: Tensor) -> Tensor:
        return diff * diff


class MeanAbsoluteError(_ErrorSum):
    """Mean absolute error (``sklearn.metrics.mean_absolute_error``).

    Example:
        >>> m = MeanAbsoluteError()
        >>> m.update(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0]))
        >>> m.compute()
        1.5
    """

    registry_name = "mae"

    def _error(self, diff: Tensor) -> Tensor:
        return diff.abs()


class R2Score(Metric):
    """Coefficient of determination R² (``sklearn.metrics.r2_score``).

    The target variance is merged batch by batch with Chan's parallel formula, so there is no
    ``sum(y²) - n·mean²`` cancellation. A constant target gives 1.0 when predicted exactly and
    0.0 otherwise (sklearn's ``force_finite=True``).

    Example:
        >>> m = R2Score()
        >>> m.update(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0]))
        >>> m.compute()
        1.0
    """

    registry_name = "r2"

    def _update(self, outputs: Tensor, target: Tensor) -> None:
        outputs, target = match_regression(outputs, target, self.name)  # (N, K) float64
        n_b = target.shape[0]
        if n_b == 0:
            return
        mean_b = target.mean(0)
        m2_b = ((target - mean_b) ** 2).sum(0)
        sse_b = ((target - outputs) ** 2).sum(0)
        if self._n == 0:
            self._mean, self._m2, self._sse = mean_b, m2_b, sse_b
        else:
            n = self._n + n_b
            delta = mean_b - self._mean
            self._mean = self._mean + delta * (n_b / n)
            self._m2 = self._m2 + m2_b + delta * delta * (self._n * n_b / n)
            self._sse = self._sse + sse_b
        self._n += n_b

    def _merge_state(self, mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        """Chan et al.'s parallel merge of the running (count, mean, M2); the SSE adds."""
        if not theirs["_n"]:
            return mine
        if not mine["_n"]:
            return theirs
        n_a, n_b = mine["_n"], theirs["_n"]
        n = n_a + n_b
        mean_b = theirs["_mean"].to(mine["_mean"].device)
        delta = mean_b - mine["_mean"]
        return {
            "_n": n,
            "_mean": mine["_mean"] + delta * (n_b / n),
            "_m2": mine["_m2"] + theirs["_m2"].to(delta.device) + delta * delta * (n_a * n_b / n),
            "_sse": mine["_sse"] + theirs["_sse"].to(delta.device),
        }

    def compute(self) -> float:
        if self._n == 0:
            return float("nan")
        sse, m2 = self._sse.cpu(), self._m2.cpu()
        ok = m2 > 0
        r2 = torch.where(
            ok, 1 - sse / torch.where(ok, m2, torch.ones_like(m2)), (sse == 0).to(sse.dtype)
        )  # constant target: 1 if exact else 0
        return float(r2.mean())

    def reset(self) -> None:
        self._n = 0
        self._mean = self._m2 = self._sse = torch.zeros(0)
