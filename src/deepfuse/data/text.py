"""Text columns: tokenisation, vocabularies and integer encoding (``deepfuse.data.TextEncoder``).

The one implementation is :mod:`deepfuse._utils.text`, shared with the built-in IMDB loader
(:func:`deepfuse.datasets.load_imdb` with ``num_words``); this module is its public name.

Rules (the same at fit and at transform): lowercase, HTML tags such as ``<br />`` become spaces,
apostrophes are dropped (``don't`` -> ``dont``, like Keras ``TextVectorization``), every other run of
non-letters/non-digits separates words. Index 0 is padding, 1 is out-of-vocabulary (OOV), words
follow from 2 by decreasing training frequency (ties by alphabetical order).

Example:
    >>> from deepfuse.data.text import tokenize, TextEncoder
    >>> tokenize(["Don't stop<br />believing!"])
    [['dont', 'stop', 'believing']]
    >>> enc = TextEncoder(max_len=4).fit(["a b b", "b c"])
    >>> enc.vocab
    ['b', 'a', 'c']
    >>> enc.transform(["b a zzz"]).tolist()     # pre-padded like Keras pad_sequences
    [[0, 2, 3, 1]]
"""

from __future__ import annotations

from deepfuse._utils.text import TextEncoder, pad_sequences, tokenize, tokenize_array

__all__ = ["TextEncoder", "pad_sequences", "tokenize", "tokenize_array"]
