"""Bounded-memory, mergeable accumulators for one streaming pass over a dataset.

* :class:`Moments` — count, mean and variance in float64 with Chan et al.'s parallel update
  on data shifted by the first value (numerically stable even when the mean dwarfs the spread;
  every chunk is summarised with numpy, then merged), plus missing values.
* :class:`HeavyHitters` — exact value counts while at most ``capacity`` distinct values were seen;
  beyond that a Misra-Gries summary (the mergeable form of Agarwal et al., 2012): after a merge
  the ``(capacity + 1)``-th largest count is subtracted from every counter and the non-positive
  ones are dropped. Each kept count is an under-estimate by at most :attr:`HeavyHitters.error`,
  which is at most ``total / (capacity + 1)``; a value more frequent than that is never lost.
* :class:`LengthHistogram` — exact quantiles of non-negative integers (text lengths) capped at a
  bound: counts of the values up to the bound plus the smallest value above it.

Memory is bounded by the capacities (plus one chunk), never by the number of rows.

Example:
    >>> import numpy as np, pyarrow as pa
    >>> from deepfuse.data.sketches import HeavyHitters, Moments
    >>> m = Moments()
    >>> m.update(np.array([1.0, np.nan, 3.0])); m.update(np.array([5.0]))
    >>> m.count, m.missing, m.mean, round(m.std, 6)
    (3, 1, 3.0, 1.632993)
    >>> hh = HeavyHitters(capacity=2)
    >>> hh.update(pa.array(["a", "a", "b", "a", "c", "a"]))
    >>> values, counts = hh.counts()                 # "b" and "c" fell below the threshold
    >>> hh.approximate, values.to_pylist(), counts.tolist(), hh.error
    (True, ['a'], [3], 1)
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["HeavyHitters", "LengthHistogram", "Moments"]


class Moments:
    """Running count / mean / sum of squared deviations (float64) and a count of NaNs."""

    def __init__(self) -> None:
        self.count = 0
        self.missing = 0
        self._shift: float | None = None  # first value seen; moments are of x - shift
        self._mean = 0.0  # running mean of x - shift
        self._m2 = 0.0  # sum of squared deviations from the running mean

    @property
    def mean(self) -> float:
        """Mean of the non-missing values (0.0 when there are none)."""
        return 0.0 if self._shift is None else self._shift + self._mean

    def update(self, x: np.ndarray) -> None:
        """Add a chunk of float values; NaN counts as missing."""
        ok = ~np.isnan(x)
        self.missing += int(x.size - ok.sum())
        x = x[ok]
        nb = int(x.size)
        if nb == 0:
            return
        if self._shift is None:
            self._shift = float(x[0])
        # shifted data: chunk means near 0 keep the merge's delta precise when |mean| >> std
        x = x - self._shift
        mb = float(x.mean())
        m2b = float(np.square(x - mb).sum())
        if self.count == 0:
            self.count, self._mean, self._m2 = nb, mb, m2b
            return
        na = self.count
        n = na + nb
        delta = mb - self._mean
        # Chan, Golub & LeVeque: merge two (n, mean, M2) summaries without cancellation
        self._mean += delta * nb / n
        self._m2 += m2b + delta * delta * na * nb / n
        self.count = n

    @property
    def std(self) -> float:
        """Population standard deviation (``ddof=0``, like ``numpy.std``); 0.0 when empty."""
        return math.sqrt(max(self._m2, 0.0) / self.count) if self.count else 0.0


class HeavyHitters:
    """Value counts of a string column: exact up to ``capacity`` distinct values, then Misra-Gries.

    Args:
        capacity: Most distinct values held between chunks (memory: ``capacity`` + one chunk).

    Attributes:
        approximate: True once a reduction dropped anything (counts are then lower bounds).
        error: Largest possible under-count of any kept value (sum of the subtracted thresholds).
        total: Number of (non-null) values seen.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1; got {capacity}.")
        self.capacity = int(capacity)
        self.approximate = False
        self.error = 0
        self.total = 0
        self._keys = pa.array([], pa.string())
        self._counts = np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self._keys)

    def update(self, values: pa.Array) -> None:
        """Count a chunk of (non-null) string values."""
        if len(values) == 0:
            return
        vc = pc.value_counts(values)  # (distinct values in the chunk, their counts)
        self.total += len(values)
        keys = pa.concat_arrays([self._keys, vc.field("values").cast(pa.string())])
        counts = np.concatenate([self._counts, vc.field("counts").to_numpy()])
        if len(self._keys):  # sum the counts of values both in the state and in the chunk
            merged = pa.table({"k": keys, "c": counts}).group_by("k").aggregate([("c", "sum")])
            keys, counts = merged["k"].combine_chunks(), merged["c_sum"].to_numpy()
        if len(keys) > self.capacity:
            # Misra-Gries reduction: subtract the (capacity + 1)-th largest count from every
            # counter; at most `capacity` stay positive (keeps memory bounded by the capacity).
            threshold = int(
                np.partition(counts, len(counts) - self.capacity - 1)[-self.capacity - 1]
            )
            counts = counts - threshold
            keep = counts > 0
            keys, counts = keys.filter(pa.array(keep)), counts[keep]
            self.error += threshold
            self.approximate = True
        self._keys, self._counts = keys, counts

    def counts(self) -> tuple[pa.Array, np.ndarray]:
        """``(values, counts)`` held now, unordered (exact unless :attr:`approximate`)."""
        return self._keys, self._counts


