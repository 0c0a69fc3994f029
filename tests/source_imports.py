"""What deepfuse's own source files import, read from the code (the dependency-direction tests).

Function bodies count too: a lazy import is an edge of the import graph as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import deepfuse

SRC = Path(deepfuse.__file__).parent


def imported(package: str) -> set[str]:
    """Every module named by an import statement anywhere in ``deepfuse.<package>`` (a
    subpackage or a top-level module)."""
    paths = [SRC / f"{package}.py"] if (SRC / f"{package}.py").is_file() else []
    paths += sorted((SRC / package).rglob("*.py")) if (SRC / package).is_dir() else []
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
    return names
