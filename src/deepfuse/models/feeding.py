"""Feeding data to a :class:`~deepfuse.models.Model`: what ``fit``/``evaluate``/``predict`` accept,
turned into loaders of ``dict[str, Tensor]`` batches.

In-memory inputs (numpy, torch, pandas, dicts, pyarrow tables when the model has a fitted
preprocessor) become an :class:`~deepfuse.data.memory.InMemoryLoader`. deepfuse's own datasets
(a ``LazyDataset``, an ``InMemoryLoader``, a Ray Train shard) already yield ``dict[str, Tensor]``
batches and are passed on as they are, so the trainer saves and restores their position
(:class:`~deepfuse.training.protocols.ResumableData`). Only foreign re-iterables (a torch
``DataLoader``, a list of tuples) are adapted (:mod:`deepfuse.models.inputs`); the adapter of a
foreign loader that can resume passes its ``state_dict``/``load_state_dict`` through.

Example:
    >>> import numpy as np, deepfuse as df
    >>> model = df.Sequential([df.layers.Dense(2)])
    >>> loader = make_loader(model, np.zeros((5, 3)), np.zeros(5), batch_size=2, shuffle=False)
    >>> len(loader)
    3
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

from deepfuse._utils.errors import DataError, UserError
from deepfuse.data.memory import InMemoryLoader
from deepfuse.data.streaming.dataset import LazyDataset
from deepfuse.data.tensors import (
    X_KEY,
    Y_KEY,
    check_rows,
    is_channels_last,
    to_tensor,
    to_tensor_dict,
)
from deepfuse.distributed.sharding import PreSharded, ShardedLoader
from deepfuse.models import layout, multi_io, weighting
from deepfuse.models.inputs import ForeignBatches, ResumableForeignBatches, is_array_like
from deepfuse.training.protocols import ResumableData

#: deepfuse's datasets: they yield ``dict[str, Tensor]`` and resume from their own state.
_OWN_DATASETS = (InMemoryLoader, LazyDataset, ShardedLoader)

__all__ = [
    "first_batch",
    "is_in_memory",
    "is_table",
    "len_or_none",
    "make_loader",
    "make_loaders",
    "preprocess_table",
    "to_tensors",
    "validation_loader",
]


def make_loaders(
    model: Any,
    x: Any,
    y: Any,
    *,
    batch_size: int,
    shuffle: bool,
    validation_split: float,
    validation_data: Any,
    generator: torch.Generator | None,
    sample_weight: Any = None,
    class_weight: Any = None,
) -> tuple[Any, Any]:
    """The training and validation loaders of ``fit``; ``sample_weight`` rows are shuffled and
    split with the data, ``class_weight`` weights the training rows only (Keras)."""
    weighting.check_supported(model, x, sample_weight, class_weight, training=True)
    if not 0.0 <= validation_split < 1.0:
        raise UserError(f"validation_split must be in [0, 1); got {validation_split!r}.")
    if not is_in_memory(x):
        if validation_split:
            raise UserError(
                "validation_split needs in-memory arrays; pass validation_data "
                "for an iterable dataset."
            )
        return make_loader(model, x, y, batch_size=batch_size, shuffle=shuffle), validation_loader(
            model, validation_data, batch_size
        )
    tensors = weighting.add_sample_weights(to_tensors(model, x, y), sample_weight)
    val = validation_loader(model, validation_data, batch_size)
    if validation_split:
        from deepfuse.data import stratified_split

        target = tensors.get(model.target_key)
        if target is None:
            labels = np.zeros(len(next(iter(tensors.values()))))
        else:  # one-hot targets stratify by their class index
            labels = (
                target.argmax(1)
                if target.dim() == 2 and target.shape[1] > 1
                else target.reshape(len(target), -1)[:, 0]
            ).numpy()
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator)) if generator else 0
        train_idx, val_idx = stratified_split(labels, validation_split, seed=seed)
        train_idx, val_idx = torch.as_tensor(train_idx), torch.as_tensor(val_idx)
        val = InMemoryLoader(
            {k: v[val_idx] for k, v in tensors.items()},
            batch_size=max(batch_size, 256),
            shuffle=False,
        )
        tensors = {k: v[train_idx] for k, v in tensors.items()}
    tensors = weighting.add_class_weights(tensors, class_weight, model.target_key)
    train = InMemoryLoader(tensors, batch_size=batch_size, shuffle=shuffle, generator=generator)
    return train, val


def validation_loader(model: Any, validation_data: Any, batch_size: int) -> Any:
    if validation_data is None:
        return None
    if (
        isinstance(validation_data, tuple)
        and len(validation_data) in (2, 3)
        and is_in_memory(validation_data[0])
    ):  # (x, y) or Keras' (x, y, sample_weight)
        return make_loader(
            model,
            *validation_data[:2],
            batch_size=max(batch_size, 256),
            shuffle=False,
            sample_weight=validation_data[2] if len(validation_data) == 3 else None,
        )
    return make_loader(model, validation_data, None, batch_size=batch_size, shuffle=False)


def make_loader(
    model: Any, x: Any, y: Any, *, batch_size: int, shuffle: bool, sample_weight: Any = None
) -> Any:
    if x is None:
        raise UserError("No data was given: pass x (and y) or an iterable of batches.")
    weighting.check_supported(model, x, sample_weight)
    if is_in_memory(x):
        tensors = weighting.add_sample_weights(to_tensors(model, x, y), sample_weight)
        return InMemoryLoader(tensors, batch_size=batch_size, shuffle=shuffle)
    if isinstance(x, str | bytes) or not isinstance(x, Iterable):
        raise DataError(
            f"Cannot use {type(x).__name__} as data. Pass numpy/torch/pandas "
            "arrays, a dict of arrays, or an iterable of batch dicts."
        )
    if iter(x) is x:
        raise DataError(
            "fit/evaluate need a re-iterable dataset (a list, a DataLoader, a "
            "deepfuse dataset), not a one-shot generator or iterator."
        )
    if isinstance(x, _OWN_DATASETS) or (isinstance(x, PreSharded) and x.sharded):
        return x  # dict batches already, with their own state: handed to the trainer as is
    if isinstance(x, ResumableData):
        return ResumableForeignBatches(x)  # adapts the batches, passes the state through
    return ForeignBatches(x)


def to_tensors(model: Any, x: Any, y: Any) -> dict[str, torch.Tensor]:
    if model.preprocessor is not None and is_table(x):
        x = preprocess_table(model, x)
    x = multi_io.arrange_inputs(model, x)
    targets = multi_io.arrange_targets(model, y)
    if targets is not None:  # several outputs: one target array per output
        tensors = to_tensor_dict(x)
        for name, value in targets.items():
            key = multi_io.target_key_of(model, name)
            tensors[key] = to_tensor(value, label=True, name=key)
        check_rows(tensors)
    elif isinstance(x, Mapping) and model.target_key in x and y is None:
        tensors = to_tensor_dict(
            {k: v for k, v in x.items() if k != model.target_key}, x[model.target_key]
        )
        tensors[model.target_key] = tensors.pop(Y_KEY)
    else:
        shape = tuple(getattr(x, "shape", ()))
        if model.input_layout is None and len(shape) == 4 and is_channels_last(shape):
            model.input_layout = "channels_last"  # the data rule makes these NCHW just below
        tensors = to_tensor_dict(x, y)
        if Y_KEY in tensors and model.target_key != Y_KEY:
            tensors[model.target_key] = tensors.pop(Y_KEY)
    if X_KEY in tensors:
        x_dim = tensors[X_KEY].dim()
        if model.input_layout is None:
            model.input_layout = layout.infer_input_layout(model, tensors[X_KEY])
        tensors[X_KEY] = layout.to_model_layout(tensors[X_KEY], model.input_layout)
        target = tensors.get(model.target_key)
        if target is not None and target.is_floating_point() and target.dim() == x_dim:
            # Image targets (autoencoders: fit(x, x)) are converted exactly like the images.
            tensors[model.target_key] = layout.to_model_layout(target, model.input_layout)
    return tensors


def preprocess_table(model: Any, x: Any) -> dict[str, torch.Tensor]:
    import pyarrow as pa

    table = x if isinstance(x, pa.Table) else pa.Table.from_pandas(x, preserve_index=False)
    return model.preprocessor.transform(table)


def is_in_memory(x: Any) -> bool:
    return is_array_like(x) or is_table(x) or (isinstance(x, Mapping) and not isinstance(x, str))


def is_table(x: Any) -> bool:
    return type(x).__name__ in ("Table", "DataFrame") and type(x).__module__.split(".")[0] in (
        "pyarrow",
        "pandas",
    )


def first_batch(loader: Any) -> dict[str, torch.Tensor]:
    """Two rows of the loader's first batch, without their weights (what ``setup`` reads)."""
    if isinstance(loader, InMemoryLoader):
        return {k: v[:2] for k, v in loader.tensors.items() if k != weighting.WEIGHT_KEY}
    for batch in loader:
        return batch
    raise DataError("The dataset is empty: it produced no batch.")


def len_or_none(loader: Any) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None
