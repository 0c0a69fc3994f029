"""Per-epoch work plans: the (shuffled) unit order and each rank's share of it.

A plan is a list of slices ``(unit, start, stop)``; ``start``/``stop`` count rows *after* the
pushed-down filter of the source. Every rank computes the same global order from
``(seed, epoch)`` and takes its part, so no communication is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepfuse.data.streaming.sources import Source

Slice = tuple[int, int, int | None]  # (unit index, first row, stop row or None = to the end)


@dataclass(frozen=True)
class ShardSpec:
    """Which part of the data this process reads.

    Attributes:
        rank: This process's index in ``[0, world_size)``.
        world_size: Number of processes sharing the data.
        even: If True every rank gets exactly ``total // world_size`` rows (the last
            ``total % world_size`` rows of the epoch's order are dropped, a different few each
            epoch when shuffling), hence the same number of batches. If False every row goes to
            exactly one rank and ranks may differ by up to one unit (row group/file) of rows.
    """

    rank: int = 0
    world_size: int = 1
    even: bool = True


def unit_order(n_units: int, seed: int | None, epoch: int) -> list[int]:
    """Unit order for an epoch: identity without a seed, else a permutation of (seed, epoch)."""
    if seed is None:
        return list(range(n_units))
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(n_units).tolist()


def _row_range_plan(source: Source, order: list[int], lo: int, hi: int) -> list[Slice]:
    """Slices covering rows ``[lo, hi)`` of the concatenation of ``order``'s units."""
    plan: list[Slice] = []
    pos = 0
    for unit in order:
        n = source.count(unit)
        a, b = max(lo - pos, 0), min(hi - pos, n)
        if b > a:
            plan.append((unit, a, None if b == n else b))
        pos += n
        if pos >= hi:
            break
    return plan


def make_plan(source: Source, shard: ShardSpec, seed: int | None, epoch: int) -> list[Slice]:
    """This rank's slices for one epoch.

    Units are dealt round-robin when ``even=False`` and there are at least ``world_size`` units
    (no row counts needed). Otherwise the epoch's rows are cut into contiguous row ranges, which
    needs per-unit row counts (Parquet metadata; a counting pass for CSV/JSON, cached).

    Example:
        >>> make_plan(src, ShardSpec(rank=1, world_size=2, even=False), 0, 0)  # doctest: +SKIP
        [(3, 0, None), (0, 0, None)]
    """
    order = unit_order(len(source.units), seed, epoch)
    r, w = shard.rank, shard.world_size
    if w == 1:
        return [(u, 0, None) for u in order]
    if not shard.even and len(order) >= w:
        return [(u, 0, None) for u in order[r::w]]
    total = sum(source.count(u) for u in order)
    if shard.even:
        k = total // w
        return _row_range_plan(source, order, r * k, (r + 1) * k)
    return _row_range_plan(source, order, r * total // w, (r + 1) * total // w)
