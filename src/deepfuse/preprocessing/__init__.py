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

from deepfuse.preprocessing import image, sequence
from deepfuse.preprocessing.directory import DirectoryDataset, image_dataset_from_directory

__all__ = ["DirectoryDataset", "image", "image_dataset_from_directory", "sequence"]
