"""Fit a :class:`~deepfuse.data.Preprocessor` on a :class:`~deepfuse.data.LazyDataset` in one pass.

Feature types come from the first ``sample_rows`` rows (the same :func:`infer_schema` as the
in-memory fit); every statistic then comes from one pass over *all* rows, read in file order
(the dataset's shuffle, shard and batch settings are ignored), with memory bounded by the caps:

=============  ===================================================  ==============================
column         accumulated                                          exact?
=============  ===================================================  ==============================
numeric        count / mean / M2 in float64 (Chan's merge), NaNs    yes (to float64 rounding)
binary         counts of the two values, missing                    yes
categorical    value counts, missing                                while <= ``max_categories``
                                                                    distinct; then Misra-Gries
text           word counts; length histogram up to ``max_len_cap``  words: while <= 4 x
                                                                    ``max_tokens`` distinct;
                                                                    length quantile: yes
target         distinct labels (at most ``max_classes``)            yes; a regression target with
                                                                    more distinct values keeps
                                                                    only "more than N" in reason
image          size/channels of the first image (in the sample)     yes
=============  ===================================================  ==============================

An approximate encoder says so: ``stats["approximate"] is True`` with the reason in
``stats["approximation"]``, and the reason is saved in its config.

Example:
    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> from deepfuse.data import Preprocessor, scan_parquet
    >>> path = tempfile.mkdtemp() + "/t.parquet"
    >>> t = pa.table({"x": [1.0, 2.0, None, 4.0] * 5, "c": list("abca") * 5, "y": [0, 1] * 10})
    >>> pq.write_table(t, path, row_group_size=3)
    >>> pre = Preprocessor().fit(scan_parquet(path), "y")          # one streaming pass
    >>> mem = Preprocessor().fit(t, "y")                              # the in-memory fit
    >>> abs(pre.schema["x"].stats["mean"] - mem.schema["x"].stats["mean"]) < 1e-15
    True
    >>> pre.schema["c"].stats == mem.schema["c"].stats, pre.classes == mem.classes
    (True, True)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from deepfuse._utils.errors import ConfigError, DataError, invalid_choice
from deepfuse.data.columns import as_array, as_string, parse_numeric, row_of_first
from deepfuse.data.encoders import BinaryEncoder, CategoricalEncoder, NumericEncoder
from deepfuse.data.schema import TARGET_TYPES, Schema, TargetSpec, _infer_target, infer_schema
from deepfuse.data.sketches import HeavyHitters, LengthHistogram, Moments
from deepfuse.data.streaming.dataset import LazyDataset
from deepfuse.data.streaming.stream import apply_ops, to_arrow
from deepfuse.data.text import TextEncoder, tokenize_array

__all__ = ["StreamingFit", "arrow_chunks"]

TEXT_CAPACITY_FACTOR = 4  # word counters held per vocabulary slot before the sketch evicts


def arrow_chunks(ds: LazyDataset) -> Iterator[pa.RecordBatch]:
    """Record batches of ``ds`` in file order, after its select/filter/map, ignoring shuffle/shard.

    The same rows, types and order as ``ds.collect()`` of an unshuffled, unsharded dataset.
    """
    # Reads the source directly (not through the batch iterator) so column types survive: the
    # numpy chunks of iteration turn an int column with nulls into floats with NaN.
    src, ops = ds._source, ds._ops
    for unit in range(len(src.units)):
        for rb in src.read(unit, 0, None, ds._read_batch_size):
            out = rb if not ops else to_arrow(apply_ops(rb, ops))
            if out.num_rows:
                yield out


class _Binary:
    """Counts of each distinct value (at most two are legal) and of missing values."""

    def __init__(self, name: str) -> None:
        self.name, self.counts, self.missing, self.type = name, {}, 0, None

    def update(self, col: pa.Array) -> None:
        self.missing += col.null_count
        vc = pc.value_counts(pc.drop_null(col))
        for v, n in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
            self.counts[v] = self.counts.get(v, 0) + n
        self.type = self.type or (col.type if len(vc) else None)
        if len(self.counts) > 2:
            raise DataError(
                f"Column '{self.name}' is declared binary but holds {len(self.counts)} distinct "
                "values; expected exactly 2."
            )

    def encoder(self) -> BinaryEncoder:
        if len(self.counts) != 2:
            raise DataError(
                f"Column '{self.name}' is declared binary but holds {len(self.counts)} distinct "
                "values; expected exactly 2."
            )
        # the same order as BinaryEncoder.fit: pyarrow's sort of the two values (bools as 0/1)
        uniq = pa.array(list(self.counts), type=self.type)
        values = uniq.take(pc.sort_indices(uniq)).to_pylist()
        ones = self.counts[values[1]]
        if pa.types.is_boolean(self.type):
            values = [int(v) for v in values]
        fill = ones / sum(self.counts.values())  # = nanmean of the 0/1 codes
        return BinaryEncoder(self.name, values, fill, self.missing)

    def size(self) -> int:
        return len(self.counts)


def _approximation(hh: HeavyHitters, what: str, consequence: str) -> str | None:
    """Why a vocabulary from a bounded counter is approximate (``None`` when it is exact)."""
    if not hh.approximate:
        return None
    return (
        f"more than {hh.capacity} distinct {what}: kept the heavy hitters of a Misra-Gries "
        f"summary (counts under-estimated by at most {hh.error} of {hh.total}){consequence}"
    )


class _Categorical:
    def __init__(self, name: str, capacity: int) -> None:
        self.name, self.missing, self.counts = name, 0, HeavyHitters(capacity)

    def update(self, col: pa.Array) -> None:
        text = as_string(col)
        self.missing += text.null_count
        self.counts.update(pc.drop_null(text))

    def encoder(self) -> CategoricalEncoder:
        why = _approximation(self.counts, "values", "; rarer values map to 0 (unknown)")
        return CategoricalEncoder(self.name).fit_counts(*self.counts.counts(), self.missing, why)

    def size(self) -> int:
        return len(self.counts)


class _Text:
    def __init__(self, enc: TextEncoder, capacity: int) -> None:
        self.enc, self.counts = enc, HeavyHitters(capacity)
        self.lengths = None if enc.max_len is not None else LengthHistogram(enc.max_len_cap)

    def update(self, col: pa.Array) -> None:
        lists = tokenize_array(col)
        self.counts.update(pc.list_flatten(lists))
        if self.lengths is not None:
            self.lengths.update(pc.list_value_length(lists).to_numpy())

    def encoder(self) -> TextEncoder:
        why = _approximation(self.counts, "words", "")
        self.enc.fit_counts(*self.counts.counts(), why)
        if self.lengths is not None:
            n = self.lengths.count
            self.enc.set_length_quantile(
                self.lengths.quantile(self.enc.length_quantile) if n else None
            )
        return self.enc

    def size(self) -> int:
        return len(self.counts)


class _Numeric:
    def __init__(self, name: str) -> None:
        self.name, self.moments = name, Moments()

    def update(self, col: pa.Array) -> None:
        self.moments.update(parse_numeric(col, self.name))

    def encoder(self) -> NumericEncoder:
        m = self.moments
        std = m.std if m.count else 0.0
        return NumericEncoder(
            self.name, m.mean if m.count else 0.0, std if std > 0 else 1.0, m.missing
        )

    def size(self) -> int:
        return 1


class _Target:
    """Distinct labels (bounded by ``max_classes``) decide the task exactly as in memory."""

    def __init__(self, name: str, forced: str | None, max_classes: int) -> None:
        self.name, self.forced, self.max_classes = name, forced, max_classes
        self.distinct: pa.Array | None = None
        self.overflow = False  # more distinct values than max_classes (numeric: regression)

    def update(self, col: pa.Array, row0: int) -> None:
        if col.null_count:
            row = row0 + row_of_first(pc.is_null(col))
            raise DataError(
                f"Target column '{self.name}' is missing in row {row}. "
                "Drop those rows or fill them before training."
            )
        if self.overflow:
            return
        uniq = pc.unique(col)
        self.distinct = (
            uniq
            if self.distinct is None
            else pc.unique(pa.concat_arrays([self.distinct, uniq.cast(self.distinct.type)]))
        )
        if len(self.distinct) > self.max_classes:
            numeric = pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
            if not numeric or self.forced == "classification":
                raise DataError(
                    f"Target column '{self.name}' holds more than {self.max_classes} distinct "
                    f"labels ({col.type}); that is not a classification target. Use a numeric "
                    "target with overrides={'" + self.name + "': 'regression'}, pick another "
                    "column, or raise max_classes in fit_stream()."
                )
            self.overflow, self.distinct = True, self.distinct.slice(0, 0)

    def spec(self) -> TargetSpec:
        assert self.distinct is not None
        if self.overflow:
            kind = f"{self.distinct.type} with more than {self.max_classes} distinct values"
            reason = "forced" if self.forced else kind
            return TargetSpec(self.name, "regression", None, reason)
        # the in-memory rule applied to the distinct labels gives the in-memory answer
        return _infer_target(pa.table({self.name: self.distinct}), self.name, self.forced)

    def size(self) -> int:
        return 0 if self.distinct is None else len(self.distinct)


class StreamingFit:
    """Accumulators of every typed column; feed chunks with :meth:`update`, then :meth:`finish`.

    Args:
        schema: Feature types (from :func:`infer_schema` on a sample); stats are filled in.
        encoders: Unfitted text/image encoders by column (image ones must already be fitted).
        target: The target column, or ``None``.
        forced_target: ``"classification"``/``"regression"`` from overrides, or ``None``.
        max_categories: Distinct values counted exactly per categorical column.
        max_classes: Most distinct labels of a classification target.
    """

    def __init__(
        self,
        schema: Schema,
        encoders: dict[str, Any],
        target: str | None,
        forced_target: str | None,
        *,
        max_categories: int,
        max_classes: int,
    ) -> None:
        self.schema, self.rows = schema, 0
        self.columns: dict[str, Any] = {}
        self.fixed = {}  # encoders fitted before the pass (images)
        for spec in schema.features:
            if spec.type == "numeric":
                self.columns[spec.name] = _Numeric(spec.name)
            elif spec.type == "binary":
                self.columns[spec.name] = _Binary(spec.name)
            elif spec.type == "categorical":
                self.columns[spec.name] = _Categorical(spec.name, max_categories)
            elif spec.type == "text":
                enc = encoders[spec.name]
                cap = max_categories if enc.max_tokens is None else enc.max_tokens
                self.columns[spec.name] = _Text(enc, TEXT_CAPACITY_FACTOR * cap)
            elif spec.type == "image":
                self.fixed[spec.name] = encoders[spec.name]
        self.target = None if target is None else _Target(target, forced_target, max_classes)

    def update(self, rb: pa.RecordBatch | pa.Table) -> None:
        """Add one chunk of rows."""
        names = rb.schema.names
        for name, acc in self.columns.items():
            if name not in names:
                raise DataError(
                    f"Column '{name}' is missing from a chunk of the dataset starting at row "
                    f"{self.rows + 1}; columns: {', '.join(names)}. Every file must hold it."
                )
            try:
                acc.update(as_array(rb.column(name)))
            except DataError as e:  # chunk-relative row numbers -> dataset row numbers
                msg = re.sub(r"\brow (\d+)", lambda m: f"row {int(m.group(1)) + self.rows}", str(e))
                raise DataError(msg) from None
        if self.target is not None:
            self.target.update(as_array(rb.column(self.target.name)), self.rows)
        self.rows += rb.num_rows

    def sizes(self) -> dict[str, int]:
        """Entries held per column (counters, distinct labels): bounded by the caps, not rows."""
        out = {name: acc.size() for name, acc in self.columns.items()}
        if self.target is not None:
            out[self.target.name] = self.target.size()
        return out

    def finish(self) -> tuple[Schema, dict[str, Any]]:
        """The schema (target and stats filled in) and the fitted encoders, in schema order."""
        if self.rows == 0:
            raise DataError("The dataset has no rows; expected at least one row of training data.")
        encoders: dict[str, Any] = {}
        for spec in self.schema.features:
            if spec.name in self.columns:
                encoders[spec.name] = self.columns[spec.name].encoder()
            elif spec.name in self.fixed:
                encoders[spec.name] = self.fixed[spec.name]
        if self.target is not None:
            self.schema.target = self.target.spec()
        return self.schema, encoders


def sample_and_rest(
    chunks: Iterator[pa.RecordBatch], sample_rows: int
) -> tuple[pa.Table, list[pa.RecordBatch]]:
    """The first ``sample_rows`` rows as a table, and the chunks read so far (to replay)."""
    head: list[pa.RecordBatch] = []
    n = 0
    for rb in chunks:
        head.append(rb)
        n += rb.num_rows
        if n >= sample_rows:
            break
    if not head:
        raise DataError("The dataset has no rows; expected at least one row of training data.")
    return pa.Table.from_batches(head).slice(0, sample_rows), head


def sample_schema(
    sample: pa.Table, target: str | None, overrides: dict[str, Any]
) -> tuple[Schema, str | None]:
    """Feature types from the sample; the target only checked and its forced type returned."""
    names = sample.column_names
    if target is not None and target not in names:
        infer_schema(sample, target)  # raises the in-memory "not in the table" error
    opts = dict(overrides)
    forced = None
    if target is not None and target in opts:
        spec = opts.pop(target)
        forced = spec.get("type") if isinstance(spec, dict) else spec
        if forced is not None and forced not in TARGET_TYPES:
            raise invalid_choice("target type", forced, TARGET_TYPES, error=ConfigError)
    features = sample.drop_columns([target]) if target is not None else sample
    # the target's labels are typed after the pass (the sample may lack some classes)
    return infer_schema(features, None, overrides=opts), forced
