"""k-fold splits and `deepfuse cv`: every row held out once, per-fold preprocessing, mean ± std."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from deepfuse.cli.main import main
from deepfuse.evaluation import kfold_indices
from synthetic_tables import city_income_csv


def test_stratified_folds_partition_rows_and_keep_class_balance():
    y = np.array([0] * 50 + [1] * 23 + [2] * 7)
    folds = kfold_indices(y, 5, seed=3)
    assert np.array_equal(np.sort(np.concatenate(folds)), np.arange(len(y)))  # each row once
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    for c in range(3):
        per_fold = [int((y[f] == c).sum()) for f in folds]
        assert max(per_fold) - min(per_fold) <= 1, per_fold  # 7 rows of class 2 -> 1 or 2 each
    again = kfold_indices(y, 5, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(folds, again))  # deterministic
    other = kfold_indices(y, 5, seed=4)
    assert not all(np.array_equal(a, b) for a, b in zip(folds, other))


def test_regression_targets_get_plain_shuffled_folds():
    y = np.random.default_rng(0).normal(size=103)
    folds = kfold_indices(y, 4, seed=0)
    assert sorted(map(len, folds)) == [25, 26, 26, 26]
    assert np.array_equal(np.sort(np.concatenate(folds)), np.arange(103))


def test_too_many_folds_is_a_user_error():
    from deepfuse._utils.errors import UserError

    with pytest.raises(UserError, match="folds"):
        kfold_indices([0, 1, 0], 4)
    with pytest.raises(UserError, match=">= 2"):
        kfold_indices([0, 1, 0], 1)


def _table(path: Path, rows: int = 90) -> Path:
    return city_income_csv(path, rows)


def test_fold_preprocessor_is_fitted_on_the_fold_training_rows_only(tmp_path):
    from deepfuse.api.training import resolve_config
    from deepfuse.data.routes import route_for

    data = resolve_config({"data": {"train": str(_table(tmp_path / "t.csv")), "target": "label"}})
    rows = route_for(data["data"]).fold_rows({**data["data"], "validation_split": 0})
    test_idx = np.arange(60, 90)
    prep = rows.prepared(np.arange(60), test_idx, seed=0)
    # Standardised with the 60 training rows' statistics: their mean is 0, the held-out one's not.
    train_mean = prep.train["numeric"].double().mean(0).abs()
    test_mean = prep.test["numeric"].double().mean(0).abs()
    assert (train_mean < 1e-5).all() and (test_mean > 1e-3).any()
    assert len(prep.test["label"]) == 30 and prep.val is None


def test_cli_cv_three_folds_writes_per_fold_rows_and_mean_std(tmp_path, capsys):
    table = _table(tmp_path / "t.csv")
    config = tmp_path / "small.yaml"
    config.write_text(f"data:\n  train: {table}\n  target: label\n")
    code = main(
        ["cv", str(config), "trainer.epochs=1", "trainer.verbose=0", "trainer.seed=0",
         "--folds", "3", "--out", str(tmp_path / "out")]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    cv_dir = Path(out.strip().splitlines()[-1].removeprefix("cv: "))
    assert cv_dir.name.startswith("cv-small-") and (cv_dir / "config.yaml").is_file()
    report = json.loads((cv_dir / "cv.json").read_text())
    held = report["fold_indices"]
    assert len(held) == 3 and sorted(i for f in held for i in f) == list(range(90))
    assert report["stratified"] and report["task"] == "binary"
    per_fold = report["per_fold"]
    assert [r["test_rows"] for r in per_fold] == [len(f) for f in held]
    assert [r["train_rows"] for r in per_fold] == [90 - len(f) for f in held]
    for metric in ("accuracy", "f1_macro", "roc_auc"):
        values = np.array([r[metric] for r in per_fold])
        assert report["summary"][metric]["mean"] == pytest.approx(values.mean())
        assert report["summary"][metric]["std"] == pytest.approx(values.std())
        s = report["summary"][metric]
        assert f"{metric}: {s['mean']:.4f} ± {s['std']:.4f}" in out
    # A fold's accuracy is that of its own held-out rows: the confusion matrix counts them.
    for row, ev in zip(per_fold, report["evaluations"]):
        counts = np.array(ev["confusion_matrix"]["counts"])
        assert counts.sum() == row["test_rows"]
        assert row["accuracy"] == pytest.approx(np.trace(counts) / counts.sum())
    with open(cv_dir / "cv.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["accuracy"]) for r in rows] == pytest.approx([r["accuracy"] for r in per_fold])


def test_cli_cv_bad_folds_exits_2(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  train: {_table(tmp_path / 't.csv', rows=20)}\n  target: label\n")
    assert main(["cv", str(config), "--folds", "1"]) == 2
    assert "--folds" in capsys.readouterr().err


@pytest.mark.slow
def test_cv_adult_five_folds(tmp_path, capsys):
    data_dir = Path(os.environ.get("DEEPFUSE_DATA_DIR", "/work/shared/datasets"))
    if not (data_dir / "adult").is_dir():
        pytest.skip(f"the Adult dataset is not in {data_dir} (set DEEPFUSE_DATA_DIR)")
    config = tmp_path / "adult.yaml"
    config.write_text(
        f"data:\n  dataset: {{name: adult, data_dir: {data_dir}}}\n"
        "model: {type: tabular, hidden: [64, 32]}\n"
        "trainer: {epochs: 2, batch_size: 256, verbose: 0, seed: 0}\n"
    )
    code = main(["cv", str(config), "--folds", "5", "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(Path(out.strip().splitlines()[-1][4:], "cv.json").read_text())
    assert sorted(i for f in report["fold_indices"] for i in f) == list(range(report["rows"]))
    assert report["summary"]["accuracy"]["mean"] > 0.8, report["summary"]
    assert "accuracy: " in out and "f1_macro: " in out
