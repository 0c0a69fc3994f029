"""Zoo builder ``bag``: fastText-style bag of word n-grams (+ the table's other columns) -> logits.

Each text column becomes the mean of the embeddings of its words and of its word n-grams (Joulin
et al. 2016, "Bag of Tricks for Efficient Text Classification"). The n-grams are hashed on the
fly from consecutive token ids, so the data pipeline stays the Preprocessor's ``(N, max_len)`` id
matrix (0 = padding, 1 = out-of-vocabulary):

* a bigram ``(a, b)`` gets the embedding row ``vocab_size + (a * PRIME + b) % buckets``; longer
  n-grams extend the hash one id at a time, ``h = (h * PRIME + c) % buckets``;
* an n-gram that touches padding is dropped, so where and how much a row is padded never changes
  its vector (pre- and post-padding give the same logits).

Numeric features and categorical embeddings (as in the ``tabular`` model) are concatenated with
the text vectors, then an optional hidden stack and a ``Dense(out_features)`` logit layer.

Example:
    >>> import torch
    >>> from deepfuse.models import zoo
    >>> model = zoo.get("bag", vocab_sizes={"review": 100}, num_numeric=2, cardinalities=[3])
    >>> batch = {"review": torch.tensor([[0, 5, 6, 7], [8, 9, 1, 4]]),
    ...          "numeric": torch.randn(2, 2), "categorical": torch.tensor([[1], [0]])}
    >>> model(batch).shape
    torch.Size([2, 2])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.layers import Dense, Dropout
from deepfuse.models.zoo._common import (
    build_with,
    categorical_embeddings,
    dense_stack,
    embedding_dims,
    int_list,
    positive_int,
    rate,
    table_features,
    tag,
)

__all__ = ["PRIME", "RECIPE", "BagModel", "bag", "bag_of_ngrams"]

#: Multiplier of the n-gram hash (fastText's): ``(a * PRIME + b) % buckets``.
PRIME = 116_049_371

#: Training recipe measured on IMDB (bench/text_default.py, bench/results/text_default.md):
#: validation accuracy peaks within 2-4 epochs and then only drifts (by <= 0.1 point) while
#: the training loss goes to 0, so a patience of 1 (restoring the best epoch) loses nothing.
RECIPE: dict[str, Any] = {
    "optimizer": {"name": "adam", "lr": 0.02},
    "batch_size": 512,
    "max_epochs": 6,
    "patience": 1,
}


def bag_of_ngrams(
    ids: torch.Tensor, vocab_size: int, ngrams: int, buckets: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embedding rows of every word and word n-gram of each row, as ``(flat, offsets)`` for
    ``nn.functional.embedding_bag``.

    Args:
        ids: ``(N, T)`` int64 token ids; 0 is padding (anywhere in the row).
        vocab_size: Rows ``0 .. vocab_size - 1`` are words; n-gram rows follow.
        ngrams: Longest n-gram (1 = words only).
        buckets: Number of hashed n-gram rows.

    Returns:
        ``flat`` (all rows' kept ids, row after row) and ``offsets`` ``(N,)`` (where each row
        starts in ``flat``).

    Example:
        >>> flat, offsets = bag_of_ngrams(torch.tensor([[0, 2, 3]]), 10, 2, 100)
        >>> flat.tolist() == [2, 3, 10 + (2 * PRIME + 3) % 100], offsets.tolist()
        (True, [0])
    """
    keep = [ids != 0]  # (N, T): words; n-gram windows below are (N, T - n + 1)
    rows = [ids]
    h, valid = ids, keep[0]
    for n in range(2, ngrams + 1):
        tail = ids[:, n - 1 :]
        h = (h[:, :-1] * PRIME + tail) % buckets  # hash of ids[:, i : i + n]
        valid = valid[:, :-1] & (tail != 0)  # every id of the window is a real token
        rows.append(h + vocab_size)
        keep.append(valid)
    mask = torch.cat(keep, 1)
    flat = torch.cat(rows, 1)[mask]  # row-major: row 0's ids, then row 1's, ...
    counts = mask.sum(1)
    offsets = torch.cumsum(counts, 0) - counts
    return flat, offsets


