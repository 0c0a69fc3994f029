from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def real_signatures():
    """The callables and registries deepfuse validates configs with (imports torch)."""
    from deepfuse.models.from_config import config_signatures

    return config_signatures()
