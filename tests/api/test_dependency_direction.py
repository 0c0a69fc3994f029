"""The dependency direction around the verbs: only the CLI (and ``deepfuse/__init__.py``, lazily)
imports ``deepfuse.api``; ``deepfuse.data`` imports no layer above it."""

from __future__ import annotations

from pathlib import Path

import pytest

import deepfuse
from source_imports import imported

SRC = Path(deepfuse.__file__).parent
PACKAGES = sorted(
    p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").is_file()
) + sorted(p.stem for p in SRC.glob("*.py") if p.stem != "__init__")


def packages_of(names: set[str]) -> set[str]:
    return {n.split(".")[1] for n in names if n.startswith("deepfuse.")}


def test_the_packages_are_found():
    assert {"api", "cli", "data", "datasets", "run", "models", "utils"} <= set(PACKAGES)


@pytest.mark.parametrize("package", [p for p in PACKAGES if p not in ("api", "cli")])
def test_only_the_cli_imports_the_api(package):
    assert "api" not in packages_of(imported(package))


def test_data_imports_no_layer_above_it():
    above = {"models", "training", "distributed", "api", "cli", "report", "viz", "ui"}
    above |= {"evaluation", "interpret", "adversarial"}
    assert packages_of(imported("data")) & above == set()


def test_the_check_can_fail():
    assert "api" in packages_of(imported("cli"))
