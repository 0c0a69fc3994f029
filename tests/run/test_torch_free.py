"""The run contract, the config and the small utilities import no torch (and no numpy): the
dashboard and `deepfuse info` start fast. Each import runs in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import deepfuse
from source_imports import imported

SRC = Path(deepfuse.__file__).parent


@pytest.mark.parametrize(
    "module",
    [
        "deepfuse.run",
        "deepfuse.config",
        "deepfuse._utils.io",
        "deepfuse._utils.errors",
        "deepfuse.ui.runs",
    ],
)
def test_import_does_not_import_torch(module):
    code = (
        f"import sys, {module}; "
        "heavy = sorted({'torch', 'numpy'} & set(sys.modules)); "
        "assert not heavy, heavy"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC.parent)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr


def test_the_check_can_fail():
    """The same probe reports a module that does import torch."""
    code = "import sys, deepfuse.layers; assert 'torch' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": str(SRC.parent)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode != 0 and "AssertionError" in done.stderr


@pytest.mark.parametrize("package", ["report", "viz", "ui", "run"])
def test_readers_of_runs_never_import_the_api(package):
    upward = sorted(
        n for n in imported(package) if n == "deepfuse.api" or n.startswith("deepfuse.api.")
    )
    assert upward == []


def test_run_imports_only_stdlib_utils_and_config():
    allowed = ("deepfuse._utils", "deepfuse.config", "deepfuse.run")
    others = sorted(
        n
        for n in imported("run")
        if n.startswith("deepfuse.") and not n.startswith(allowed)  # `import deepfuse`: version
    )
    assert others == []
