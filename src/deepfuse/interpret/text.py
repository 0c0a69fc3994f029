"""Per-token attributions for text models, through the first ``nn.Embedding`` of the model.

Token ids are discrete, so gradients are taken with respect to the embedding output: a forward
hook on the first ``nn.Embedding`` replaces its output ``E`` (B, T, D) with a tensor we
differentiate. Integrated gradients follow the path ``alpha * E`` from the all-zeros embedding
(the padding vector) to ``E``; a token's score is the sum over D of ``E * mean gradient``
(completeness holds over the tokens of a row). Saliency is the L2 norm over D of the gradient.
Scores are returned as ``(token, score)`` pairs, words taken from the model's preprocessor
(``TextEncoder``: 0 = ``<pad>``, 1 = ``<oov>``, then its vocabulary) when available.

Example:
    >>> import torch
    >>> from deepfuse.interpret import token_attributions
    >>> class Bag(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.emb, self.out = torch.nn.Embedding(5, 3, padding_idx=0), torch.nn.Linear(3, 2)
    ...     def forward(self, t):
    ...         return self.out(self.emb(t).mean(1))
    >>> rows = token_attributions(Bag(), torch.tensor([[0, 2, 3]]), vocab=["<pad>", "<oov>", "good", "film", "bad"])
    >>> [token for token, _ in rows[0]]
    ['good', 'film']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfuse._utils.errors import UserError, invalid_choice
from deepfuse.adversarial.attacks import eval_mode
from deepfuse.interpret.gradients import _trapezoid, class_scores, resolve_target

__all__ = ["token_attributions"]

PAD, OOV = "<pad>", "<oov>"


def _first_embedding(model: nn.Module) -> nn.Embedding:
    if any(isinstance(m, nn.EmbeddingBag) for m in model.modules()):
        # A bag model (zoo ``bag``) pools each text column before any layer sees a token: its
        # first nn.Embedding, if any, embeds a categorical column, and hooking it would score
        # the wrong input.
        raise UserError(
            "Token attributions do not apply to a bag-of-n-grams model (zoo 'bag'): it pools "
            "the words of each text column before any layer sees one token. Use permutation "
            "importance (deepfuse explain RUN --data FILE), or train model: {type: text}."
        )
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            return module
    raise UserError(
        "Token attributions need a model with an nn.Embedding layer (a text model); this model "
        "has none. Use saliency() or integrated_gradients() on its input tensor instead."
    )


def _text_encoder(model: nn.Module) -> Any:
    """The single TextEncoder of the model's preprocessor, or ``None``."""
    pre = getattr(model, "preprocessor", None)
    if pre is None:
        return None
    names = pre.schema.names("text")
    return pre._encoders[names[0]] if len(names) == 1 else None


def _vocabulary(model: nn.Module, vocab: Any) -> list[str] | None:
    """index → word: an explicit list, a TextEncoder, or the model's own encoder."""
    vocab = _text_encoder(model) if vocab is None else vocab
    if vocab is None:
        return None
    if hasattr(vocab, "vocab") and not isinstance(vocab, list | tuple):  # a TextEncoder
        return [PAD, OOV, *(vocab.vocab or [])]
    return [str(v) for v in vocab]


def _as_ids(model: nn.Module, tokens: Any) -> torch.Tensor:
    """Token ids ``(B, T)`` from ids, or from raw strings through the model's TextEncoder."""
    if isinstance(tokens, str) or (
        isinstance(tokens, Sequence) and tokens and isinstance(tokens[0], str)
    ):
        encoder = _text_encoder(model)
        if encoder is None:
            raise UserError(
                "Raw text needs a model trained with a text column (its preprocessor encodes "
                "the words); pass token ids (B, T) instead."
            )
        texts = [tokens] if isinstance(tokens, str) else list(tokens)
        return torch.from_numpy(np.asarray(encoder.transform(texts)))
    ids = torch.as_tensor(tokens)
    if ids.is_floating_point():
        raise UserError("Token ids must be integers (B, T); got a floating-point tensor.")
    # integer ids -> int64, as the tensor rule keeps token ids (uint8 too: nn.Embedding refuses it)
    return (ids[None] if ids.dim() == 1 else ids).long()


