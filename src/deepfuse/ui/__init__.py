"""``deepfuse ui``: a local, read-only web dashboard over a runs folder (``pip install 'deepfuse[ui]'``).

A runs table sortable by any metric, a page per run with curves that update while it trains,
its confusion matrix and report, and a page comparing several runs (overlaid curves, metrics
side by side, config diff). Served by uvicorn on 127.0.0.1 by default; only GET requests.

Example:
    >>> from deepfuse.ui import serve
    >>> serve("runs", port=8765)  # doctest: +SKIP
"""

from __future__ import annotations

from deepfuse.ui.app import create_app
from deepfuse.ui.server import BackgroundServer, serve

__all__ = ["BackgroundServer", "create_app", "serve"]
