"""Keras' ``keras.preprocessing``: ``sequence.pad_sequences``, the ``image`` helpers
(``load_img``, ``img_to_array``, ``array_to_img``, ``save_img``) and
``image_dataset_from_directory``. Keras 3 spells the same functions ``keras.utils.<name>``;
both names are these functions.

Example:
    >>> import deepfuse as keras
    >>> keras.preprocessing.sequence.pad_sequences([[5, 6]], maxlen=4).tolist()
    [[0, 0, 5, 6]]
    >>> keras.preprocessing.image.array_to_img is keras.utils.array_to_img
    True
"""

from __future__ import annotations

from typing import Any

from deepfuse.preprocessing import image, sequence
from deepfuse.preprocessing.directory import DirectoryDataset, image_dataset_from_directory

__all__ = ["DirectoryDataset", "image", "image_dataset_from_directory", "sequence"]


#: Keras 2 preprocessing deepfuse leaves out, with what to use instead.
_NOT_PROVIDED = {
    "text": (
        "the Tokenizer is not provided by deepfuse; use deepfuse.data.TextEncoder (tokenise, "
        "build the vocabulary, pad) or a config's text column"
    ),
    "timeseries_dataset_from_array": "slice the windows with numpy and pass arrays to fit()",
}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    fix = _NOT_PROVIDED.get(name, "see deepfuse.preprocessing.__all__ for what is there")
    raise AttributeError(f"keras.preprocessing.{name} is not provided by deepfuse; {fix}")