class LengthHistogram:
    """Exact ``numpy.quantile`` (linear interpolation) of integers, in memory bounded by ``bound``.

    Values up to ``bound`` are counted one bucket each; above it only how many and the smallest
    are kept, which is all the interpolation needs while the answer is ``<= bound`` (above that the
    caller clips to ``bound`` anyway; :meth:`quantile` then returns a value ``> bound``).

    Example:
        >>> h = LengthHistogram(bound=10)
        >>> h.update(np.array([3, 1, 50, 7])); h.update(np.array([2]))
        >>> h.quantile(0.5) == float(np.quantile([3, 1, 50, 7, 2], 0.5)), h.quantile(0.9) > 10
        (True, True)
    """

    def __init__(self, bound: int) -> None:
        self.bound = int(bound)
        self._hist = np.zeros(self.bound + 1, np.int64)  # counts of 0..bound
        self._over = 0  # values > bound
        self._over_min: int | None = None  # smallest value > bound

    @property
    def count(self) -> int:
        """Number of values seen."""
        return int(self._hist.sum()) + self._over

    def update(self, values: np.ndarray) -> None:
        """Add a chunk of non-negative integers."""
        values = np.asarray(values, dtype=np.int64)
        big = values > self.bound
        if big.any():
            self._over += int(big.sum())
            low = int(values[big].min())
            self._over_min = low if self._over_min is None else min(self._over_min, low)
        self._hist += np.bincount(values[~big], minlength=self.bound + 1)

    def _value_at(self, rank: int, cum: np.ndarray) -> int:
        """The ``rank``-th smallest value (0-based)."""
        if rank < cum[-1]:
            return int(np.searchsorted(cum, rank, side="right"))
        return self.bound + 1 if self._over_min is None else self._over_min

    def quantile(self, q: float) -> float:
        """``numpy.quantile(values, q)`` (exact when the result is ``<= bound``)."""
        n = self.count
        if n == 0:
            raise ValueError("quantile of an empty histogram")
        cum = np.cumsum(self._hist)
        # numpy's "linear" method: virtual index q * (n - 1), lerp between its two neighbours
        virtual = q * (n - 1)
        lo = math.floor(virtual)
        gamma = virtual - lo
        a = float(self._value_at(lo, cum))
        b = float(self._value_at(min(lo + 1, n - 1), cum))
        if a == b:
            return a
        diff = b - a
        # same float operations as numpy's _lerp, so ceil() of the result agrees exactly
        return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
