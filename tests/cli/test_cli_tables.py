"""`deepfuse train` on your own CSV files: a numeric+categorical table and a free-text table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from deepfuse.run import RUN_FILES

zoo = pytest.importorskip("deepfuse.models.zoo")
pytestmark = pytest.mark.skipif(not hasattr(zoo, "get"), reason="the model zoo has not landed")


def _train(run_cli, tmp_path, text):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    code, out, err = run_cli(
        "train", config, "trainer.epochs=1", "trainer.verbose=0", "--out", tmp_path / "runs"
    )
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("run: "))
    return Path(line.removeprefix("run: ")), out


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_tabular_csv_train_evaluate_predict_info(run_cli, tmp_path, tabular_csv, make_tabular):
    # Only data.train and data.target: types inferred, 20% held out as the test set.
    run, out = _train(run_cli, tmp_path, f"data:\n  train: {tabular_csv}\n  target: label\n")
    assert "test accuracy: " in out
    for name in RUN_FILES:
        assert (run / name).is_file()
    config = (run / "config.yaml").read_text()
    assert "type: tabular" in config  # the model deepfuse picked is recorded
    assert "city: categorical" in config and "age: numeric" in config
    meta = json.loads((run / "model.json").read_text())
    assert meta["preprocessing"]["schema"]["target"]["classes"] == ["poor", "rich"]

    metrics = json.loads((run / "metrics.json").read_text())
    code, out, err = run_cli("evaluate", run)
    assert code == 0, err
    assert f"test accuracy: {metrics['test']['accuracy']:.4f}" in out  # the same held-out rows

    other = make_tabular(tmp_path / "other.csv", rows=50, seed=1)
    code, out, err = run_cli("evaluate", run, "--data", other)
    assert code == 0 and "eval accuracy: " in out, err

    # Raw rows without the label → labels and probabilities, one row per input row.
    raw = tmp_path / "new.csv"
    raw.write_text("age,income_k,city,owns_car\n30,120.5,paris,yes\n61,12,lyon,no\n45,,berlin,no\n")
    code, out, err = run_cli("predict", run, raw, "--out", tmp_path / "pred.csv")
    assert code == 0, err
    rows = _read_csv(tmp_path / "pred.csv")
    assert len(rows) == 3
    assert {r["prediction"] for r in rows} <= {"poor", "rich"}
    for r in rows:
        p = float(r["probability_poor"]) + float(r["probability_rich"])
        assert p == pytest.approx(1.0, abs=1e-5)

    code, out, err = run_cli("predict", run, raw, "--out", tmp_path / "pred.parquet")
    assert code == 0, err
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "pred.parquet").num_rows == 3

    code, out, _ = run_cli("info", run)
    assert code == 0 and "num_parameters" in out and "task: binary" in out


def test_predict_missing_column_is_user_error(run_cli, tmp_path, tabular_csv):
    run, _ = _train(run_cli, tmp_path, f"data:\n  train: {tabular_csv}\n  target: label\n")
    raw = tmp_path / "new.csv"
    raw.write_text("age,income,city,owns_car\n30,120.5,paris,yes\n")
    code, _, err = run_cli("predict", run, raw)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "income_k" in err


def test_text_csv_with_test_file(run_cli, tmp_path, text_csv, make_text):
    test = make_text(tmp_path / "reviews_test.csv", rows=40, seed=3)
    run, out = _train(
        run_cli,
        tmp_path,
        f"data:\n  train: {text_csv}\n  test: {test}\n  target: sentiment\n"
        "  features: {review: text}\n",
    )
    assert "test accuracy: " in out
    assert "type: bag" in (run / "config.yaml").read_text()  # the no-config text model
    raw = tmp_path / "new.csv"
    raw.write_text("review\nwhat a wonderful fun movie\nboring and awful\n")
    code, _, err = run_cli("predict", run, raw, "--out", tmp_path / "p.csv")
    assert code == 0, err
    assert [r["prediction"] in ("neg", "pos") for r in _read_csv(tmp_path / "p.csv")] == [True] * 2


def test_image_path_csv_picks_a_cnn(run_cli, tmp_path):
    """A CSV of image paths and labels, nothing else said: typed as images, a CNN is chosen."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    lines = ["path,label"]
    for i in range(48):
        label = "bright" if i % 2 else "dark"
        base = 200 if label == "bright" else 40
        pixels = np.clip(base + rng.normal(0, 20, (12, 12)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(tmp_path / f"img{i}.png")
        lines.append(f"img{i}.png,{label}")
    (tmp_path / "images.csv").write_text("\n".join(lines) + "\n")
    run, out = _train(
        run_cli, tmp_path, f"data:\n  train: {tmp_path / 'images.csv'}\n  target: label\n"
    )
    resolved = (run / "config.yaml").read_text()
    assert "type: cnn" in resolved and "path: image" in resolved
    assert "test accuracy: " in out
