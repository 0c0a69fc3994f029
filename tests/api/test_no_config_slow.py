"""The issue's two promises on real data, with nothing but ``data:`` in the config (slow).

- IMDB as CSV files with a free-text column: test accuracy >= 88% in under 3 minutes of training
  (model search included) on 2 cores.
- A table with 20 classes and class ratios down to 1:1000: macro-F1 at least a
  RandomForest(100)'s on the same split (the run's own baseline).
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

from deepfuse.api import train

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not os.environ.get("DEEPFUSE_DATA_DIR"),
    reason="needs DEEPFUSE_DATA_DIR with imdb/ (e.g. ../shared/datasets)",
)
def test_imdb_csv_no_config_reaches_88_percent_in_3_minutes(tmp_path):
    runpy.run_path(str(ROOT / "examples" / "make_csvs.py"))["main"](["--out", str(tmp_path)])
    cfg = {"data": {"train": str(tmp_path / "imdb_train.csv.gz"),
                    "test": str(tmp_path / "imdb_test.csv.gz"), "target": "sentiment"}}  # fmt: skip
    result = train(cfg, out_dir=tmp_path / "runs")
    searched = result.metrics.get("search", {}).get("seconds", 0.0)
    assert result.metrics["test"]["accuracy"] >= 0.88
    assert result.metrics["train_time_s"] + searched < 180
    assert result.config["model"]["type"] == "bag"


def test_imbalanced_20_classes_no_config_matches_a_random_forest(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT))
    from bench._data.no_config_sets import SETS

    csvs = SETS["imbalanced_1to1000"](tmp_path / "data", False)
    result = train({"data": csvs.data_section()}, out_dir=tmp_path / "runs")
    forest = next(
        m for m in result.metrics["baselines"]["models"] if m["name"].startswith("RandomForest")
    )
    assert result.metrics["imbalance"]["ratio"] >= 500
    assert result.metrics["test"]["macro_f1"] >= forest["macro_f1"]
