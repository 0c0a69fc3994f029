"""The CSV / JSON-lines row checking used by ``prepare``; it lives in :mod:`deepfuse.data.tabular_rows`.

Kept as an import path for the other ``prepare`` modules (``_images`` types its ``ctx`` with it).
"""

from __future__ import annotations

from deepfuse.data.tabular_rows import Context, read_csv, read_jsonl

__all__ = ["Context", "read_csv", "read_jsonl"]
