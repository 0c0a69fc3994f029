"""Positional splits of a streamed source: validation and test rows held out without reading them.

The last ``validation_split`` (and, without a test file, ``test_split``) share of every unit
(Parquet row group or CSV/JSON file) is held out, cut on running totals, so the three splits are
disjoint, cover every row, and are the same for every run over the same files.

Example:
    >>> import tempfile, numpy as np, pyarrow as pa, pyarrow.parquet as pq
    >>> from deepfuse.data.streaming import scan_parquet
    >>> folder = tempfile.mkdtemp()
    >>> pq.write_table(pa.table({"a": np.arange(100)}), f"{folder}/p.parquet", row_group_size=50)
    >>> train, val, test = split_by_position(scan_parquet(folder)._source, (0.1, 0.2))
    >>> train.total_rows(), val.total_rows(), test.total_rows()
    (70, 10, 20)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from deepfuse._utils.errors import DataError
from deepfuse.data.streaming import Source

__all__ = ["RangeSource", "split_by_position"]


class RangeSource(Source):
    """A :class:`Source` whose units are row ranges ``[lo, hi)`` of another source's units.

    Used to hold out validation/test rows by position without reading them: every range is a
    unit of its own, so shuffling, sharding and exact resume work unchanged.

    Args:
        base: The source whose units are cut.
        ranges: ``(base unit, lo, hi)`` triples; ``lo``/``hi`` count rows after the filter.

    Example:
        >>> sub = RangeSource(src, [(0, 0, 90), (1, 0, 90)])  # doctest: +SKIP
    """

    def __init__(self, base: Source, ranges: list[tuple[int, int, int]]) -> None:
        # the row checker is shared: bad rows met through any split land in one quarantine report
        super().__init__(base.dataset, base.fmt, base.columns, base.filter, rows=base.rows)
        self.base = base
        self.ranges = [r for r in ranges if r[2] > r[1]]

    def with_options(
        self, columns: list[str] | None = None, filter: Any = None
    ) -> Source:  # a filter would change the row counts the ranges were cut from
        if filter is not None:
            raise DataError(
                "A pushed-down filter cannot be added after the data was split by position; "
                "filter with a map/filter op instead, or filter the files before training."
            )
        return RangeSource(self.base.with_options(columns=columns), self.ranges)

    @property
    def units(self) -> list[Any]:
        return [self.base.units[u] for u, _, _ in self.ranges]

    def count(self, unit: int) -> int:
        _, lo, hi = self.ranges[unit]
        return hi - lo

    def read(
        self, unit: int, start: int = 0, stop: int | None = None, batch_size: int = 65_536
    ) -> Iterator[pa.RecordBatch]:
        base_unit, lo, hi = self.ranges[unit]
        end = hi if stop is None else min(lo + stop, hi)
        yield from self.base.read(base_unit, lo + start, end, batch_size)

    def total_rows(self) -> int:
        """Rows over every range."""
        return sum(hi - lo for _, lo, hi in self.ranges)


def split_by_position(
    source: Source, fractions: tuple[float, float], limit: int | None = None
) -> tuple[RangeSource, RangeSource, RangeSource]:
    """Cut every unit into ``[train | validation | test]`` row ranges.

    Args:
        source: The full training source.
        fractions: ``(validation share, test share)`` of every unit (``0`` for none).
        limit: Use only the first ``limit`` rows of the source (``data.limit``).

    Returns:
        ``(train, validation, test)`` sources: disjoint, together every (limited) row.

    Example:
        >>> train, val, test = split_by_position(src, (0.1, 0.2))  # doctest: +SKIP
    """
    val_share, test_share = fractions
    parts: tuple[list, list, list] = ([], [], [])
    remaining = math.inf if limit is None else int(limit)
    seen = 0  # rows before this unit: shares are cut on running totals, so tiny units still
    for unit in range(len(source.units)):  # add up to the asked share overall
        if remaining <= 0:
            break
        n = int(min(source.count(unit), remaining))
        remaining -= n
        n_test = round((seen + n) * test_share) - round(seen * test_share)
        n_val = round((seen + n) * val_share) - round(seen * val_share)
        n_test = min(n_test, n)
        n_val = min(n_val, n - n_test)
        seen += n
        a, b = n - n_val - n_test, n - n_test
        parts[0].append((unit, 0, a))
        parts[1].append((unit, a, b))
        parts[2].append((unit, b, n))
    train, val, test = (RangeSource(source, p) for p in parts)
    return train, val, test
