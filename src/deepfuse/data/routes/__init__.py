"""Data routes: one class per kind of data, from a config's ``data`` section to feeds.

=====================  ==========================================================
route                  serves
=====================  ==========================================================
``builtin_images``     ``data.dataset: mnist | fashion_mnist`` (NCHW tensors in [0, 1])
``image_folder``       ``data.kind: image_folder``: ``data.train`` folder of
                       ``<class>/*.png|jpg`` (NCHW tensors in [0, 1], classes = subfolders)
``text_folder``        ``data.kind: text_folder``: ``data.train`` folder of ``<class>/*.txt``
                       (a ``text`` column through the Preprocessor, classes = subfolders)
``table_streamed``     ``data.train`` files streamed (``streaming: true``, or big files)
``builtin_table``      ``data.dataset: imdb | adult`` (a table with a known target)
``table_in_memory``    ``data.train`` (+ ``data.test``) read whole
=====================  ==========================================================

:func:`route_for` picks the class (the first in :data:`ROUTES` that matches); every verb
(``train``, ``cv``, ``evaluate``, ``predict``, ``explain``, ``attack``) goes through it. A new
kind of data is one :class:`DataRoute` subclass passed to :func:`register_route`; a kind that
cannot be told from the section (a folder of images or of text files) sets ``by_kind`` and is
chosen with ``data.kind`` (:func:`data_kinds` lists the values).

Example:
    >>> from deepfuse.data.routes import route_for
    >>> route = route_for({"dataset": "mnist", "limit": 100, "validation_split": 0.1})
    >>> route.name
    'builtin_images'
    >>> print(*[r.name for r in ROUTES])
    builtin_images image_folder text_folder table_streamed builtin_table table_in_memory
"""

from __future__ import annotations

from deepfuse.data.routes.base import (
    ROUTES,
    DataRoute,
    FoldRows,
    Prepared,
    data_kinds,
    register_route,
    route_for,
    test_feed_of,
)
from deepfuse.data.routes.builtin_images import BuiltinImages, image_batch
from deepfuse.data.routes.image_folder import ImageFolder
from deepfuse.data.routes.streamed import STREAM_DEFAULTS, TableStreamed, should_stream
from deepfuse.data.routes.tables import BuiltinTable, TableInMemory, read_input
from deepfuse.data.routes.text_folder import TextFolder

__all__ = [
    "ROUTES",
    "STREAM_DEFAULTS",
    "BuiltinImages",
    "BuiltinTable",
    "DataRoute",
    "FoldRows",
    "ImageFolder",
    "Prepared",
    "TableInMemory",
    "TableStreamed",
    "TextFolder",
    "data_kinds",
    "image_batch",
    "read_input",
    "register_route",
    "route_for",
    "should_stream",
    "test_feed_of",
]
