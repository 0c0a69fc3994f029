"""Zoo builder ``tabular``: numeric features + embedded categoricals -> MLP -> logits.

Input is the batch dict that ``deepfuse.data.Preprocessor`` writes: ``"numeric"`` float
``(N, num_numeric)`` and ``"categorical"`` int64 ``(N, len(cardinalities))`` where 0 means
unknown/missing (each table has ``cardinality + 1`` rows). Either key may be absent when the
model has no such features; a bare tensor is taken as the only kind of feature the model has.

Example:
    >>> import torch
    >>> from deepfuse.models import zoo
    >>> model = zoo.get("tabular", num_numeric=3, cardinalities=[4, 10], hidden=[16])
    >>> batch = {"numeric": torch.randn(5, 3), "categorical": torch.randint(0, 5, (5, 2))}
    >>> model(batch).shape
    torch.Size([5, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import ConfigError
from deepfuse.layers import Dense
from deepfuse.models.zoo._common import (
    build_with,
    categorical_embeddings,
    dense_stack,
    embedding_dims,
    int_list,
    rate,
    table_features,
    tag,
)

__all__ = ["TabularModel", "tabular"]


class TabularModel(nn.Module):
    """Concatenate numeric features and categorical embeddings, then an MLP (see :func:`tabular`)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.num_numeric = config["num_numeric"]
        cards, dims = config["cardinalities"], config["embed_dims"]
        self.embeddings = categorical_embeddings(cards, dims)
        self.mlp = nn.Sequential(
            *dense_stack(
                config["hidden"],
                activation="relu",
                dropout=config["dropout"],
                batch_norm=config["batch_norm"],
            ),
            Dense(config["out_features"]),
        )

    def forward(self, batch: dict[str, torch.Tensor] | torch.Tensor) -> torch.Tensor:
        if isinstance(batch, torch.Tensor):  # a single kind of feature, passed bare
            key = "numeric" if self.num_numeric else "categorical"
            batch = {key: batch}
        parts = table_features(batch, self.num_numeric, self.embeddings, "tabular")
        h = torch.cat(parts, 1) if len(parts) > 1 else parts[0]
        return self.mlp(h)


def tabular(
    num_numeric: int = 0,
    cardinalities: Sequence[int] = (),
    hidden: Sequence[int] = (256, 128),
    dropout: float = 0.2,
    out_features: int = 2,
    embed_dim: int | Sequence[int] | None = None,
    batch_norm: bool = False,
) -> TabularModel:
    """MLP over numeric features and one embedding per categorical column.

    Args:
        num_numeric: Number of numeric columns.
        cardinalities: Known categories per categorical column (id 0 = unknown is added).
        hidden: Hidden layer sizes.
        dropout: Dropout after every hidden layer.
        out_features: Number of classes (1 for regression or a single logit).
        embed_dim: One size for all columns, one per column, or ``None`` for
            ``min(50, (cardinality + 1) // 2)``.
        batch_norm: BatchNorm before each hidden activation.

    Example:
        >>> import torch
        >>> tabular(num_numeric=2, hidden=[8])(torch.randn(3, 2)).shape
        torch.Size([3, 2])
    """
    if isinstance(num_numeric, bool) or not isinstance(num_numeric, int) or num_numeric < 0:
        raise ConfigError(
            f"The 'num_numeric' argument of zoo model 'tabular' must be an int >= 0; "
            f"got {num_numeric!r}."
        )
    cards = int_list("tabular", "cardinalities", list(cardinalities))
    if not num_numeric and not cards:
        raise ConfigError(
            "The tabular zoo model needs features: set num_numeric > 0 and/or "
            "cardinalities=[...] (one per categorical column)."
        )
    dims = embedding_dims("tabular", cards, embed_dim)
    config = {
        "num_numeric": num_numeric,
        "cardinalities": cards,
        "hidden": int_list("tabular", "hidden", hidden),
        "dropout": rate("tabular", "dropout", dropout),
        "out_features": int_list("tabular", "out_features", [out_features])[0],
        "embed_dim": embed_dim if embed_dim is None or isinstance(embed_dim, int) else list(dims),
        "batch_norm": bool(batch_norm),
    }
    model = TabularModel({**config, "embed_dims": dims})
    example: dict[str, torch.Tensor] = {}
    if num_numeric:
        example["numeric"] = torch.zeros(2, num_numeric)
    if cards:
        example["categorical"] = torch.zeros(2, len(cards), dtype=torch.long)
    build_with(model, example)  # all sizes known: create the weights now
    return tag(model, "tabular", config)
