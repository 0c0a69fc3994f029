"""The built-in dataset catalog is one Registry, read by the data routes and config validation."""

from __future__ import annotations

import pytest

from deepfuse._utils.errors import ConfigError
from deepfuse._utils.registry import Registry
from deepfuse.config import validate
from deepfuse.data.routes import route_for
from deepfuse.datasets import BUILTIN_DATASETS, BuiltinDataset, builtin


def test_catalog_is_the_one_registry_type():
    assert isinstance(BUILTIN_DATASETS, Registry)
    assert BUILTIN_DATASETS.names() == ["adult", "fashion_mnist", "imdb", "mnist"]
    for name, entry in BUILTIN_DATASETS.items():
        assert isinstance(entry, BuiltinDataset) and entry.name == name
        assert entry.kind in ("images", "table")
        assert (entry.target is None) == (entry.kind == "images")


def test_builtin_takes_a_name_or_a_mapping_with_options():
    entry, options = builtin({"name": "imdb", "seed": 1})
    assert entry is BUILTIN_DATASETS.get("imdb") and options == {"seed": 1}
    assert builtin("adult") == (BUILTIN_DATASETS.get("adult"), {})


@pytest.mark.parametrize("spelling", ["MNIST", "Fashion-MNIST", "fashionmnist", "Adult"])
def test_what_config_validation_accepts_the_catalog_serves(spelling):
    # regression: validate() matched 'MNIST' loosely, then the route failed on the exact name
    validate({"data": {"dataset": spelling}}, {"datasets": BUILTIN_DATASETS.names()})
    expected = spelling.lower().replace("-", "").replace("fashionmnist", "fashion_mnist")
    assert builtin(spelling)[0] is BUILTIN_DATASETS.get(expected)
    assert route_for({"dataset": spelling}).name.startswith("builtin_")


def test_unknown_names_are_refused_with_a_did_you_mean():
    with pytest.raises(ConfigError, match=r"Unknown built-in dataset 'mnst'.*Did you mean 'mnist'"):
        builtin("mnst")
    with pytest.raises(ConfigError, match=r"data\.dataset"):
        validate({"data": {"dataset": "mnst"}}, {"datasets": BUILTIN_DATASETS.names()})


def test_config_validation_reads_its_dataset_names_from_the_catalog():
    from deepfuse.models.from_config import config_signatures

    datasets = config_signatures()["datasets"]
    assert sorted(datasets) == BUILTIN_DATASETS.names()
    assert all(datasets[n] is BUILTIN_DATASETS.get(n).load for n in datasets)
