"""Data routes: one class per kind of data, from a config's ``data`` section to feeds.

=====================  ==========================================================
route                  serves
=====================  ==========================================================
``builtin_images``     ``data.dataset: mnist | fashion_mnist`` (NCHW tensors in [0, 1])
``table_streamed``     ``data.train`` files streamed (``streaming: true``, or big files)
``builtin_table``      ``data.dataset: imdb | adult`` (a table with a known target)
``table_in_memory``    ``data.train`` (+ ``data.test``) read whole
=====================  ==========================================================

:func:`route_for` picks the class (the first in :data:`ROUTES` that matches); every verb
(``train``, ``cv``, ``evaluate``, ``predict``, ``explain``, ``attack``) goes through it. A new
kind of data is one :class:`DataRoute` subclass passed to :func:`register_route`.

Example:
    >>> from deepfuse.data.routes import route_for
    >>> route = route_for({"dataset": "mnist", "limit": 100, "validation_split": 0.1})
    >>> route.name, [r.name for r in ROUTES]
    ('builtin_images', ['builtin_images', 'table_streamed', 'builtin_table', 'table_in_memory'])
"""

from __future__ import annotations

from deepfuse.data.routes.base import (
    ROUTES,
    DataRoute,
    FoldRows,
    Prepared,
    register_route,
    route_for,
    test_feed_of,
)
from deepfuse.data.routes.builtin_images import BuiltinImages, image_batch
from deepfuse.data.routes.streamed import STREAM_DEFAULTS, TableStreamed, should_stream
from deepfuse.data.routes.tables import BuiltinTable, TableInMemory, read_input

__all__ = [
    "ROUTES",
    "STREAM_DEFAULTS",
    "BuiltinImages",
    "BuiltinTable",
    "DataRoute",
    "FoldRows",
    "Prepared",
    "TableInMemory",
    "TableStreamed",
    "image_batch",
    "read_input",
    "register_route",
    "route_for",
    "should_stream",
    "test_feed_of",
]
