"""`deepfuse train` streams big (or `streaming: true`) tables; evaluate/predict follow the route."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml


def _write_parquet(folder: Path, files: int = 3, rows: int = 2_000, seed: int = 0) -> None:
    """Numeric + categorical features, a string label that depends on both (learnable)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        a = rng.normal(size=rows)
        b = rng.normal(size=rows)
        city = rng.choice(["paris", "lyon", "nice"], size=rows)
        label = np.where(a + 0.5 * b + (city == "paris") > 0.3, "yes", "no")
        table = pa.table({"a": a, "b": b, "city": city, "label": label})
        pq.write_table(table, folder / f"part-{f}.parquet", row_group_size=500)


def _config(tmp_path: Path, **data) -> Path:
    cfg = {
        "name": "stream",
        "data": {"train": str(tmp_path / "shards" / "*.parquet"), "target": "label", **data},
        "model": {"type": "tabular", "hidden": [32]},
        "trainer": {"epochs": 2, "batch_size": 128, "seed": 0, "verbose": 0},
    }
    path = tmp_path / "stream.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run_dir(out: str) -> Path:
    return Path(next(x for x in out.splitlines() if x.startswith("run: ")).removeprefix("run: "))


@pytest.mark.parametrize("how", [{"streaming": True}, {"stream_threshold_mb": 0.01}])
def test_train_streams_then_evaluate_takes_the_same_route(run_cli, tmp_path, how):
    _write_parquet(tmp_path / "shards")
    code, out, err = run_cli("train", _config(tmp_path, **how), "--out", tmp_path / "runs")
    assert code == 0, err
    run = _run_dir(out)
    metrics = json.loads((run / "metrics.json").read_text())
    # positional split: 10% validation, 20% test of the 6,000 rows
    assert metrics["rows"] == {"train": 4200, "validation": 600, "test": 1200}
    assert metrics["test"]["accuracy"] > 0.8  # learnable rule: the stream really trained it
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["data"]["streaming"] is True  # the route taken is recorded for later commands
    model_json = json.loads((run / "model.json").read_text())
    # stats fitted by the streaming pass, saved as JSON with the model
    saved = json.dumps(model_json["preprocessing"])
    assert all(city in saved for city in ("paris", "lyon", "nice"))

    code, out, err = run_cli("evaluate", run)
    assert code == 0, err
    assert f"test accuracy: {metrics['test']['accuracy']:.4f}" in out  # same test rows


def test_small_tables_keep_the_in_memory_route(run_cli, tmp_path):
    _write_parquet(tmp_path / "shards", files=1, rows=400)
    code, out, err = run_cli("train", _config(tmp_path), "--out", tmp_path / "runs")
    assert code == 0, err
    run = _run_dir(out)
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["streaming"] is False


def test_streaming_a_missing_target_is_a_one_line_error(run_cli, tmp_path):
    _write_parquet(tmp_path / "shards", files=1, rows=100)
    path = _config(tmp_path, streaming=True)
    cfg = yaml.safe_load(path.read_text())
    cfg["data"]["target"] = "labl"
    path.write_text(yaml.safe_dump(cfg))
    code, _, err = run_cli("train", path, "--out", tmp_path / "runs")
    assert code == 2
    assert "labl" in err and "label" in err and len(err.strip().splitlines()) == 1
