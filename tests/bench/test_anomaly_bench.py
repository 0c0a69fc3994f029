"""bench/anomaly.py and its datasets (bench/_data/anomaly_sets.py): deterministic files of the
stated shape and anomaly rate, IsolationForest scored on the right rows, the verdict rule, and
the "pending" deepfuse half while ``task: anomaly`` is not registered."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench._data import anomaly_sets  # noqa: E402

from bench import anomaly  # noqa: E402  (the repository root on sys.path)
from run_helpers import needs_dataset  # noqa: E402


def test_generated_tables_are_deterministic_with_the_stated_rates(tmp_path):
    a = anomaly_sets.fraud_like(tmp_path / "a", rows=6000, seed=3)[0]
    b = anomaly_sets.fraud_like(tmp_path / "b", rows=6000, seed=3)[0]
    assert a.train.read_bytes() == b.train.read_bytes()
    assert a.test.read_bytes() == b.test.read_bytes()
    both = pd.concat([pd.read_csv(a.train), pd.read_csv(a.test)])
    assert len(both) == 6000 and both["is_fraud"].sum() == 12  # exactly 0.2%
    assert a.task == {"name": "anomaly"} and a.normal == [0]  # normal: the majority class
    frauds = both[both["is_fraud"] == 1]
    assert frauds["amount"].median() > both["amount"].median()  # shifted, as documented
    c = anomaly_sets.covertype_like(tmp_path / "c", rows=4000, seed=0)[0]
    frame = pd.read_csv(c.train)
    features = [col for col in frame.columns if col != "Cover_Type"]
    assert len(features) == 54
    wild = frame[[f"Wilderness_Area{k}" for k in range(1, 5)]].to_numpy()
    soil = frame[[f"Soil_Type{k}" for k in range(1, 41)]].to_numpy()
    assert (wild.sum(1) == 1).all() and (soil.sum(1) == 1).all()  # one-hots
    rare = frame["Cover_Type"].value_counts().idxmin()
    assert rare == "type_4" and "type_4" not in c.normal
    assert 0.002 < c.anomaly_rate("train") < 0.008  # covertype's 0.47%


@needs_dataset("adult")
def test_adult_anomalies_are_5_percent_of_each_file(tmp_path):
    pytest.importorskip("pyarrow")
    s = anomaly_sets.adult(tmp_path, quick=True)[0]
    for split in ("train", "test"):
        assert abs(s.anomaly_rate(split) - 0.05) < 0.001
        assert set(s.labels(split)) == {"<=50K", ">50K"}
    assert s.task == {"name": "anomaly", "normal": ["<=50K"]}


def test_digits_one_class_rows(tmp_path):
    sets = anomaly_sets.digits(tmp_path, quick=True)
    assert [s.name for s in sets] == ["digits/0", "digits/1"]
    s = sets[1]
    train = pd.read_csv(s.train)
    assert s.normal == ["digit_1"] and (train["digit"] == "digit_1").sum() > 100
    assert 0.85 < s.anomaly_rate("test") < 0.95  # every other digit


def test_isolation_forest_fits_the_normal_training_rows_and_scores_every_test_row(tmp_path):
    s = anomaly_sets.fraud_like(tmp_path, rows=20000, seed=0)[0]
    train, test = anomaly.table_features(s)
    n_normal = int((~s.is_anomaly("train")).sum())
    assert train.shape[0] == n_normal and test.shape[0] == len(s.labels("test"))
    assert train.shape[1] == 10 + 10  # numerics + one-hot of 10 merchants
    np.testing.assert_allclose(train[:, :10].mean(0), 0, atol=1e-9)  # standardised
    result = anomaly.isolation_forest(s)
    assert result["train_rows"] == n_normal
    assert result["roc_auc"] > 0.8  # the frauds are shifted: a working detector finds them


def test_verdict_rule():
    forest = {"roc_auc": 0.90, "pr_auc": 0.5}
    assert anomaly.verdict({"iforest": forest, "deepfuse": {"roc_auc": 0.915}}) == "matches"
    assert anomaly.verdict({"iforest": forest, "deepfuse": {"roc_auc": 0.95}}) == "above (+0.050)"
    assert anomaly.verdict({"iforest": forest, "deepfuse": {"roc_auc": 0.85}}) == "below (-0.050)"
    assert anomaly.verdict({"iforest": forest, "deepfuse": {"pending": "x"}}) == "pending merge"


def test_quick_run_writes_the_table_with_the_deepfuse_half_pending(tmp_path, monkeypatch):
    monkeypatch.setattr(anomaly, "LOGS", tmp_path / "logs")
    monkeypatch.setattr(anomaly, "anomaly_registered", lambda: False)
    code = anomaly.main(["--quick", "--only", "digits", "--runs", str(tmp_path / "runs")])
    assert code == 0
    text = (tmp_path / "logs" / "anomaly.quick.md").read_text()
    assert "| digits/0 |" in text and "| digits/1 |" in text and "pending merge" in text
    assert "CPU:" in text and "python bench/anomaly.py --quick --only digits" in text
    assert "**digits (mean of 2)**" in text


def test_deepfuse_cell_trains_reloads_and_scores_the_same_test_rows(tmp_path, monkeypatch):
    """The deepfuse half end to end on a real run: until ``task: anomaly`` is merged, a
    supervised run of the same files stands in (``train`` gets the config without its task)
    and the reloaded model's ``anomaly_score`` is its P(fraud); the test rows go through the
    run's own preprocessor, so the scores must equal the run's own predictions."""

    import deepfuse.api
    import deepfuse.models.serialization as serialization

    s = anomaly_sets.fraud_like(tmp_path / "data", rows=3000, seed=0)[0]
    s.epochs = 1
    real_train, real_load = deepfuse.api.train, serialization.load_model
    seen = {}

    def train(cfg, out_dir):
        seen["cfg"] = cfg
        cfg = {k: v for k, v in cfg.items() if k != "task"}  # the default table model
        return real_train(cfg, out_dir=out_dir)

    def load_model(run):
        model = real_load(run)

        def anomaly_score(batch):
            seen.setdefault("rows", 0)
            seen["rows"] += len(next(iter(batch.values())))
            inputs = model.split_batch(batch)[0]
            return model.apply_output_activation(model(inputs)).reshape(-1)

        model.anomaly_score = anomaly_score
        seen["model"] = model
        return model

    monkeypatch.setattr(anomaly, "anomaly_registered", lambda: True)
    monkeypatch.setattr(deepfuse.api, "train", train)
    monkeypatch.setattr(serialization, "load_model", load_model)
    row = anomaly.deepfuse_cell(s, tmp_path / "runs")
    assert "error" not in row, row
    assert seen["cfg"]["task"] == {"name": "anomaly"} and seen["cfg"]["data"] == s.data
    assert seen["rows"] == len(s.labels("test"))  # every test row, once
    model = seen["model"]
    probs = model.predict(pd.read_csv(s.test).drop(columns=[s.target]))  # another path
    want = anomaly.scores_of(s.is_anomaly("test"), np.asarray(probs).reshape(-1))
    assert row["roc_auc"] == pytest.approx(want["roc_auc"], abs=1e-6)
    assert row["pr_auc"] == pytest.approx(want["pr_auc"], abs=1e-6)
    assert Path(row["run"]).is_dir() and row["seconds"] > 0
