from __future__ import annotations

from pathlib import Path

import pytest

import deepfuse.datasets as dsets

SHARED = Path("/work/shared/datasets")


def _need_shared():
    if not SHARED.is_dir():
        pytest.skip(
            f"shared datasets folder {SHARED} is absent; set DEEPFUSE_DATA_DIR to run this test"
        )


@pytest.fixture(scope="module")
def adult():
    """(train[:3000], test[:1000]) of UCI Adult."""
    _need_shared()
    train, test = dsets.load_adult(data_dir=SHARED)
    return train.slice(0, 3000), test.slice(0, 1000)


@pytest.fixture(scope="module")
def imdb():
    """(train[:1500], test[:500]) of IMDB as tables."""
    _need_shared()
    train, test = dsets.load_imdb(data_dir=SHARED, as_table=True)
    return train.slice(0, 1500), test.slice(0, 500)
