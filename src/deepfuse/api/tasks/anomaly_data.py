"""The rows of ``task: anomaly``: which classes are normal, normal rows for training, 0/1 targets.

Works on both kinds of prepared splits: tensor dicts (in memory) and the streamed route's lazy
batch streams. A stream is never held: its normal rows are kept by
:meth:`~deepfuse.data.streaming.LazyDataset.filter` on the raw label column (before shuffling
and batching, so the training stream keeps its exact, resumable ``state_dict``), and its
targets become 0/1 batch by batch (:class:`Relabelled`).

Example:
    >>> import torch
    >>> y = torch.tensor([0, 2, 1, 0])
    >>> anomaly_flags(y, [0, 1]).tolist()
    [0, 1, 0, 0]
    >>> normal_indices([0], ["T-shirt", "Trouser", "Pullover"]), normal_indices(["Trouser"], ["T-shirt", "Trouser"])
    ([0], [1])
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from deepfuse._utils.errors import ConfigError, short_repr

__all__ = [
    "IsNormal",
    "Relabelled",
    "anomaly_flags",
    "class_counts",
    "normal_indices",
    "relabel_tensors",
    "select_rows",
]


def normal_indices(normal: Sequence[Any], classes: Sequence[Any]) -> list[int]:
    """Class indices of the ``normal`` label values.

    A value is a class label (``"T-shirt/top"``, ``0`` of a 0/1 column), or, where the labels
    are not numbers (the built-in image sets name their classes), a class index.

    Raises:
        ConfigError: A value names no class.
    """
    out: list[int] = []
    names = [str(c) for c in classes]
    for value in normal:
        if value in list(classes):
            index = list(classes).index(value)
        elif str(value) in names:  # "0" in a YAML list of a 0/1 column, or the reverse
            index = names.index(str(value))
        elif (
            isinstance(value, int)
            and not isinstance(value, bool)
            and 0 <= value < len(classes)
            and not any(isinstance(c, int | np.integer) for c in classes)
        ):
            index = int(value)
        else:
            shown = ", ".join(short_repr(c) for c in list(classes)[:20])
            raise ConfigError(
                f"The 'task.normal' value {short_repr(value)} is not a class of the data. "
                f"Classes: {shown}. Name the labels (or, for images, class indices) of the "
                "normal rows."
            )
        if index not in out:
            out.append(index)
    if len(out) == len(classes):
        raise ConfigError(
            "'task.normal' names every class of the data, so no row is an anomaly. Leave out "
            "the classes that are anomalies."
        )
    return out


def anomaly_flags(target: Any, normal: Sequence[int]) -> torch.Tensor:
    """``(N,)`` int64: 0 for rows whose class index is in ``normal``, else 1."""
    t = torch.as_tensor(np.asarray(target)).reshape(-1).long()
    return (~torch.isin(t, torch.as_tensor(list(normal), dtype=torch.long))).long()


def select_rows(tensors: Mapping[str, torch.Tensor], keep: torch.Tensor) -> dict[str, Any]:
    """The rows of a tensor dict where the boolean ``keep`` is true."""
    return {k: v[keep] for k, v in tensors.items()}


def relabel_tensors(
    tensors: Mapping[str, torch.Tensor], target: str, normal: Sequence[int]
) -> dict[str, Any]:
    """A tensor dict whose ``target`` holds 0 (normal) / 1 (anomaly)."""
    return {**tensors, target: anomaly_flags(tensors[target], normal)}


def class_counts(split: Any, target: str, num_classes: int) -> np.ndarray:
    """Rows per class index of a split (tensor dict, or one bounded pass over a stream)."""
    counts = np.zeros(num_classes, dtype=np.int64)
    batches = [split] if isinstance(split, Mapping) else split
    for batch in batches:
        y = np.asarray(batch[target]).reshape(-1).astype(np.int64)
        counts += np.bincount(y, minlength=num_classes)[:num_classes]
    return counts


class IsNormal:
    """``LazyDataset.filter`` predicate: rows whose raw label is one of ``labels``."""

    def __init__(self, column: str, labels: Sequence[Any]) -> None:
        self.column, self.labels = column, list(labels)

    def __call__(self, batch: Mapping[str, np.ndarray]) -> np.ndarray:
        values = np.asarray(batch[self.column])
        if values.dtype.kind in "biuf":  # numeric labels: compare as numbers (1 == 1.0)
            nums = [float(v) for v in self.labels if isinstance(v, int | float | np.number)]
            return np.isin(values.astype(np.float64), np.asarray(nums, dtype=np.float64))
        return np.isin(values.astype(str), [str(v) for v in self.labels])


class Relabelled:
    """Batches of a stream with the target as 0 (normal) / 1 (anomaly); everything else of
    the stream (``set_epoch``, ``state_dict``, ...) passes through.

    Example:
        >>> batches = [{"x": torch.zeros(2, 1), "y": torch.tensor([0, 3])}]
        >>> [b["y"].tolist() for b in Relabelled(batches, "y", [0])]
        [[0, 1]]
    """

    def __init__(self, stream: Any, target: str, normal: Sequence[int]) -> None:
        self.stream, self.target, self.normal = stream, target, list(normal)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.stream:
            yield relabel_tensors(batch, self.target, self.normal)

    def __getattr__(self, name: str) -> Any:
        if name == "stream":  # not set yet (copy/unpickle): no recursion
            raise AttributeError(name)
        return getattr(self.stream, name)
