from __future__ import annotations

from pathlib import Path

import pytest

import deepfuse.datasets as dsets

SHARED = Path("/work/shared/datasets")


@pytest.fixture
def no_data_dir(monkeypatch):
    """No configured data folder: only explicit data_dir (and the vendored MNIST) are searched."""
    monkeypatch.delenv(dsets.ENV_VAR, raising=False)
    previous = dsets.get_data_dir()
    dsets.set_data_dir(None)
    yield
    dsets.set_data_dir(previous)


@pytest.fixture
def shared_dir(monkeypatch, no_data_dir):
    """DEEPFUSE_DATA_DIR pointing at the shared datasets, or skip when they are absent."""
    if not SHARED.is_dir():
        pytest.skip(
            f"shared datasets folder {SHARED} is absent; set DEEPFUSE_DATA_DIR to run this test"
        )
    monkeypatch.setenv(dsets.ENV_VAR, str(SHARED))
    return SHARED
