"""``task: anomaly`` end to end: tables in memory and streamed, images, the examples, predict
and evaluate, the threshold on normal validation rows, metrics against scikit-learn."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from deepfuse._utils.errors import ConfigError
from deepfuse.api import evaluate_run, predict, resolve_config, train
from deepfuse.api.tasks import task_for
from deepfuse.config import load_config
from deepfuse.data.routes import route_for
from deepfuse.data.routes import test_feed_of as run_test_feed
from deepfuse.evaluation.anomaly import score_rows
from deepfuse.models.serialization import load_model, read_meta
from run_helpers import needs_dataset

ROOT = Path(__file__).resolve().parents[2]
make_fraud = runpy.run_path(str(ROOT / "examples" / "make_fraud.py"))["make_fraud"]
TINY = {"hidden": [16], "latent_dim": 4}


@pytest.fixture(scope="module")
def fraud_csv(tmp_path_factory) -> Path:
    """3,000 payments, 4% fraud (enough anomalies in a small test split)."""
    path = tmp_path_factory.mktemp("fraud") / "fraud.csv"
    pacsv.write_csv(make_fraud(3000, fraud_rate=0.04, seed=0), path)
    return path


def config(csv: Path, **task) -> dict:
    return {
        "name": "fraud",
        "task": {"name": "anomaly", **task},
        "data": {"train": str(csv), "target": "is_fraud", "validation_split": 0.2},
        "model": {"type": "autoencoder", **TINY},
        "trainer": {"epochs": 3, "batch_size": 64, "seed": 0, "verbose": 0},
    }


@pytest.fixture(scope="module")
def fraud_run(fraud_csv, tmp_path_factory):
    return train(config(fraud_csv, normal=[0], target_fpr=0.05), tmp_path_factory.mktemp("runs"))


def test_table_run_trains_on_normal_rows_and_records_the_threshold(fraud_run):
    m, run = fraud_run.metrics, fraud_run.run_dir
    assert m["task"] == "anomaly" and m["classes"] == ["normal", "anomaly"]
    facts = m["anomaly"]
    assert facts["normal"] == [0] and facts["normal_index"] == [0]
    # training rows: the normal rows of the training split only
    assert m["rows"]["train"] == facts["rows"]["train_per_class"][0]
    meta = read_meta(run)
    assert meta["anomaly_threshold"] == pytest.approx(facts["threshold"])
    assert "is_fraud" not in meta["input_spec"]  # the label is never a model input
    assert set(m["test"]) == {"roc_auc", "pr_auc", "precision", "recall", "f1", "fpr", "threshold"}
    assert fraud_run.config["trainer"]["loss"] is None
    assert not [k for k, v in fraud_run.config["trainer"].items() if v == "auto"]


def test_threshold_flags_the_target_share_of_normal_validation_rows(fraud_run, fraud_csv):
    cfg = fraud_run.config
    model = load_model(fraud_run.run_dir)
    data = cfg["data"]
    prep = task_for(cfg).adapt(route_for(data).prepare(data, seed=0, batch_size=64))
    assert bool((prep.val["is_fraud"] == 0).all()) and bool((prep.train["is_fraud"] == 0).all())
    scores, _ = score_rows(model, prep.val)
    assert (scores >= model.anomaly_threshold).mean() <= 0.05
    assert (scores >= np.sort(scores)[-int(0.05 * len(scores)) - 1]).mean() > 0.05


def test_test_metrics_match_sklearn_on_rescored_test_rows(fraud_run):
    cfg, run = fraud_run.config, fraud_run.run_dir
    model = load_model(run)
    feed = run_test_feed(cfg, preprocessor=model.preprocessor)
    scores, targets = score_rows(model, feed)
    labels = (targets != 0).astype(int)  # class index 0 is the label 0 (normal)
    test = fraud_run.metrics["test"]
    assert test["roc_auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-9)
    assert test["pr_auc"] == pytest.approx(average_precision_score(labels, scores), abs=1e-9)
    ev = json.loads((run / "evaluation.json").read_text())
    assert ev["metrics"]["rows"] == len(labels) and ev["metrics"]["anomalies"] == labels.sum()
    # deepfuse evaluate recomputes the same numbers on the same rows
    again = evaluate_run(run)
    assert again.scores == pytest.approx(test)
    assert again.path.name == "evaluation.json"


def test_predict_writes_a_score_and_a_flag_per_row_in_order(fraud_run, fraud_csv, tmp_path):
    out = predict(fraud_run.run_dir, fraud_csv, tmp_path / "pred.csv")
    table = pacsv.read_csv(out)
    assert table.column_names == ["score", "anomaly"]
    assert table.num_rows == pacsv.read_csv(fraud_csv).num_rows
    scores = np.asarray(table.column("score"))
    threshold = load_model(fraud_run.run_dir).anomaly_threshold
    assert (np.asarray(table.column("anomaly")) == (scores >= threshold)).all()
    # in order: frauds score higher on average than normal payments
    y = np.asarray(pacsv.read_csv(fraud_csv).column("is_fraud"))
    assert roc_auc_score(y, scores) > 0.8


def test_evaluate_a_labelled_file(fraud_run, fraud_csv):
    ev = evaluate_run(fraud_run.run_dir, data=fraud_csv)
    assert ev.path.name == "evaluation-fraud.json" and ev.path.is_file()
    out = predict(fraud_run.run_dir, fraud_csv, fraud_run.run_dir / "p.csv")
    scores = np.asarray(pacsv.read_csv(out).column("score"))
    y = np.asarray(pacsv.read_csv(fraud_csv).column("is_fraud"))
    assert ev.scores["roc_auc"] == pytest.approx(roc_auc_score(y, scores), abs=1e-6)
    assert ev.result.n == len(y) and ev.result.metrics["anomalies"] == int(y.sum())


def test_report_has_the_anomaly_section(fraud_run):
    html = (fraud_run.run_dir / "report.html").read_text()
    assert "Anomaly detection" in html and "could not be drawn" not in html
    assert "dashed: the threshold" in html


def test_majority_class_and_vae_and_contamination(fraud_csv, tmp_path):
    cfg = config(fraud_csv, contamination=0.04)  # normal omitted: the majority class (0)
    cfg["model"] = {"type": "vae", **TINY}
    cfg["trainer"]["epochs"] = 1
    r = train(cfg, tmp_path)
    facts = r.metrics["anomaly"]
    assert facts["normal"] == [0] and facts["contamination_used"] == 0.04
    assert r.metrics["rows"]["train"] == sum(facts["rows"]["train_per_class"])  # every row
    assert {"kl", "reconstruction", "val_kl"} <= set(r.history)
    assert "contamination" in facts["threshold_rule"]


def test_contamination_auto_is_the_validation_anomaly_share(fraud_csv, tmp_path):
    cfg = config(fraud_csv, contamination="auto")
    cfg["trainer"]["epochs"] = 1
    r = train(cfg, tmp_path)
    share = r.metrics["anomaly"]["contamination_used"]
    assert 0.02 < share < 0.07  # 4% of the rows are frauds


def test_streamed_table_keeps_normal_rows_on_the_fly(fraud_csv, tmp_path):
    path = tmp_path / "fraud.parquet"
    pq.write_table(pacsv.read_csv(fraud_csv), path, row_group_size=500)
    cfg = config(path, normal=[0])
    cfg["data"].update(streaming=True, shuffle_buffer=256, validation_split=0.1, test_split=0.2)
    cfg["trainer"]["epochs"] = 2
    resolved = resolve_config(cfg)
    data = resolved["data"]
    prep = task_for(resolved).adapt(route_for(data).prepare(data, seed=0, batch_size=64))
    assert prep.streaming
    seen = sum(len(b["is_fraud"]) for b in prep.train)
    assert seen == prep.rows["train"] and all(int(b["is_fraud"].max()) == 0 for b in prep.train)
    assert sum(int(b["is_fraud"].sum()) for b in prep.test) > 0  # test rows keep the anomalies
    assert hasattr(prep.train, "state_dict")  # the training stream stays resumable
    r = train(cfg, tmp_path / "runs")
    assert r.metrics["rows"]["train"] == seen and r.config["data"]["streaming"] is True
    assert 0 <= r.metrics["test"]["roc_auc"] <= 1
    again = evaluate_run(r.run_dir)
    assert again.scores["roc_auc"] == pytest.approx(r.metrics["test"]["roc_auc"])


@needs_dataset("fashion-mnist")
def test_fashion_example_trains(tmp_path):
    cfg = load_config(ROOT / "examples" / "fashion_anomaly.yaml")
    assert cfg["task"]["normal"] == [0]
    cfg["data"]["limit"] = 600
    cfg["model"].update(hidden=[4, 8])
    cfg["trainer"].update(epochs=1, verbose=0)
    r = train(cfg, tmp_path)
    assert r.metrics["anomaly"]["normal"] == ["T-shirt/top"]
    assert r.metrics["rows"]["test"] == 10_000 and r.metrics["test"]["roc_auc"] > 0.5
    ev = json.loads((r.run_dir / "evaluation.json").read_text())
    assert ev["metrics"]["anomalies"] == 9000


def test_fraud_example_trains(tmp_path):
    runpy.run_path(str(ROOT / "examples" / "make_fraud.py"))["main"](
        ["--out", str(tmp_path), "--rows", "3000"]
    )
    cfg = load_config(ROOT / "examples" / "anomaly_fraud.yaml")
    assert cfg["task"] == {"name": "anomaly", "normal": [0], "target_fpr": 0.01}
    cfg["data"]["train"] = str(tmp_path / "fraud.csv.gz")
    cfg["trainer"].update(epochs=1, verbose=0)
    r = train(cfg, tmp_path / "runs")
    assert r.metrics["task"] == "anomaly" and r.config["model"]["type"] == "autoencoder"


def test_mistakes_are_config_errors(fraud_csv, tmp_path):
    with pytest.raises(ConfigError, match="not a class of the data"):
        train(config(fraud_csv, normal=["legit"]), tmp_path)
    with pytest.raises(ConfigError, match="every class"):
        train(config(fraud_csv, normal=[0, 1]), tmp_path)
    with pytest.raises(ConfigError, match="target_fpr"):
        train(config(fraud_csv, target_fpr=1.5), tmp_path)
    cfg = config(fraud_csv)
    cfg["data"]["target"] = "amount"  # a number: regression, no normal class
    with pytest.raises(ConfigError, match="class labels"):
        train(cfg, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing written
