"""The data-route contract: every route is picked from its data section, and its test feed,
folds and prepared splits agree with each other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from deepfuse._utils.errors import ConfigError
from deepfuse.data.routes import (
    ROUTES,
    BuiltinImages,
    BuiltinTable,
    DataRoute,
    TableInMemory,
    TableStreamed,
    register_route,
    route_for,
)
from deepfuse.datasets import BUILTIN_DATASETS, builtin
from synthetic_tables import city_income_csv

MNIST = {"dataset": "mnist", "limit": 300, "validation_split": 0.1}


def _table(tmp_path, rows=120) -> dict[str, Any]:
    path = city_income_csv(tmp_path / "t.csv", rows)
    return {"train": str(path), "target": "label", "validation_split": 0.1, "test_split": 0.2}


def _parquet(tmp_path, rows=400) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=rows)
    pq.write_table(pa.table({"x": x, "y": (x > 0).astype(np.int64)}), tmp_path / "p.parquet")
    return str(tmp_path / "p.parquet")


def _equal(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_each_kind_of_data_section_has_its_route(tmp_path):
    table = _table(tmp_path)
    assert isinstance(route_for({"dataset": "mnist"}), BuiltinImages)
    assert isinstance(route_for({"dataset": {"name": "fashion_mnist"}}), BuiltinImages)
    assert isinstance(route_for({"dataset": "adult"}), BuiltinTable)
    assert isinstance(route_for({"dataset": "imdb"}), BuiltinTable)
    assert type(route_for(table)) is TableInMemory
    assert isinstance(route_for({**table, "streaming": True}), TableStreamed)
    assert type(route_for({**table, "streaming": False})) is TableInMemory


def test_every_builtin_dataset_is_served_by_a_route():
    for name, entry in BUILTIN_DATASETS.items():
        route = route_for({"dataset": name})
        assert route.name == ("builtin_images" if entry.kind == "images" else "builtin_table")


def test_unknown_dataset_names_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"'mnst'.*'fashion_mnist'.*Did you mean 'mnist'"):
        builtin("mnst")


def test_streaming_a_builtin_table_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data\.streaming"):
        route_for({"dataset": "adult", "streaming": True})


@pytest.mark.parametrize("kind", ["images", "table"])
def test_test_feed_gives_the_rows_prepare_held_out(tmp_path, kind):
    """evaluate/explain/attack see exactly the test rows train() scored."""
    data = MNIST if kind == "images" else _table(tmp_path)
    route = route_for(data)
    prep = route.prepare(data, seed=3, batch_size=32)
    again = route.test_feed(data, seed=3, preprocessor=prep.preprocessor)
    assert _equal(prep.test, again)
    train_rows = len(prep.train[prep.target]) + len(prep.val[prep.target])
    assert train_rows == (300 if kind == "images" else 96)


def test_streamed_test_feed_gives_the_rows_prepare_held_out(tmp_path):
    data = {"train": _parquet(tmp_path), "target": "y", "streaming": True,
            "validation_split": 0.1, "test_split": 0.25}  # fmt: skip
    route = route_for(data)
    prep = route.prepare(data, seed=0, batch_size=64)
    assert prep.rows == {"train": 260, "validation": 40, "test": 100}
    first = torch.cat([b["y"] for b in prep.test])
    again = torch.cat(
        [b["y"] for b in route.test_feed(data, seed=0, preprocessor=prep.preprocessor)]
    )
    assert torch.equal(first, again) and len(first) == 100
    with pytest.raises(ConfigError, match=r"data\.streaming is true"):
        route.fold_rows(data)


@pytest.mark.parametrize("kind", ["images", "table"])
def test_fold_rows_prepare_a_fold_like_prepare(tmp_path, kind):
    data = MNIST if kind == "images" else _table(tmp_path)
    folds = route_for(data).fold_rows(data)
    n = folds.num_rows
    assert n == (300 if kind == "images" else 120) and folds.stratified
    test_idx = np.arange(n - 30, n)
    prep = route_for(data).prepare(data, seed=0, batch_size=32)
    fold = folds.prepared(np.arange(n - 30), test_idx, seed=0)
    assert fold.task == prep.task and fold.classes == prep.classes
    assert fold.features == prep.features and len(fold.test[fold.target]) == 30
    assert len(fold.train[fold.target]) + len(fold.val[fold.target]) == n - 30


def test_a_new_kind_of_data_is_one_registered_class():
    class Constant(DataRoute):
        name = "constant"

        @classmethod
        def matches(cls, data):
            return data.get("dataset") == "constant"

        def prepare(self, data, *, seed, batch_size):
            raise NotImplementedError

        def test_feed(self, data, *, seed, preprocessor, batch_size=1024):
            return {"x": torch.ones(2, 1)}

        def load_input(self, table, model, *, need_target, source):
            raise NotImplementedError

    register_route(Constant, before=BuiltinImages)
    try:
        assert ROUTES[0] is Constant
        assert route_for({"dataset": "constant"}).test_feed({}, seed=0, preprocessor=None)[
            "x"
        ].shape == (2, 1)
        assert isinstance(route_for({"dataset": "mnist"}), BuiltinImages)
    finally:
        ROUTES.remove(Constant)


def test_routes_import_neither_models_nor_training_nor_api():
    """data never imports models: a route is usable without the layers above it."""
    import subprocess
    import sys

    code = (
        "import sys, deepfuse.data.routes\n"
        "above = {m.split('.')[1] for m in sys.modules if m.startswith('deepfuse.')}\n"
        "print(sorted(above & {'models', 'training', 'api', 'distributed', 'layers'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