class BagModel(nn.Module):
    """Text n-gram bags + table features -> [hidden stack] -> logits (built by :func:`bag`)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.columns = list(config["vocab_sizes"])  # sorted: the order of the weights
        self.vocab = [config["vocab_sizes"][c] for c in self.columns]
        self.ngrams, self.buckets = config["ngrams"], config["buckets"]
        extra = self.buckets if self.ngrams > 1 else 0
        dim = config["embed_dim"]
        self.bags = nn.ModuleList(nn.EmbeddingBag(v + extra, dim, mode="mean") for v in self.vocab)
        for table in self.bags:  # fastText's init: small vectors, so the mean starts near 0
            nn.init.uniform_(table.weight, -1.0 / dim, 1.0 / dim)
        self.num_numeric = config["num_numeric"]
        self.embeddings = categorical_embeddings(config["cardinalities"], config["embed_dims"])
        self.dropout = Dropout(config["dropout"]) if config["dropout"] else None
        self.head = nn.Sequential(
            *dense_stack(
                config["hidden"], activation="relu", dropout=config["dropout"], batch_norm=False
            ),
            Dense(config["out_features"]),
        )

    def forward(self, batch: dict[str, torch.Tensor] | torch.Tensor) -> torch.Tensor:
        if isinstance(batch, torch.Tensor):  # one text input, passed bare
            if len(self.columns) != 1 or self.num_numeric or len(self.embeddings):
                raise DataError(
                    f"The bag model was built for the inputs {self._inputs()}; a bare tensor "
                    "is one text column. Pass the batch dict the Preprocessor writes."
                )
            batch = {self.columns[0]: batch}
        parts = [self._text(batch, i) for i in range(len(self.columns))]
        if self.dropout is not None:
            parts = [self.dropout(p) for p in parts]
        parts += table_features(batch, self.num_numeric, self.embeddings, "bag")
        h = torch.cat(parts, 1) if len(parts) > 1 else parts[0]
        return self.head(h)

    def _text(self, batch: dict[str, torch.Tensor], i: int) -> torch.Tensor:
        name = self.columns[i]
        ids = batch.get(name)
        if ids is None and len(self.columns) == 1:  # built from a bare vocab size
            ints = [
                v
                for k, v in batch.items()
                if k != "categorical" and isinstance(v, torch.Tensor) and not v.is_floating_point()
            ]
            ids = ints[0] if len(ints) == 1 else None
        if ids is None or ids.dim() != 2 or ids.is_floating_point():
            seen = "nothing" if ids is None else f"shape {tuple(ids.shape)}, {ids.dtype}"
            raise DataError(
                f"The bag model expects batch['{name}'] of token ids, shape (batch, steps) int64; "
                f"got {seen}. Build it with vocab_sizes naming the data's text columns."
            )
        if ids.numel() and not 0 <= int(ids.min()) <= int(ids.max()) < self.vocab[i]:
            raise DataError(
                f"Token ids in batch['{name}'] range from {int(ids.min())} to {int(ids.max())}, "
                f"outside the bag model's vocabulary 0..{self.vocab[i] - 1}; build it with the "
                "data's vocab size."
            )
        flat, offsets = bag_of_ngrams(ids, self.vocab[i], self.ngrams, self.buckets)
        return self.bags[i](flat, offsets)  # (N, embed_dim); an empty row gives zeros

    def _inputs(self) -> list[str]:
        extra = (["numeric"] if self.num_numeric else []) + (
            ["categorical"] if len(self.embeddings) else []
        )
        return self.columns + extra


def bag(
    vocab_sizes: int | Mapping[str, int],
    embed_dim: int = 32,
    ngrams: int = 2,
    buckets: int = 200_000,
    num_numeric: int = 0,
    cardinalities: Sequence[int] = (),
    cat_embed_dim: int | Sequence[int] | None = None,
    hidden: Sequence[int] = (),
    dropout: float = 0.0,
    out_features: int = 2,
) -> BagModel:
    """fastText-style classifier: mean of word + hashed n-gram embeddings per text column,
    concatenated with numeric features and categorical embeddings.

    Args:
        vocab_sizes: Token ids per text column (``{column: vocab_size}``, the Preprocessor's
            ``inputs()``), or one int for a single text input passed as a bare ``(N, T)`` tensor.
        embed_dim: Size of the word and n-gram vectors.
        ngrams: Longest word n-gram (1 = words only, 2 = words + bigrams, ...).
        buckets: Hashed n-gram embedding rows per text column (unused when ``ngrams`` is 1).
        num_numeric: Number of numeric columns (``batch["numeric"]``).
        cardinalities: Known categories per categorical column (``batch["categorical"]``).
        cat_embed_dim: Categorical embedding size: one for all, one per column, or ``None`` for
            ``min(50, (cardinality + 1) // 2)``.
        hidden: Hidden layer sizes (ReLU) between the features and the logits; ``[]`` = linear.
        dropout: Dropout on the text vectors and after every hidden layer.
        out_features: Number of classes (1 for a single logit or regression).

    Example:
        >>> import torch
        >>> torch.manual_seed(0) is not None
        True
        >>> model = bag(50, embed_dim=8, buckets=1000, hidden=[16])
        >>> model(torch.tensor([[0, 0, 3, 4], [3, 4, 0, 0]])).shape
        torch.Size([2, 2])
        >>> model.zoo_config["vocab_sizes"], model.zoo_config["ngrams"]
        (50, 2)
    """
    if isinstance(vocab_sizes, Mapping):
        names = sorted(vocab_sizes)  # a canonical order: config.yaml may reorder the mapping
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(
                "The 'vocab_sizes' argument of zoo model 'bag' must map text column names to "
                f"vocabulary sizes (e.g. {{review: 20000}}); got {vocab_sizes!r}."
            )
        sizes = int_list("bag", "vocab_sizes", [vocab_sizes[n] for n in names])
        vocab: int | dict[str, int] = dict(zip(names, sizes))
        columns = dict(vocab)
    else:
        vocab = positive_int("bag", "vocab_sizes", vocab_sizes)
        columns = {"x": vocab}
    if isinstance(num_numeric, bool) or not isinstance(num_numeric, int) or num_numeric < 0:
        raise ConfigError(
            f"The 'num_numeric' argument of zoo model 'bag' must be an int >= 0; got {num_numeric!r}."
        )
    cards = int_list("bag", "cardinalities", list(cardinalities))
    dims = embedding_dims("bag", cards, cat_embed_dim)
    config = {
        "vocab_sizes": vocab,
        "embed_dim": positive_int("bag", "embed_dim", embed_dim),
        "ngrams": positive_int("bag", "ngrams", ngrams),
        "buckets": positive_int("bag", "buckets", buckets),
        "num_numeric": num_numeric,
        "cardinalities": cards,
        "cat_embed_dim": cat_embed_dim
        if cat_embed_dim is None or isinstance(cat_embed_dim, int)
        else list(dims),
        "hidden": int_list("bag", "hidden", hidden),
        "dropout": rate("bag", "dropout", dropout),
        "out_features": positive_int("bag", "out_features", out_features),
    }
    model = BagModel({**config, "vocab_sizes": columns, "embed_dims": dims})
    example: dict[str, torch.Tensor] = {c: torch.ones(2, 2, dtype=torch.long) for c in columns}
    if num_numeric:
        example["numeric"] = torch.zeros(2, num_numeric)
    if cards:
        example["categorical"] = torch.zeros(2, len(cards), dtype=torch.long)
    build_with(model, example)  # every size is known: create the Dense weights now
    return tag(model, "bag", config)
