"""Text rules shared by the data pipeline and the built-in datasets: tokenisation, vocabularies
and integer encoding, vectorised with pyarrow compute (torch-free).

Public as :mod:`deepfuse.data.text` (``deepfuse.data.TextEncoder``, ``pad_sequences``,
``tokenize``); it lives here, below both :mod:`deepfuse.data` and :mod:`deepfuse.datasets`, so
that ``deepfuse.datasets.load_imdb(num_words=...)`` encodes words by the same rules as the
Preprocessor without the datasets importing the data package (which imports them).

Rules (the same at fit and at transform): lowercase, HTML tags such as ``<br />`` become spaces,
apostrophes are dropped (``don't`` -> ``dont``, like Keras ``TextVectorization``), every other run of
non-letters/non-digits separates words. Index 0 is padding, 1 is out-of-vocabulary (OOV), words
follow from 2 by decreasing training frequency (ties by alphabetical order).

Example:
    >>> from deepfuse._utils.text import tokenize, TextEncoder
    >>> tokenize(["Don't stop<br />believing!"])
    [['dont', 'stop', 'believing']]
    >>> enc = TextEncoder(max_len=4).fit(["a b b", "b c"])
    >>> enc.vocab
    ['b', 'a', 'c']
    >>> enc.transform(["b a zzz"]).tolist()     # pre-padded like Keras pad_sequences
    [[0, 2, 3, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from deepfuse._utils.errors import UserError

__all__ = [
    "OOV",
    "PAD",
    "TextEncoder",
    "pad_sequences",
    "rank_by_frequency",
    "tokenize",
    "tokenize_array",
]

PAD, OOV = 0, 1
_HTML = r"<[^>]*>"
_SEPARATORS = r"[^\p{L}\p{N}]+"  # RE2 syntax: any run of non-letter, non-digit characters


def rank_by_frequency(values: pa.Array, counts: np.ndarray, limit: int | None = None) -> list[str]:
    """Values by decreasing count, ties in code-point order, at most ``limit`` of them.

    The one ordering of every vocabulary (categories and words), in memory and when streaming.

    Example:
        >>> rank_by_frequency(pa.array(["b", "a", "c"]), np.array([1, 2, 2]))
        ['a', 'c', 'b']
    """
    names = values.to_numpy(zero_copy_only=False).astype(str)
    order = np.lexsort((names, -np.asarray(counts)))  # count desc, then value asc
    return [str(v) for v in names[order][:limit]]


def tokenize_array(texts: pa.Array | pa.ChunkedArray | Sequence[str | None]) -> pa.ListArray:
    """Tokenise many texts at once; returns a pyarrow list array of word lists (null text -> []).

    Example:
        >>> tokenize_array(["Hi there", None]).to_pylist()
        [['hi', 'there'], []]
    """
    arr = (
        texts
        if isinstance(texts, pa.Array | pa.ChunkedArray)
        else pa.array(texts, type=pa.string())
    )
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], pa.string())
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.string())
    arr = pc.fill_null(arr, "")
    arr = pc.utf8_lower(arr)
    arr = pc.replace_substring_regex(arr, _HTML, " ")
    arr = pc.replace_substring(arr, "'", "")
    arr = pc.replace_substring_regex(arr, _SEPARATORS, " ")
    arr = pc.utf8_trim_whitespace(arr)
    # split(" ") on "" gives [""]; splitting the trimmed text and dropping "" below avoids that.
    lists = pc.split_pattern(arr, " ")
    # Rows that were empty produce [""]: rebuild them as [] via offsets.
    flat = pc.list_flatten(lists)
    keep = pc.not_equal(flat, "")
    if not pc.all(keep).as_py():
        parent = pc.list_parent_indices(lists).to_numpy()
        keep_np = keep.to_numpy(zero_copy_only=False)
        counts = np.bincount(parent[keep_np], minlength=len(lists))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), pc.filter(flat, keep))
    return lists


def tokenize(texts: Sequence[str | None]) -> list[list[str]]:
    """Tokenise texts into word lists (see the module rules).

    Example:
        >>> tokenize(["It's GREAT, 10/10!"])
        [['its', 'great', '10', '10']]
    """
    return tokenize_array(texts).to_pylist()


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    maxlen: int | None = None,
    dtype: str = "int64",
    padding: str = "pre",
    truncating: str = "pre",
    value: float = 0,
) -> np.ndarray:
    """Pad/truncate sequences to one length, like ``keras.utils.pad_sequences``.

    The one implementation: ``deepfuse.utils.pad_sequences`` (the Keras-style import) is this
    function, and :class:`TextEncoder` pads through the same vectorised kernel.

    Args:
        sequences: Lists/arrays of numbers (token ids).
        maxlen: Output length (default: the longest sequence).
        dtype: Output dtype (Keras' default is int32; ours int64, what embeddings take).
        padding: ``"pre"`` (pad at the start, Keras' default) or ``"post"``.
        truncating: ``"pre"`` (drop tokens at the start) or ``"post"``.
        value: Padding value.

    Returns:
        Array ``(N, maxlen)`` of ``dtype``.

    Raises:
        UserError: ``padding`` or ``truncating`` is not ``"pre"``/``"post"``.

    Example:
        >>> pad_sequences([[1, 2, 3], [4]], maxlen=2).tolist()
        [[2, 3], [0, 4]]
        >>> pad_sequences([[1.5], []], padding="post", dtype="float32", value=-1).tolist()
        [[1.5], [-1.0]]
    """
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    flat = (
        np.concatenate([np.asarray(s, dtype=dtype).reshape(-1) for s in sequences])
        if len(sequences)
        else np.zeros(0, dtype)
    )
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    width = int(lengths.max(initial=0)) if maxlen is None else int(maxlen)
    return _pad(flat, offsets, width, padding, truncating, value, dtype=dtype)


def _pad(
    flat: np.ndarray,
    offsets: np.ndarray,
    maxlen: int,
    padding: str,
    truncating: str,
    value: float = 0,
    *,
    dtype: str = "int64",
) -> np.ndarray:
    """Vectorised padding of a ragged (flat values, offsets) array into ``(N, maxlen)``."""
    for name, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise UserError(f"The '{name}' argument must be 'pre' or 'post'; got {v!r}.")
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    kept = np.minimum(lengths, maxlen)
    out = np.full((n, maxlen), value, dtype=dtype)
    if n == 0 or maxlen == 0 or len(flat) == 0:
        return out
    row = np.repeat(np.arange(n), lengths)  # (total,) row of each token
    pos = np.arange(len(flat)) - offsets[:-1][row]  # position of each token within its row
    first = (lengths - kept) if truncating == "pre" else np.zeros_like(lengths)
    sel = (pos >= first[row]) & (pos < (first + kept)[row])
    start = (maxlen - kept) if padding == "pre" else np.zeros_like(kept)
    col = start[row[sel]] + pos[sel] - first[row[sel]]
    out[row[sel], col] = flat[sel]
    return out


class TextEncoder:
    """Word vocabulary + integer encoding of a text column.

    Args:
        max_tokens: Vocabulary size including PAD (0) and OOV (1); the ``max_tokens - 2`` most
            frequent training words get their own index.
        max_len: Output length; ``None`` picks the ``length_quantile`` of training lengths, capped
            at ``max_len_cap``.
        length_quantile: Quantile of training lengths used when ``max_len`` is ``None``.
        max_len_cap: Upper bound for the automatic ``max_len``.
        padding: ``"pre"`` (Keras default; good for RNNs that read the last state) or ``"post"``.
        truncating: ``"pre"`` keeps the last ``max_len`` words, ``"post"`` the first.
        vocab: A fitted vocabulary (from :meth:`get_config`).
        approximate: Why the vocabulary is approximate (set by a streaming fit that evicted
            words from its bounded counter; see :mod:`deepfuse.data.stream_fit`), else ``None``.

    Example:
        >>> TextEncoder(max_len=3, padding="post").fit(["x y"]).transform(["y"]).tolist()
        [[3, 0, 0]]
    """

    def __init__(
        self,
        *,
        max_tokens: int | None = 20000,
        max_len: int | None = None,
        length_quantile: float = 0.9,
        max_len_cap: int = 400,
        padding: str = "pre",
        truncating: str = "pre",
        vocab: list[str] | None = None,
        approximate: str | None = None,
    ) -> None:
        if max_tokens is not None and max_tokens < 3:
            raise ValueError(f"max_tokens must be >= 3 (PAD, OOV and one word); got {max_tokens}.")
        self.max_tokens = max_tokens
        self.max_len = max_len
        self.length_quantile = length_quantile
        self.max_len_cap = max_len_cap
        self.padding = padding
        self.truncating = truncating
        self.vocab: list[str] | None = vocab
        # why the vocabulary is approximate (a streaming fit that evicted words), else None
        self.approximate = approximate
        self._lookup: pa.Array | None = None if vocab is None else pa.array(vocab, pa.string())

    @property
    def vocab_size(self) -> int:
        """Number of embedding rows needed: ``len(vocab) + 2`` (PAD and OOV)."""
        return len(self.vocab or []) + 2

    def fit(self, texts: Any) -> TextEncoder:
        """Build the vocabulary (and ``max_len`` when automatic) from training texts."""
        lists = tokenize_array(texts)
        counts = pc.value_counts(pc.list_flatten(lists))
        self.fit_counts(counts.field("values"), counts.field("counts").to_numpy())
        if self.max_len is None:
            lengths = pc.list_value_length(lists).to_numpy()
            self.set_length_quantile(
                float(np.quantile(lengths, self.length_quantile)) if len(lengths) else None
            )
        return self

    def fit_counts(
        self, words: pa.Array, counts: np.ndarray, approximate: str | None = None
    ) -> TextEncoder:
        """Set the vocabulary from word counts (``fit`` and the streaming fit share this)."""
        limit = None if self.max_tokens is None else self.max_tokens - 2
        self.vocab = rank_by_frequency(words, counts, limit)
        self._lookup = pa.array(self.vocab, pa.string())
        self.approximate = approximate
        return self

    def set_length_quantile(self, q: float | None) -> None:
        """Automatic ``max_len`` from the ``length_quantile`` of training lengths (None: no rows)."""
        self.max_len = 1 if q is None else int(max(1, min(int(np.ceil(q)), self.max_len_cap)))

    def encode_ragged(self, texts: Any) -> tuple[np.ndarray, np.ndarray]:
        """Encode texts to word indices without padding: ``(flat int64 values, offsets (N+1,))``."""
        if self._lookup is None:
            raise RuntimeError("TextEncoder is not fitted; call fit() first.")
        lists = tokenize_array(texts)
        idx = pc.index_in(pc.list_flatten(lists), value_set=self._lookup)
        flat = pc.fill_null(idx, -1).to_numpy().astype(np.int64) + 2  # OOV (-1) -> 1, words from 2
        offsets = lists.offsets.to_numpy().astype(np.int64)
        return flat, offsets - offsets[0]

    def transform(self, texts: Any) -> np.ndarray:
        """Encode texts to an ``int64`` matrix ``(N, max_len)`` (0 = pad, 1 = OOV)."""
        flat, offsets = self.encode_ragged(texts)
        return _pad(flat, offsets, int(self.max_len or 1), self.padding, self.truncating)

    def get_config(self) -> dict[str, Any]:
        """JSON-able state (settings and vocabulary)."""
        return {
            "max_tokens": self.max_tokens,
            "max_len": self.max_len,
            "length_quantile": self.length_quantile,
            "max_len_cap": self.max_len_cap,
            "padding": self.padding,
            "truncating": self.truncating,
            "vocab": self.vocab,
            **({"approximate": self.approximate} if self.approximate else {}),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TextEncoder:
        """Rebuild an encoder from :meth:`get_config` output."""
        return cls(**config)
