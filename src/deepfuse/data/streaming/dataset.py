"""``LazyDataset``: chainable, immutable transforms over a lazy source, resumable iteration.

Whatever order the transforms are chained in, one epoch runs this pipeline::

    units (row groups / files) --order shuffled by (seed, epoch)--> this rank's share (shard)
      --> read chunk by chunk (projection + expression filter pushed into pyarrow)
      --> select / filter / map, in the order chained, per chunk (vectorised)
      --> window shuffle buffer --> batch --> tensors --> prefetch queue

With ``prefetch(n, num_workers=k)`` the read and select/filter/map steps run in ``k`` worker
processes (:mod:`deepfuse.data.streaming.workers`); the rest stays here, so the output and the
resume state are the same.

Memory is bounded by one shuffle window plus one read chunk plus the prefetch queue, whatever
the dataset size. ``map``/``filter`` functions must be deterministic for resumption to be exact.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.data import tensors
from deepfuse.data.streaming.plan import ShardSpec, make_plan
from deepfuse.data.streaming.prefetch import prefetch as _prefetch
from deepfuse.data.streaming.sources import Source
from deepfuse.data.streaming.stream import Columns, FeedFactory, Op, RowStream, to_arrow
from deepfuse.data.streaming.workers import WorkerFeed

ToTensor = Callable[[str, np.ndarray], torch.Tensor]
_STATE_VERSION = 1


def columns_to_tensors(cols: Columns, to_tensor: ToTensor | None = None) -> dict[str, torch.Tensor]:
    """A batch's numpy columns as tensors, by :mod:`deepfuse.data.tensors`' rule.

    Without ``target=`` the role of a column (feature or target) is unknown, so each keeps its
    values: floats -> float32, integers (uint8 too: class labels or pixels) -> int64, bools ->
    float32 0/1 (the rule for bool features and targets alike). ``batch(target=...)`` says which
    column is the target; :func:`stack_features` then applies the whole rule.

    Other columns (strings, lists) go through ``to_tensor(name, array)``; without it they raise.

    Example:
        >>> b = columns_to_tensors({"x": np.array([1.5, 2.0]), "y": np.array([True, False])})
        >>> b["x"].dtype, b["y"].tolist()
        (torch.float32, [1.0, 0.0])
    """
    out: dict[str, torch.Tensor] = {}
    for name, arr in cols.items():
        if arr.dtype.kind in "fiub":
            out[name] = tensors.to_tensor(arr, label=True, name=name)  # values kept, no layout
        elif to_tensor is not None:
            out[name] = to_tensor(name, arr)
        else:
            raise DataError(
                f"column {name!r} has non-numeric type {arr.dtype}: expected numbers or booleans; "
                "drop it with .select([...]), encode it with .map(...), or pass "
                ".batch(..., to_tensor=fn) to convert it"
            )
    return out


def stack_features(
    cols: Columns, target: str, features: Sequence[str] | None
) -> dict[str, torch.Tensor]:
    """``{"x": (N, F) float32 of the feature columns, "y": the target column}``, by the rule.

    The same as ``fit`` gives for the same arrays (:mod:`deepfuse.data.tensors`): each feature
    column as a feature (uint8 pixels -> [0, 1], bools -> 0/1), stacked as
    :func:`~deepfuse.data.tensors.feature_matrix` stacks a table; the target as a target (bools
    -> float32 for binary losses, integers -> int64 class indices, floats -> float32).

    Example:
        >>> cols = {"a": np.array([0, 255], np.uint8), "b": np.zeros(2), "t": np.array([True, False])}
        >>> out = stack_features(cols, "t", None)
        >>> out["x"].tolist(), out["y"].tolist()
        ([[0.0, 0.0], [1.0, 0.0]], [1.0, 0.0])
    """
    if target not in cols:
        raise DataError(f"Target column {target!r} is not in the data; columns: {sorted(cols)}.")
    names = [c for c in cols if c != target] if features is None else list(features)
    missing = [c for c in names if c not in cols]
    if missing:
        raise DataError(f"Feature columns {missing} are not in the data; columns: {sorted(cols)}.")
    x = tensors.feature_matrix([cols[n] for n in names], names=names, rows=len(cols[target]))
    return {"x": x, "y": tensors.to_tensor(cols[target], label=True, name=target)}


class LazyDataset:
    """A lazy, resumable, shardable stream of rows; every transform returns a new dataset.

    Build one with :func:`scan_parquet`, :func:`scan_csv` or :func:`scan_jsonl`.

    Example:
        >>> ds = (scan_parquet("data/*.parquet")  # doctest: +SKIP
        ...       .filter(pc.field("label") >= 0)
        ...       .shuffle(100_000, seed=0)
        ...       .shard(rank, world_size)
        ...       .batch(1024)
        ...       .prefetch(4))
        >>> for epoch in range(3):  # doctest: +SKIP
        ...     ds.set_epoch(epoch)
        ...     for batch in ds:  # dict[str, torch.Tensor]
        ...         ...
        >>> state = ds.state_dict()  # doctest: +SKIP
    """

    def __init__(self, source: Source, *, read_batch_size: int = 65_536) -> None:
        self._source = source
        self._ops: tuple[Op, ...] = ()
        self._shuffle: tuple[int, int] | None = None  # (buffer_size, seed)
        self._batch: tuple[int, bool, ToTensor | None] | None = None
        self._prefetch = 0
        self._workers: tuple[int, str | None] = (0, None)  # (num_workers, start_method)
        self._shard = ShardSpec()
        self._read_batch_size = read_batch_size
        self._epoch = 0
        self._pending: dict[str, Any] | None = None  # state loaded, applied by the next iter()
        self._live: dict[str, Any] | None = None  # state of the running iteration
        self._peak_rows = 0
        self._token: object | None = None  # identifies the iteration that owns _live

    # ------------------------------------------------------------------ transforms
    def _with(self, **changes: Any) -> LazyDataset:
        new = copy.copy(self)
        new._pending, new._live, new._peak_rows, new._token = None, None, 0, None
        for key, value in changes.items():
            setattr(new, key, value)
        return new

    @property
    def schema(self) -> pa.Schema:
        """Schema of the source rows (after pushed-down column selection, before maps)."""
        return self._source.schema

    def select(self, columns: list[str]) -> LazyDataset:
        """Keeps only ``columns`` (pushed into the reader when no map/filter comes before).

        Example:
            >>> ds = ds.select(["x0", "x1", "label"])  # doctest: +SKIP
        """
        columns = list(columns)
        if not self._ops:
            return self._with(_source=self._source.with_options(columns=columns))
        return self._with(_ops=(*self._ops, ("select", columns, "numpy")))

    def filter(
        self, predicate: pc.Expression | Callable[[Any], Any], *, batch_format: str = "numpy"
    ) -> LazyDataset:
        """Keeps rows matching a pyarrow expression or a vectorised predicate.

        Args:
            predicate: ``pc.field("y") > 0`` (pushed into the reader when nothing comes
                before it), or ``fn(batch) -> bool array`` with one value per row.
            batch_format: What ``fn`` receives: ``"numpy"`` (dict of arrays) or ``"arrow"``.

        Example:
            >>> ds = ds.filter(lambda b: b["x"] > 0)  # doctest: +SKIP
        """
        _check_format(batch_format)
        if isinstance(predicate, pc.Expression) and not self._ops:
            return self._with(_source=self._source.with_options(filter=predicate))
        return self._with(_ops=(*self._ops, ("filter", predicate, batch_format)))

    def map(self, fn: Callable[[Any], Any], *, batch_format: str = "numpy") -> LazyDataset:
        """Applies a vectorised ``fn`` to every chunk of rows (before shuffling and batching).

        Args:
            fn: ``fn(dict[str, np.ndarray]) -> dict[str, np.ndarray]`` (``batch_format="numpy"``)
                or ``fn(pa.RecordBatch) -> pa.RecordBatch`` (``"arrow"``). Must be deterministic.
            batch_format: ``"numpy"`` or ``"arrow"``.

        Example:
            >>> ds = ds.map(lambda b: {**b, "x": b["x"] / 255.0})  # doctest: +SKIP
        """
        _check_format(batch_format)
        return self._with(_ops=(*self._ops, ("map", fn, batch_format)))

    def shuffle(self, buffer_size: int = 100_000, *, seed: int = 0) -> LazyDataset:
        """Shuffles unit (row group / file) order per epoch and rows in windows of ``buffer_size``.

        Deterministic for ``(seed, epoch)``; see :mod:`deepfuse.data.streaming.stream`.

        Example:
            >>> ds = ds.shuffle(100_000, seed=42)  # doctest: +SKIP
        """
        if buffer_size < 1:
            raise DataError(f"shuffle buffer_size must be >= 1, got {buffer_size}")
        return self._with(_shuffle=(int(buffer_size), int(seed)))

    def batch(
        self,
        batch_size: int,
        *,
        drop_last: bool = False,
        to_tensor: ToTensor | None = None,
        target: str | None = None,
        features: Sequence[str] | None = None,
        collate: Callable[[Columns], dict[str, torch.Tensor]] | None = None,
    ) -> LazyDataset:
        """Yields ``dict[str, torch.Tensor]`` batches of ``batch_size`` rows.

        Args:
            batch_size: Rows per batch.
            drop_last: Drop the final short batch.
            to_tensor: ``fn(name, array) -> Tensor`` for non-numeric columns.
            target: With a target column, batches are ``{"x": (N, F) float32, "y": target}``,
                ready for ``model.fit(ds)``: ``x`` stacks ``features`` (default: every other
                column, in file order).
            features: The columns stacked into ``x`` (only with ``target``).
            collate: ``fn(columns: dict[str, np.ndarray]) -> dict[str, Tensor]`` that turns the
                batch's numpy columns into tensors instead of the default conversion (e.g.
                ``Preprocessor.collate``: typed, encoded, grouped inputs plus the target).

        Example:
            >>> next(iter(ds.batch(1024)))["label"].shape  # doctest: +SKIP
            torch.Size([1024])
            >>> model.fit(ds.batch(1024, target="label"), epochs=2)  # doctest: +SKIP
        """
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}")
        if features is not None and target is None:
            raise DataError("batch(features=...) needs target=...: name the label column too.")
        if collate is not None and (target is not None or to_tensor is not None):
            raise DataError(
                "batch(collate=...) builds the whole batch: drop target=/features=/to_tensor= "
                "(the collate function sees every column)."
            )
        how = (target, list(features) if features is not None else None, collate)
        return self._with(_batch=(int(batch_size), bool(drop_last), to_tensor, how))

    def prefetch(
        self, n: int = 2, *, num_workers: int = 0, start_method: str | None = None
    ) -> LazyDataset:
        """Works ahead of the consumer: ``n`` items in a background thread, plus worker processes.

        The thread (``n`` >= 1) overlaps batching and tensor conversion with the training step.
        With ``num_workers=k``, ``k`` processes also read and run the select/filter/map ops
        (CPU-bound CSV/JSON parsing, Python maps that hold the GIL), each up to ``max(n, 1)``
        read chunks ahead; this process keeps the order, shuffle windows, batches and state, so
        the batches and ``state_dict()`` are identical to ``num_workers=0`` for the same seed
        and epoch (see :mod:`deepfuse.data.streaming.workers`).

        Args:
            n: Items produced ahead by the thread (0 disables it); also each worker's queue size.
            num_workers: Worker processes (0: read in this process).
            start_method: ``"fork"`` (default where available: lambdas work), ``"spawn"`` or
                ``"forkserver"`` (the source and maps are pickled: module-level functions only).

        Example:
            >>> ds = ds.batch(1024).prefetch(4, num_workers=2)  # doctest: +SKIP
        """
        if num_workers < 0:
            raise ConfigError(
                f"prefetch num_workers must be >= 0, got {num_workers}: use 0 to read in this "
                "process or the number of worker processes (at most the CPU cores to spare)"
            )
        return self._with(_prefetch=max(int(n), 0), _workers=(int(num_workers), start_method))

    def shard(self, rank: int, world_size: int, *, even: bool = True) -> LazyDataset:
        """Reads only this rank's part of every epoch.

        Args:
            rank: This process's index.
            world_size: Number of processes.
            even: True (default): every rank gets ``total // world_size`` rows, so the same
                number of batches; up to ``world_size - 1`` rows per epoch are dropped
                (truncation, never padding). Needs row counts up front: filters must be
                pyarrow expressions pushed into the reader (a filter after a map is
                refused) and maps must keep the number of rows. False: every row goes to
                exactly one rank; batch counts may differ.

        Example:
            >>> ds = ds.shard(rank=1, world_size=4)  # doctest: +SKIP
        """
        if not 0 <= rank < world_size:
            raise DataError(f"shard rank must be in [0, {world_size}), got {rank}")
        return self._with(_shard=ShardSpec(int(rank), int(world_size), bool(even)))

    # ------------------------------------------------------------------ epochs and state
    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch whose order the next iteration produces (also advanced automatically
        after each full pass)."""
        self._epoch, self._pending, self._live = int(epoch), None, None

    @property
    def epoch(self) -> int:
        """The epoch the next (or current) iteration produces."""
        return self._epoch

    def _fingerprint(self) -> list[Any]:
        shuffle = list(self._shuffle) if self._shuffle else None
        batch = list(self._batch[:2]) if self._batch else None  # list: equal after JSON
        shard = [self._shard.rank, self._shard.world_size, self._shard.even]
        return [len(self._source.units), shuffle, batch, shard, self._read_batch_size]

    def state_dict(self) -> dict[str, Any]:
        """Position after the last item handed out (JSON-able): resume with ``load_state_dict``.

        Example:
            >>> state = ds.state_dict()  # doctest: +SKIP
            >>> fresh = build_same_dataset(); fresh.load_state_dict(state)  # doctest: +SKIP
        """
        pos = self._live or self._pending or {"slice": 0, "offset": 0, "window": 0, "consumed": 0}
        return {
            "version": _STATE_VERSION,
            "epoch": self._epoch,
            **pos,
            "fingerprint": self._fingerprint(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Makes the next iteration resume exactly where ``state`` was taken.

        Raises:
            DataError: when the state comes from a differently configured dataset.
        """
        if state.get("fingerprint") != self._fingerprint():
            raise DataError(
                f"dataset state does not match this dataset: saved {state.get('fingerprint')}, "
                f"expected {self._fingerprint()} ([units, shuffle, batch, shard, read size]); "
                "rebuild the dataset with the same source and transforms"
            )
        self._epoch = int(state["epoch"])
        self._pending = {k: int(state[k]) for k in ("slice", "offset", "window", "consumed")}
        self._live = None

    @property
    def quarantined(self) -> list[dict[str, Any]]:
        """Bad CSV / JSON-lines rows skipped so far: ``file``, 1-based ``line``, ``reason``,
        ``detail``, ``raw``; one record per row however often it is met (see :func:`scan_csv`).

        Example:
            >>> [(r["line"], r["reason"]) for r in ds.quarantined]  # doctest: +SKIP
            [(31, 'invalid_number')]
        """
        return self._source.quarantined

    def stats(self) -> dict[str, int]:
        """Diagnostics: ``peak_buffered_rows`` is the most rows one shuffle window held."""
        return {"peak_buffered_rows": self._peak_rows}

    # ------------------------------------------------------------------ iteration
    def _stream(self, epoch: int, start: dict[str, int] | None) -> RowStream:
        """The epoch's row stream from ``start``; starts worker processes: ``close()`` it."""
        seed = self._shuffle[1] if self._shuffle else None
        if self._shard.world_size > 1 and self._shard.even:
            for kind, _, _ in self._ops:
                if kind == "filter":
                    raise DataError(
                        "shard(even=True) needs row counts before reading, but a filter follows a "
                        "map/select: pass the filter as a pyarrow expression before any map, or "
                        "use shard(..., even=False)"
                    )
        plan = make_plan(self._source, self._shard, seed, epoch)
        window = self._shuffle[0] if self._shuffle else 1
        feed: FeedFactory | None = None
        num_workers, start_method = self._workers
        if num_workers > 0:
            src, ops, size, depth = self._source, self._ops, self._read_batch_size, self._prefetch

            def feed(s: int, off: int) -> WorkerFeed:
                return WorkerFeed(
                    src, plan, ops, size, (s, off), num_workers=num_workers,
                    depth=max(depth, 1), start_method=start_method,
                )  # fmt: skip

        return RowStream(
            self._source, plan, self._ops, window, seed, epoch, self._shard.rank,
            self._read_batch_size, start, feed,
        )  # fmt: skip

    def _items(self, stream: RowStream) -> Iterator[tuple[Any, dict[str, int]]]:
        if self._batch is None:
            for chunk in stream.chunks():
                yield chunk, stream.state()
            return
        size, drop_last, to_tensor, (target, features, collate) = self._batch
        while True:
            cols = stream.take(size)
            if cols is None:
                return
            n = len(next(iter(cols.values()))) if cols else 0
            if n < size and drop_last:
                return
            if collate is not None:
                yield collate(cols), stream.state()
                continue
            if target is not None:
                yield stack_features(cols, target, features), stream.state()
                continue
            yield columns_to_tensors(cols, to_tensor), stream.state()

    def __iter__(self) -> Iterator[Any]:
        epoch, start = self._epoch, self._pending
        self._pending = None
        stream = self._stream(epoch, start)
        items: Iterator[tuple[Any, dict[str, int]]] = self._items(stream)
        if self._prefetch:
            items = _prefetch(items, self._prefetch)
        self._live = dict(start) if start else None
        token = object()
        self._token = token
        try:
            for item, state in items:
                if self._token is token:
                    self._live = state
                    self._peak_rows = max(self._peak_rows, stream.peak_rows)
                yield item
            if self._token is token:  # finished this epoch: the next pass is the next epoch
                self._peak_rows = max(self._peak_rows, stream.peak_rows)
                self._epoch, self._live = epoch + 1, None
                self._source.end_epoch(epoch)  # one warning if bad rows were skipped
        finally:
            # break / error / garbage collection: stop the workers first, so a prefetch thread
            # waiting on them returns, then the thread
            stream.close()
            items.close()  # type: ignore[attr-defined]

    def collect(self) -> pa.Table:
        """Reads everything into one ``pyarrow.Table`` (for small data: it is not bounded).

        Example:
            >>> table = scan_csv("small.csv").filter(pc.field("y") > 0).collect()  # doctest: +SKIP
        """
        if (
            not self._ops
            and self._shuffle is None
            and self._shard.world_size == 1
            and self._source.rows is None  # CSV / JSON lines: bad rows are checked per file
        ):
            src = self._source
            return src.dataset.to_table(columns=src.columns, filter=src.filter)
        stream = self._stream(self._epoch, None)
        try:
            batches = [to_arrow(c) for c in stream.chunks()]
        finally:
            stream.close()
        if not batches:
            return self._source.schema.empty_table()
        return pa.Table.from_batches(batches)

    def __repr__(self) -> str:
        parts = [f"{kind}({getattr(arg, '__name__', arg)!s})" for kind, arg, _ in self._ops]
        if self._shuffle:
            parts.append(f"shuffle({self._shuffle[0]}, seed={self._shuffle[1]})")
        if self._shard.world_size > 1:
            parts.append(f"shard({self._shard.rank}, {self._shard.world_size})")
        if self._batch:
            parts.append(f"batch({self._batch[0]})")
        if self._workers[0]:
            parts.append(f"prefetch({self._prefetch}, num_workers={self._workers[0]})")
        elif self._prefetch:
            parts.append(f"prefetch({self._prefetch})")
        files = len(self._source.dataset.files)
        return f"LazyDataset({self._source.fmt}, {files} file(s))" + "".join("." + p for p in parts)


def _check_format(batch_format: str) -> None:
    if batch_format not in ("numpy", "arrow"):
        raise DataError(f"batch_format must be 'numpy' or 'arrow', got {batch_format!r}")
