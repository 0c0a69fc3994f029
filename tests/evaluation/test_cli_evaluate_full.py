"""`deepfuse train` writes evaluation.json; `deepfuse evaluate` prints and writes the full set."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from deepfuse.cli.main import main
from synthetic_tables import city_income_csv

sk = pytest.importorskip("sklearn.metrics")


def _table(path: Path, rows: int, seed: int) -> Path:
    return city_income_csv(path, rows, seed)


def test_train_then_evaluate_writes_the_full_metric_set(tmp_path, capsys):
    config = tmp_path / "t.yaml"
    config.write_text(f"data:\n  train: {_table(tmp_path / 'a.csv', 150, 0)}\n  target: label\n")
    args = ["train", str(config), "trainer.epochs=1", "trainer.verbose=0", "--out"]
    assert main([*args, str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    run = Path(out.strip().splitlines()[-1].removeprefix("run: "))
    saved = json.loads((run / "evaluation.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    # Same test rows as the compiled metric; the counts add up to the test split.
    assert saved["metrics"]["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-6)
    assert np.sum(saved["confusion_matrix"]["counts"]) == metrics["rows"]["test"]

    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("test loss: ")
    assert f"test accuracy: {metrics['test']['accuracy']:.4f}" in out
    assert "per class" in out and "confusion matrix" in out and "ECE" in out
    assert json.loads((run / "evaluation.json").read_text()) == saved  # same rows, same numbers

    # Another labelled file: evaluation-<stem>.json, equal to sklearn on `predict`'s output.
    other = _table(tmp_path / "other.csv", 60, 1)
    assert main(["evaluate", str(run), "--data", str(other)]) == 0
    assert "eval accuracy: " in capsys.readouterr().out
    result = json.loads((run / "evaluation-other.json").read_text())
    assert main(["predict", str(run), str(other), "--out", str(tmp_path / "p.csv")]) == 0
    with open(tmp_path / "p.csv", newline="") as fh:
        pred = list(csv.DictReader(fh))
    with open(other, newline="") as fh:
        truth = [r["label"] for r in csv.DictReader(fh)]
    y = np.array([t == "rich" for t in truth])
    p_rich = np.array([float(r["probability_rich"]) for r in pred])
    assert result["classes"] == ["poor", "rich"]
    assert result["metrics"]["f1_macro"] == pytest.approx(
        sk.f1_score(y, p_rich > 0.5, average="macro")
    )
    assert result["metrics"]["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p_rich), abs=1e-6)