def _embedding_grads(
    model: nn.Module, ids: torch.Tensor, target: torch.Tensor, emb_out: torch.Tensor, scale: Any
) -> torch.Tensor:
    """Gradients of the target scores wrt the (scaled) embedding output, ``(s * B, T, D)``."""
    s = len(scale)
    scaled = (scale.view(s, 1, 1, 1) * emb_out).reshape(s * len(ids), *emb_out.shape[1:])
    scaled.requires_grad_(True)
    handle = _first_embedding(model).register_forward_hook(lambda m, i, o: scaled)
    try:
        scores = class_scores(model(ids.repeat(s, 1)), target.repeat(s))
    finally:
        handle.remove()
    (grad,) = torch.autograd.grad(scores.sum(), scaled)
    return grad.view(s, *emb_out.shape)


def token_attributions(
    model: nn.Module,
    tokens: Any,
    target: Any = None,
    *,
    method: str = "integrated_gradients",
    steps: int = 50,
    vocab: Any = None,
    skip_padding: bool = True,
    internal_batch_size: int = 512,
) -> list[list[tuple[str, float]]]:
    """Score every token of every row for the target class.

    Args:
        model: A text model whose first ``nn.Embedding`` embeds ``tokens``.
        tokens: Token ids ``(B, T)`` or ``(T,)``, or raw text (str or list of str) for a model
            trained with a text column.
        target: Class index, one per row, or ``None`` for the predicted class.
        method: ``"integrated_gradients"`` (alias ``"ig"``) or ``"saliency"``.
        steps: Integrated-gradients intervals.
        vocab: index → word list, or a ``TextEncoder``; default the model's preprocessor.
        skip_padding: Leave out padding tokens (id 0).
        internal_batch_size: Rows per forward pass along the path.

    Returns:
        One list per row of ``(token, score)`` in text order; the token is the word, or the id
        as a string when no vocabulary is known.
    """
    if method not in ("integrated_gradients", "ig", "saliency"):
        raise invalid_choice("method", method, ["integrated_gradients", "ig", "saliency"])
    embedding = _first_embedding(model)  # fail early for a model without one
    ids = _as_ids(model, tokens)  # (B, T)
    words = _vocabulary(model, vocab)
    with eval_mode(model):
        target = resolve_target(model, ids, target)
        captured: list[torch.Tensor] = []
        handle = embedding.register_forward_hook(lambda m, i, o: captured.append(o.detach()))
        try:
            with torch.no_grad():
                model(ids)
        finally:
            handle.remove()
        emb_out = captured[0]  # (B, T, D)
        if method == "saliency":
            grad = _embedding_grads(model, ids, target, emb_out, torch.ones(1))[0]
            scores = grad.norm(dim=-1)  # (B, T)
        else:
            alphas, weights = _trapezoid(steps)
            per_chunk = max(1, internal_batch_size // len(ids))
            avg_grad = torch.zeros_like(emb_out)
            for start in range(0, steps + 1, per_chunk):
                a = alphas[start : start + per_chunk].to(emb_out)
                w = weights[start : start + per_chunk].to(emb_out)
                grad = _embedding_grads(model, ids, target, emb_out, a)  # (s, B, T, D)
                avg_grad += (w.view(-1, 1, 1, 1) * grad).sum(0)
            scores = (emb_out * avg_grad).sum(-1)  # (B, T); baseline is the zero embedding
    rows = []
    for row_ids, row_scores in zip(ids.tolist(), scores.tolist()):
        rows.append(
            [
                (words[i] if words is not None and 0 <= i < len(words) else str(i), float(sc))
                for i, sc in zip(row_ids, row_scores)
                if not (skip_padding and i == 0)
            ]
        )
    return rows
