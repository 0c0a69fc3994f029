"""Lazy imports of optional heavy dependencies, with an error naming the extra to install.

Example:
    >>> from deepfuse._utils.optional import require
    >>> np = require("numpy", extra="core")
"""

from __future__ import annotations

import importlib
from types import ModuleType

from deepfuse._utils.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, *, extra: str, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``pip install deepfuse[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        why = f" (needed for {purpose})" if purpose else ""
        raise MissingDependencyError(
            f"The optional package '{module.split('.')[0]}' is not installed{why}. "
            f"Install it with: pip install 'deepfuse[{extra}]'"
        ) from exc
