"""The resolved config is computed once, frozen, and is exactly what config.yaml holds."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import deepfuse.api
from deepfuse.api import train
from deepfuse.config import load_config, thaw
from synthetic_tables import city_income_csv

TRAINER = {"epochs": 2, "batch_size": 32, "seed": 0, "verbose": 0}


def _configs(tmp_path: Path) -> dict[str, dict]:
    table = city_income_csv(tmp_path / "t.csv", 150)
    return {
        "table": {"name": "table", "data": {"train": str(table), "target": "label"},
                  "trainer": TRAINER},
        "mnist": {"name": "digits", "data": {"dataset": "mnist", "limit": 400},
                  "model": {"type": "mlp", "hidden": [32]}, "trainer": TRAINER},
    }  # fmt: skip


@pytest.mark.parametrize("kind", ["table", "mnist"])
def test_config_yaml_is_the_config_the_run_used_and_reproduces_it(tmp_path, kind):
    cfg = _configs(tmp_path)[kind]
    first = train(cfg, out_dir=tmp_path / "runs")
    written = load_config(first.run_dir / "config.yaml")
    assert written == thaw(first.config)  # nothing was added or changed after it was written
    # what the run computed from the data is recorded: model sizes, loss, metrics
    assert written["trainer"]["loss"] and written["trainer"]["metrics"] == ["accuracy"]
    if kind == "mnist":
        assert written["model"]["input_shape"] == [1, 28, 28]
        assert written["model"]["out_features"] == 10
    else:
        assert written["model"]["type"] == "tabular"
        assert written["data"]["features"]["city"] == "categorical"
        assert written["data"]["streaming"] is False
    with pytest.raises(TypeError):
        first.config["trainer"]["epochs"] = 5  # frozen: it can no longer drift from the file

    again = train(first.run_dir / "config.yaml", out_dir=tmp_path / "again")
    assert load_config(again.run_dir / "config.yaml") == written
    assert again.metrics["test"] == first.metrics["test"]  # same bits on CPU
    timeless = [
        {k: v for k, v in r.metrics["final_epoch"].items() if k != "time"} for r in (first, again)
    ]
    assert timeless[0] == timeless[1]


def test_api_modules_import_no_private_names_of_each_other():
    folder = Path(deepfuse.api.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("deepfuse."):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"
