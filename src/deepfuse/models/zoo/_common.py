"""Shared pieces of the zoo: validation, the Dense stack, table inputs, eager building."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.layers import Activation, BatchNorm, Dense, Dropout, Embedding, activations


def int_list(model: str, arg: str, value: Any, *, allow_empty: bool = True) -> list[int]:
    """Validate a list of positive ints (an int becomes a one-item list)."""
    items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(items, Sequence)
        or isinstance(items, str)
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in items)
        or (not allow_empty and not items)
    ):
        kind = "a non-empty" if not allow_empty else "a"
        raise ConfigError(
            f"The '{arg}' argument of zoo model '{model}' must be {kind} list of "
            f"positive ints; got {value!r}."
        )
    return [int(v) for v in items]


def positive_int(model: str, arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"The '{arg}' argument of zoo model '{model}' must be a positive int; got {value!r}."
        )
    return int(value)


def rate(model: str, arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigError(
            f"The '{arg}' argument of zoo model '{model}' must be a float in [0, 1); got {value!r}."
        )
    return float(value)


def check_activation(value: Any) -> str | None:
    activations.resolve(value)  # raises the "Unknown activation" error
    return value


def dense_stack(
    hidden: list[int], *, activation: Any, dropout: float, batch_norm: bool
) -> list[nn.Module]:
    """``Dense -> [BatchNorm] -> activation -> [Dropout]`` for each hidden size."""
    out: list[nn.Module] = []
    for units in hidden:
        if batch_norm:
            out += [Dense(units), BatchNorm(), Activation(activation)]
        else:
            out.append(Dense(units, activation=activation))
        if dropout:
            out.append(Dropout(dropout))
    return out


def auto_embed_dim(cardinality: int) -> int:
    """fast.ai-style rule of thumb: ``min(50, (cardinality + 1) // 2)``."""
    return max(1, min(50, (cardinality + 1) // 2))


def embedding_dims(model: str, cards: list[int], embed_dim: Any) -> list[int]:
    """Embedding size per categorical column: one int for all, one per column, or ``None``
    for :func:`auto_embed_dim`."""
    if embed_dim is None:
        return [auto_embed_dim(c) for c in cards]
    if isinstance(embed_dim, int) and not isinstance(embed_dim, bool):
        return int_list(model, "embed_dim", [embed_dim] * len(cards))
    dims = int_list(model, "embed_dim", embed_dim)
    if len(dims) != len(cards):
        raise ConfigError(
            f"The 'embed_dim' argument of zoo model '{model}' has {len(dims)} "
            f"sizes but there are {len(cards)} categorical columns."
        )
    return dims


def categorical_embeddings(cards: list[int], dims: list[int]) -> nn.ModuleList:
    """One ``Embedding(cardinality + 1, dim)`` per categorical column (row 0 = unknown)."""
    return nn.ModuleList(Embedding(c + 1, d) for c, d in zip(cards, dims))


def table_features(
    batch: dict[str, torch.Tensor], num_numeric: int, embeddings: nn.ModuleList, model: str
) -> list[torch.Tensor]:
    """The Preprocessor's table blocks as model features: ``batch["numeric"]`` ``(N, k)`` as is,
    then ``(N, dim_i)`` embeddings of each ``batch["categorical"][:, i]``.

    Raises:
        DataError: a block is missing or has the wrong width (the model was built for other data).
    """
    parts: list[torch.Tensor] = []
    if num_numeric:
        numeric = batch.get("numeric")
        if numeric is None or numeric.dim() != 2 or numeric.shape[1] != num_numeric:
            raise DataError(
                _block_message(model, "numeric", f"(batch, {num_numeric}) float", numeric)
            )
        parts.append(numeric)
    if len(embeddings):
        cat = batch.get("categorical")
        if cat is None or cat.dim() != 2 or cat.shape[1] != len(embeddings):
            raise DataError(
                _block_message(model, "categorical", f"(batch, {len(embeddings)}) int64", cat)
            )
        parts += [emb(cat[:, i]) for i, emb in enumerate(embeddings)]
    return parts


def _block_message(model: str, key: str, expected: str, got: torch.Tensor | None) -> str:
    seen = "nothing" if got is None else f"shape {tuple(got.shape)}"
    return (
        f"The {model} model expects batch['{key}'] of shape {expected}; got {seen}. "
        f"Build it with num_numeric/cardinalities matching the data."
    )


class ZooSequential(nn.Sequential):
    """``nn.Sequential`` that remembers the zoo name and kwargs it was built from.

    It takes one tensor; a dict of inputs (a table with numeric and categorical columns) is a
    config mistake (``model.type: mlp`` on a table), reported on one line instead of a
    traceback from deep inside a layer.
    """

    zoo_name: str
    zoo_config: dict[str, Any]

    def forward(self, x: Any) -> Any:
        if isinstance(x, dict):
            raise ConfigError(
                f"Zoo model {getattr(self, 'zoo_name', 'sequential')!r} takes one tensor, but "
                f"the data gives several inputs ({', '.join(map(str, list(x)[:6]))}). Use "
                "model.type: tabular for a table (or remove the model section to let deepfuse "
                "choose)."
            )
        return super().forward(x)


def tag(module: nn.Module, name: str, config: dict[str, Any]) -> nn.Module:
    """Record how to rebuild ``module``: ``zoo.get(module.zoo_name, **module.zoo_config)``."""
    module.zoo_name = name
    module.zoo_config = config
    return module


@torch.no_grad()
def build_with(module: nn.Module, example: Any) -> None:
    """Create lazy weights now with a dummy batch (eval mode, so BatchNorm stats stay put)."""
    was_training = module.training
    module.eval()
    module(example)
    module.train(was_training)
