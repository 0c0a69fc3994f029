"""Zoo builder ``text``: token ids ``(N, T)`` -> Embedding -> LSTM/GRU or 1-D CNN -> logits.

Padding id 0 is handled so it never reaches the answer:

* RNN encoders read each sequence to its last real token: right-padded batches are packed
  (``pack_padded_sequence``), left-padded rows (Keras ``pad_sequences`` default) are first
  rotated to the right, so forward and backward directions both see only real tokens.
* The CNN encoder (Kim 2014: parallel Conv1D widths, global max pool) masks windows that only
  cover padding before the max.

Example:
    >>> import torch
    >>> from deepfuse.models import zoo
    >>> model = zoo.get("text", vocab_size=100, embed_dim=8, units=8)
    >>> model(torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])).shape
    torch.Size([2, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import DataError, invalid_choice
from deepfuse.layers import GRU, LSTM, Conv1D, Dense, Dropout, Embedding
from deepfuse.models.zoo._common import build_with, int_list, positive_int, rate, tag

__all__ = ["TextClassifier", "text"]

ENCODERS = ("lstm", "gru", "cnn")


def right_align(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(ids, lengths)`` with every row's tokens moved to the front (padding at the end).

    Rows padded on the left (``[0, 0, 5, 6]``) are rotated to ``[5, 6, 0, 0]``; others are kept.
    """
    mask = x != 0
    lengths = mask.sum(1)
    left = mask[:, -1] & ~mask[:, 0]  # ends with a token, starts with padding
    if bool(left.any()):
        steps = x.shape[1]
        shift = torch.where(left, steps - lengths, torch.zeros_like(lengths))
        index = (torch.arange(steps, device=x.device) + shift[:, None]) % steps
        x = x.gather(1, index)
    return x, lengths


class TextClassifier(nn.Module):
    """Embedding + encoder + ``Dense`` head (built by :func:`text`)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.encoder = config["encoder"]
        self.embedding = Embedding(config["vocab_size"], config["embed_dim"], mask_zero=True)
        if self.encoder == "cnn":
            self.kernel_sizes = config["kernel_sizes"]
            self.convs = nn.ModuleList(
                Conv1D(config["filters"], k, activation="relu") for k in self.kernel_sizes
            )
        else:
            cls = LSTM if self.encoder == "lstm" else GRU
            self.rnn = cls(
                config["units"],
                bidirectional=config["bidirectional"],
                num_layers=config["num_layers"],
                dropout=config["dropout"],
            )
        self.dropout = Dropout(config["dropout"]) if config["dropout"] else None
        self.head = Dense(config["out_features"])

    def forward(self, x: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        if isinstance(x, dict):
            x = _pick_ids(x)
        if x.dim() != 2 or x.is_floating_point():
            raise DataError(
                f"The text model expects token ids of shape (batch, steps) as int64; "
                f"got shape {tuple(x.shape)} and dtype {x.dtype}."
            )
        x, lengths = right_align(x)
        h = self._encode_cnn(x, lengths) if self.encoder == "cnn" else self._encode_rnn(x, lengths)
        if self.dropout is not None:
            h = self.dropout(h)
        return self.head(h)

    def _encode_rnn(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        e = self.embedding(x)  # (N, T, E)
        if bool((lengths < x.shape[1]).any()):
            return self.rnn(e, lengths=lengths)  # packed: final state at each row's last token
        return self.rnn(e)

    def _encode_cnn(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        steps = x.shape[1]
        if steps < max(self.kernel_sizes):  # too short for the widest window: pad at the end
            x = nn.functional.pad(x, (0, max(self.kernel_sizes) - steps))
        e = self.embedding(x)
        pooled = []
        for k, conv in zip(self.kernel_sizes, self.convs):
            c = conv(e)  # (N, T-k+1, filters)
            # Windows starting after the last real token see only padding: drop them from the max.
            valid = (
                torch.arange(c.shape[1], device=x.device)[None, :]
                < (lengths - k + 1).clamp(min=1)[:, None]
            )
            pooled.append(c.masked_fill(~valid[:, :, None], float("-inf")).amax(1))
        return torch.cat(pooled, 1) if len(pooled) > 1 else pooled[0]


def _pick_ids(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    ints = [
        v
        for v in batch.values()
        if isinstance(v, torch.Tensor) and not v.is_floating_point() and v.dim() == 2
    ]
    if "x" in batch:
        return batch["x"]
    if len(ints) != 1:
        raise DataError(
            f"The text model takes one (batch, steps) tensor of token ids; got a batch "
            f"with keys {sorted(batch)}. Pass the text column alone."
        )
    return ints[0]


def text(
    vocab_size: int,
    embed_dim: int = 128,
    encoder: str = "lstm",
    units: int = 128,
    bidirectional: bool = False,
    num_layers: int = 1,
    dropout: float = 0.0,
    out_features: int = 2,
    filters: int = 128,
    kernel_sizes: Sequence[int] = (3, 4, 5),
) -> TextClassifier:
    """Text classifier over token ids (0 = padding, as written by ``deepfuse.data``).

    Args:
        vocab_size: Number of token ids (largest id + 1).
        embed_dim: Embedding size.
        encoder: ``"lstm"``, ``"gru"`` (final hidden state) or ``"cnn"`` (Conv1D + max pool).
        units: RNN hidden size per direction.
        bidirectional: Read both ways and concatenate the final states.
        num_layers: Stacked RNN layers.
        dropout: Dropout on RNN inputs, between RNN layers and before the output layer.
        out_features: Number of classes (1 for a single logit).
        filters: Conv1D filters per kernel size (``encoder="cnn"``).
        kernel_sizes: Conv1D widths (``encoder="cnn"``).

    Example:
        >>> import torch
        >>> text(50, embed_dim=4, encoder="cnn", filters=3)(torch.ones(2, 9).long()).shape
        torch.Size([2, 2])
    """
    if not isinstance(encoder, str) or encoder.lower() not in ENCODERS:
        raise invalid_choice("text encoder", encoder, ENCODERS)
    config = {
        "vocab_size": positive_int("text", "vocab_size", vocab_size),
        "embed_dim": positive_int("text", "embed_dim", embed_dim),
        "encoder": encoder.lower(),
        "units": positive_int("text", "units", units),
        "bidirectional": bool(bidirectional),
        "num_layers": positive_int("text", "num_layers", num_layers),
        "dropout": rate("text", "dropout", dropout),
        "out_features": positive_int("text", "out_features", out_features),
        "filters": positive_int("text", "filters", filters),
        "kernel_sizes": int_list("text", "kernel_sizes", kernel_sizes, allow_empty=False),
    }
    model = TextClassifier(config)
    # Every size is known, so the weights are created now (deterministic under a seed).
    build_with(model, torch.ones(2, max(config["kernel_sizes"]), dtype=torch.long))
    return tag(model, "text", config)
