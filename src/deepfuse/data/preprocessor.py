"""Preprocessor: typed columns of a table -> grouped model-input tensors (see docs/internals.md).

Example:
    >>> import pyarrow as pa
    >>> from deepfuse.data import Preprocessor
    >>> t = pa.table({"age": [30.0, None, 50.0, 60.0], "city": ["a", "b", "a", "c"], "y": ["n", "y", "n", "y"]})
    >>> pre = Preprocessor().fit(t, "y")
    >>> batch = pre.transform(t)
    >>> sorted(batch), batch["categorical"].tolist(), batch["y"].tolist()
    (['categorical', 'numeric', 'y'], [[1], [2], [1], [3]], [0, 1, 0, 1])
    >>> pre.task, pre.classes, pre.inverse_transform_target([1, 0]).tolist()
    ('binary', ['n', 'y'], ['y', 'n'])
    >>> same = Preprocessor.from_config(pre.get_config())          # JSON only, no pickle
    >>> bool((same.transform(t)["numeric"] == batch["numeric"]).all())
    True
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from deepfuse._utils.errors import ConfigError, DataError, did_you_mean, short_repr
from deepfuse.data.encoders import BinaryEncoder, CategoricalEncoder, NumericEncoder, TargetEncoder
from deepfuse.data.images import ImageEncoder
from deepfuse.data.io import as_table
from deepfuse.data.schema import Schema, base_dir_of, infer_schema
from deepfuse.data.streaming.dataset import LazyDataset
from deepfuse.data.text import TextEncoder

__all__ = ["Preprocessor"]

_FORMAT = "deepfuse.Preprocessor"
_GROUP_KEYS = ("numeric", "categorical")
_ENCODERS = {"numeric": NumericEncoder, "binary": BinaryEncoder, "categorical": CategoricalEncoder}


class Preprocessor:
    """Learn feature types, statistics and vocabularies from a table; turn tables into tensors.

    ``transform`` returns ``"numeric"`` float32 ``(N, n_numeric)`` (standardised numeric columns,
    then 0/1 binary columns, in table order), ``"categorical"`` int64 ``(N, n_categorical)`` (0 =
    unknown or missing), one int64 ``(N, max_len)`` entry per text column (0 = pad, 1 = OOV), one
    float32 ``(N, C, H, W)`` entry per image column, and the target under its column name (int64
    class index, or float32 for regression) when the table has it. Empty groups are left out.

    Args:
        overrides: Per-column type overrides (see :func:`deepfuse.data.infer_schema`).
        max_tokens: Default text vocabulary size (incl. PAD and OOV).
        max_len: Default text length; ``None`` = 90th percentile of training lengths, capped at
            ``max_len_cap``.
        max_len_cap: Upper bound of the automatic text length.
        image_size: Default ``[H, W]`` for image columns (``None`` = first training image's size).
    """

    def __init__(
        self,
        *,
        overrides: dict[str, Any] | None = None,
        max_tokens: int = 20000,
        max_len: int | None = None,
        max_len_cap: int = 400,
        image_size: list[int] | None = None,
    ) -> None:
        self.overrides = copy.deepcopy(overrides) or {}
        self.max_tokens = max_tokens
        self.max_len = max_len
        self.max_len_cap = max_len_cap
        self.image_size = None if image_size is None else list(image_size)
        self._schema: Schema | None = None
        self._encoders: dict[str, Any] = {}
        self._target: TargetEncoder | None = None

    # ------------------------------------------------------------------ fitted state
    @property
    def schema(self) -> Schema:
        """Typed features with fitted stats (mean/std, cardinality, vocab size, shape)."""
        if self._schema is None:
            raise RuntimeError("Preprocessor is not fitted; call fit(table, target) first.")
        return self._schema

    @property
    def target(self) -> str | None:
        """Name of the target column, or ``None``."""
        return None if self.schema.target is None else self.schema.target.name

    @property
    def task(self) -> str | None:
        """``"binary"``, ``"multiclass"``, ``"regression"``, or ``None`` without a target."""
        return None if self.schema.target is None else self.schema.target.task

    @property
    def classes(self) -> list[Any] | None:
        """Original labels in class-index order (``None`` for regression)."""
        return None if self.schema.target is None else self.schema.target.classes

    @property
    def num_classes(self) -> int | None:
        """Number of classes (``None`` for regression or without a target)."""
        return None if self.schema.target is None else self.schema.target.num_classes

    @property
    def numeric_columns(self) -> list[str]:
        """Column order of the ``"numeric"`` block (numeric, then binary columns)."""
        return self.schema.names("numeric") + self.schema.names("binary")

    @property
    def categorical_columns(self) -> list[str]:
        """Column order of the ``"categorical"`` block."""
        return self.schema.names("categorical")

    def inputs(self) -> dict[str, dict[str, Any]]:
        """Per-key description of ``transform`` outputs, for building models.

        Example:
            >>> import pyarrow as pa
            >>> t = pa.table({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "c"], "y": [0, 1, 0]})
            >>> Preprocessor().fit(t, "y").inputs()["categorical"]
            {'shape': [1], 'dtype': 'int64', 'columns': ['c'], 'cardinalities': [4]}
        """
        out: dict[str, dict[str, Any]] = {}
        if self.numeric_columns:
            out["numeric"] = {
                "shape": [len(self.numeric_columns)],
                "dtype": "float32",
                "columns": self.numeric_columns,
            }
        if self.categorical_columns:
            cards = [self._encoders[c].cardinality for c in self.categorical_columns]
            out["categorical"] = {
                "shape": [len(cards)],
                "dtype": "int64",
                "columns": self.categorical_columns,
                "cardinalities": cards,
            }
        for name in self.schema.names("text"):
            enc = self._encoders[name]
            out[name] = {"shape": [enc.max_len], "dtype": "int64", "vocab_size": enc.vocab_size}
        for name in self.schema.names("image"):
            out[name] = {"shape": self._encoders[name].stats()["shape"], "dtype": "float32"}
        return out

    # ------------------------------------------------------------------ fit / transform
    def _new_encoder(self, kind: str, name: str, options: dict[str, Any]) -> Any:
        if kind in _ENCODERS:
            return _ENCODERS[kind](name)
        if kind == "text":
            opts = {
                "max_tokens": self.max_tokens,
                "max_len": self.max_len,
                "max_len_cap": self.max_len_cap,
                **options,
            }
            return TextEncoder(**opts)
        opts = {"size": self.image_size, **options}
        return ImageEncoder(name, **opts)

    def _encoder_for(self, spec: Any) -> Any:
        """A new encoder for one typed feature (checks names that clash with group keys)."""
        if spec.type in ("text", "image") and spec.name in _GROUP_KEYS:
            raise DataError(
                f"Column '{spec.name}' is a {spec.type} column named like the grouped key '{spec.name}'; rename it."
            )
        try:
            return self._new_encoder(spec.type, spec.name, spec.options)
        except TypeError as e:
            raise ConfigError(
                f"Bad options {spec.options} for {spec.type} column '{spec.name}': {e}."
            ) from None

    @staticmethod
    def _check_target_name(target: str | None) -> None:
        if target in _GROUP_KEYS:
            raise DataError(
                f"Target column '{target}' is named like the grouped key '{target}' of transform(); rename it."
            )

    def _set_fitted(self, schema: Schema, encoders: dict[str, Any]) -> Preprocessor:
        for spec in schema.features:
            if spec.name in encoders:
                enc = encoders[spec.name]
                spec.stats = enc.stats() if hasattr(enc, "stats") else self._text_stats(enc)
        self._schema, self._encoders = schema, encoders
        self._target = (
            None
            if schema.target is None
            else TargetEncoder(schema.target.name, schema.target.classes)
        )
        return self

    def fit(self, data: Any, target: str | None = None) -> Preprocessor:
        """Type the columns of ``data`` (Table, DataFrame, dict or path) and fit every encoder.

        A :class:`~deepfuse.data.LazyDataset` is fitted in one bounded-memory pass by
        :meth:`fit_stream` with its default caps.

        Raises:
            DataError: See :func:`deepfuse.data.infer_schema`; also a column named like a group key.
        """
        if isinstance(data, LazyDataset):
            return self.fit_stream(data, target)
        table = as_table(data)
        schema = infer_schema(table, target, overrides=self.overrides)
        base = base_dir_of(table)
        encoders: dict[str, Any] = {}
        self._check_target_name(target)
        for spec in schema.features:
            if spec.type == "ignored":
                continue
            enc = self._encoder_for(spec)
            col = table.column(spec.name)
            enc.fit(col, base_dir=base) if spec.type == "image" else enc.fit(col)
            encoders[spec.name] = enc
        return self._set_fitted(schema, encoders)

    def fit_stream(
        self,
        ds: LazyDataset,
        target: str | None = None,
        *,
        sample_rows: int = 50_000,
        max_categories: int = 100_000,
        max_classes: int = 10_000,
    ) -> Preprocessor:
        """Fit on a dataset that need not fit in memory: types from a sample, stats in one pass.

        Types come from the first ``sample_rows`` rows (the in-memory rules); statistics,
        vocabularies and target classes from one pass over every row in file order (shuffle,
        shard and batch settings of ``ds`` are ignored). Memory is bounded by the caps, not by
        the rows. The result equals ``fit(ds.collect(), target)`` (float statistics to float64
        rounding) unless a cap was exceeded or the sample types a column differently from the
        whole data: a categorical column with more than ``max_categories`` distinct values, or a
        text column with more than ``4 * max_tokens`` distinct words, keeps the heavy hitters of
        a Misra-Gries summary and its stats say ``"approximate": True`` and why. See
        :mod:`deepfuse.data.stream_fit`.

        Args:
            ds: The training rows (its select/filter/map apply).
            target: Label column, or ``None``.
            sample_rows: Rows used to infer feature types.
            max_categories: Distinct values counted exactly per categorical column.
            max_classes: Most distinct labels a classification target may have.

        Raises:
            DataError: As :meth:`fit`; also a classification target with more than
                ``max_classes`` labels, or a target missing in some row (named).

        Example:
            >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
            >>> from deepfuse.data import scan_parquet
            >>> path = tempfile.mkdtemp() + "/t.parquet"
            >>> pq.write_table(pa.table({"c": ["a", "b", "a", "c"] * 50, "y": [0, 1] * 100}), path)
            >>> pre = Preprocessor().fit_stream(scan_parquet(path), "y", max_categories=2)
            >>> pre.schema["c"].stats["approximate"], pre.categorical_columns
            (True, ['c'])
        """
        from deepfuse.data import stream_fit as sf  # the streaming fit needs streaming imports

        self._check_target_name(target)
        chunks = sf.arrow_chunks(ds)
        sample, head = sf.sample_and_rest(chunks, sample_rows)
        schema, forced = sf.sample_schema(sample, target, self.overrides)
        encoders: dict[str, Any] = {}
        for spec in schema.features:
            if spec.type in ("text", "image"):
                encoders[spec.name] = enc = self._encoder_for(spec)
                if spec.type == "image":  # size/channels come from the first image
                    enc.fit(sample.column(spec.name), base_dir=base_dir_of(sample))
        del sample  # only the statistics are kept from here on
        fit = sf.StreamingFit(
            schema,
            encoders,
            target,
            forced,
            max_categories=max_categories,
            max_classes=max_classes,
        )
        for rb in head:
            fit.update(rb)
        del head
        for rb in chunks:
            fit.update(rb)
        return self._set_fitted(*fit.finish())

    @staticmethod
    def _text_stats(enc: TextEncoder) -> dict[str, Any]:
        out = {
            "vocab_size": enc.vocab_size,
            "max_len": enc.max_len,
            "padding": enc.padding,
            "truncating": enc.truncating,
        }
        if enc.approximate:  # only streaming fits that evicted words
            out.update(approximate=True, approximation=enc.approximate)
        return out

    def transform(self, data: Any) -> dict[str, torch.Tensor]:
        """Encode a table with the fitted state (works on new rows: unseen categories -> 0).

        Raises:
            DataError: A fitted column is missing, a numeric column holds text (names the row), an
                image file is missing, or the target holds a label unseen in training.
        """
        table = _as_table(data)
        schema = self.schema
        names = table.column_names
        for name in self._encoders:
            if name not in names:
                raise DataError(
                    f"Column '{name}' is missing from the input; the preprocessor was fitted with it. "
                    f"Columns given: {', '.join(names)}.{did_you_mean(name, names)}"
                )
        out: dict[str, torch.Tensor] = {}
        base = base_dir_of(table)
        if self.numeric_columns:
            cols = [self._encoders[c].transform(table.column(c)) for c in self.numeric_columns]
            out["numeric"] = torch.from_numpy(np.stack(cols, axis=1).astype(np.float32))
        if self.categorical_columns:
            cols = [self._encoders[c].transform(table.column(c)) for c in self.categorical_columns]
            out["categorical"] = torch.from_numpy(np.stack(cols, axis=1))
        for name in schema.names("text"):
            out[name] = torch.from_numpy(self._encoders[name].transform(table.column(name)))
        for name in schema.names("image"):
            out[name] = torch.from_numpy(
                self._encoders[name].transform(table.column(name), base_dir=base)
            )
        if self._target is not None and self._target.name in names:
            out[self._target.name] = torch.from_numpy(
                self._target.transform(table.column(self._target.name))
            )
        return out

    def collate(self, cols: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """``transform`` for the numpy columns of a stream batch (``LazyDataset.batch(collate=)``)."""
        return self.transform(cols)

    def stream(self, ds: LazyDataset, batch_size: int, *, drop_last: bool = False) -> LazyDataset:
        """``ds`` batched into ``transform``-style batches, ready for ``Model.fit(ds)``.

        Example:
            >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
            >>> from deepfuse.data import scan_parquet
            >>> path = tempfile.mkdtemp() + "/t.parquet"
            >>> pq.write_table(pa.table({"x": [1.0, 2.0, 3.0, 4.0], "c": list("abac"), "y": [0, 1, 0, 1]}), path)
            >>> ds = scan_parquet(path)
            >>> pre = Preprocessor().fit(ds, "y")
            >>> [sorted(b) for b in pre.stream(ds, 2)]
            [['categorical', 'numeric', 'y'], ['categorical', 'numeric', 'y']]
        """
        return ds.batch(batch_size, drop_last=drop_last, collate=self.collate)

    def fit_transform(self, data: Any, target: str | None = None) -> dict[str, torch.Tensor]:
        """``fit(data, target)`` then ``transform(data)``."""
        table = as_table(data)
        return self.fit(table, target).transform(table)

    def inverse_transform_target(self, indices: Any) -> np.ndarray:
        """Map class indices (or ``(N, C)`` scores, or binary probabilities) back to original labels.

        Example:
            >>> import pyarrow as pa
            >>> pre = Preprocessor().fit(pa.table({"x": [1, 2, 3], "y": ["cat", "dog", "eel"]}), "y")
            >>> pre.inverse_transform_target([[0.1, 0.7, 0.2]]).tolist()
            ['dog']
        """
        if self._target is None:
            raise DataError(
                "This preprocessor was fitted without a target; there are no labels to map back."
            )
        if isinstance(indices, torch.Tensor):
            indices = indices.detach().cpu().numpy()
        return self._target.inverse(indices)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """JSON-able state (options, schema, vocabularies, statistics). No pickle."""
        return {
            "format": _FORMAT,
            "version": 1,
            "options": {
                "overrides": copy.deepcopy(self.overrides),
                "max_tokens": self.max_tokens,
                "max_len": self.max_len,
                "max_len_cap": self.max_len_cap,
                "image_size": self.image_size,
            },
            "schema": self.schema.to_dict(),
            "encoders": {name: enc.get_config() for name, enc in self._encoders.items()},
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Preprocessor:
        """Rebuild a fitted preprocessor from :meth:`get_config` output."""
        if not isinstance(config, dict) or config.get("format") != _FORMAT:
            raise ConfigError(
                f"Not a preprocessor config: expected a dict with format '{_FORMAT}'."
            )
        if config.get("version") != 1:
            raise ConfigError(
                f"Unsupported preprocessor config version {config.get('version')!r}; expected 1."
            )
        pre = cls(**config["options"])
        pre._schema = Schema.from_dict(copy.deepcopy(config["schema"]))
        for spec in pre._schema.features:
            if spec.type == "ignored":
                continue
            enc_cfg = dict(config["encoders"][spec.name])
            kind = {"text": TextEncoder, "image": ImageEncoder, **_ENCODERS}[spec.type]
            _check_state(kind, enc_cfg, spec.name)
            pre._encoders[spec.name] = (
                kind.from_config(enc_cfg) if kind is TextEncoder else kind(**enc_cfg)
            )
        t = pre._schema.target
        if t is not None:
            _check_state(TargetEncoder, {"classes": t.classes}, t.name)
        pre._target = None if t is None else TargetEncoder(t.name, t.classes)
        return pre

    def __repr__(self) -> str:
        if self._schema is None:
            return "Preprocessor(unfitted)"
        kinds = {
            k: len(self.schema.names(k))
            for k in ("numeric", "binary", "categorical", "text", "image")
        }
        return (
            f"Preprocessor(target={self.target!r}, task={self.task!r}, "
            + ", ".join(f"{k}={v}" for k, v in kinds.items() if v)
            + ")"
        )


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and bool(np.isfinite(v))


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _labels(v: Any) -> bool:
    return v is None or (
        isinstance(v, list) and all(isinstance(x, str | int | float | bool) for x in v)
    )


#: What a saved encoder state must hold, field by field (what ``get_config`` writes). A
#: ``model.json`` that says otherwise is refused when it is loaded, not later mid-transform.
_STATE_RULES: dict[type, dict[str, tuple[Any, str]]] = {
    NumericEncoder: {
        "mean": (_finite, "a finite number"),
        "std": (lambda v: _finite(v) and v > 0, "a finite number > 0"),
        "missing": (_count, "a count >= 0"),
    },
    BinaryEncoder: {
        "values": (lambda v: _labels(v) and (v is None or len(v) <= 2), "at most 2 labels"),
        "fill": (_finite, "a finite number"),
        "missing": (_count, "a count >= 0"),
    },
    CategoricalEncoder: {
        "categories": (lambda v: _labels(v) and v is not None, "a list of labels"),
        "missing": (_count, "a count >= 0"),
    },
    TargetEncoder: {"classes": (_labels, "a list of labels or null")},
}


def _check_state(kind: type, state: dict[str, Any], name: str) -> None:
    """Refuse a saved encoder state of the wrong shape (a damaged or hand-edited model.json).

    Example:
        >>> _check_state(NumericEncoder, {"name": "age", "mean": None, "std": 1.0}, "age")
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.DataError: The saved preprocessing of column 'age' is damaged: 'mean' must be a finite number, got None. Retrain the model, or restore its model.json.
    """
    for key, (ok, expected) in _STATE_RULES.get(kind, {}).items():
        if key in state and not ok(state[key]):
            got = short_repr(state[key])
            raise DataError(
                f"The saved preprocessing of column {short_repr(name)} is damaged: {key!r} must "
                f"be {expected}, got {got}. Retrain the model, or restore its model.json."
            )


def _as_table(data: Any) -> pa.Table:
    """``as_table`` plus the chunk types of streaming: a RecordBatch or a dict of numpy arrays."""
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    return as_table(data)
