"""Text columns: tokenisation, vocabularies and integer encoding (``deepfuse.data.TextEncoder``).

The one implementation is :mod:`deepfuse._utils.text`, shared with the built-in IMDB loader
(:func:`deepfuse.datasets.load_imdb` with ``num_words``); this module is its public name.

The tokenisation rules are in that module's docstring.

Example:
    >>> from deepfuse.data.text import TextEncoder
    >>> TextEncoder(max_len=3).fit(["a b b"]).transform(["b a zzz"]).tolist()
    [[2, 3, 1]]
"""

from __future__ import annotations

from deepfuse._utils.text import TextEncoder, pad_sequences, tokenize, tokenize_array

__all__ = ["TextEncoder", "pad_sequences", "tokenize", "tokenize_array"]
