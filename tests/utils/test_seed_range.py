"""Issue 11 finding 7: ``trainer.seed=-1`` or above 2**64 is one ConfigError, not a numpy or
torch ValueError deep in the split or the seeding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepfuse._utils.errors import ConfigError
from deepfuse._utils.seed import MAX_SEED, check_seed, seed_everything
from deepfuse.data import stratified_split


@given(st.integers(0, MAX_SEED))
def test_every_accepted_seed_seeds_numpy_and_the_split(seed):
    assert check_seed(seed) == seed
    np.random.default_rng(seed)
    stratified_split(np.array([0, 1] * 5), 0.2, seed=seed)


@pytest.mark.parametrize("seed", [-1, 2**64, 10**30, 1.5, "7", True, None])
def test_out_of_range_seed_is_one_config_error(seed):
    with pytest.raises(
        ConfigError, match=r"'trainer.seed'. Expected an integer from 0 to 2\*\*64 - 1"
    ):
        check_seed(seed)


def test_seed_everything_and_split_refuse_it():
    with pytest.raises(ConfigError):
        seed_everything(-1)
    with pytest.raises(ConfigError):
        stratified_split(np.array([0, 1] * 5), 0.2, seed=2**64)
    assert seed_everything(MAX_SEED).initial_seed() == MAX_SEED
