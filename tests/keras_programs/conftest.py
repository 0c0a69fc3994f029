"""Shared setup for the Keras programs: every program starts from the same seeds.

The programs themselves stay plain Keras code; seeding here (python, numpy, torch) instead of in
each program keeps them verbatim and makes the figures in README.md reproducible. The same file is
used unchanged when ``_keras_reference.py`` runs the programs on real Keras (torch backend).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seeded() -> None:
    random.seed(1337)
    np.random.seed(1337)
    torch.manual_seed(1337)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "keras2_semantics: checks Keras 2 / tf.keras behaviour that Keras 3 changed (see README.md)",
    )
