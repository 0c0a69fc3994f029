"""scikit-learn baselines on a run's split: right models, sklearn's numbers, honest skips."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

sk = pytest.importorskip("sklearn.metrics")

from deepfuse._utils.errors import ConfigError  # noqa: E402
from deepfuse.data.routes import Prepared, route_for  # noqa: E402
from deepfuse.evaluation.baselines import _scores, run_baselines  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _table_prep(rows: int = 200, seed: int = 0, task: str = "multiclass") -> Prepared:
    """Numbers, a category with gaps, 3 classes (or a number to regress)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    city = rng.choice(["paris", "lyon", None], size=rows).tolist()
    if task == "regression":
        y: list = (3 * x1 - x2 + rng.normal(0, 0.1, rows)).tolist()
    else:
        y = np.where(x1 + 0.3 * x2 > 0.5, "hi", np.where(x1 < -0.5, "lo", "mid")).tolist()
    t = pa.table({"x1": x1, "x2": x2, "city": city, "y": y})
    cut = int(rows * 0.6), int(rows * 0.8)
    features = {"x1": "numeric", "x2": "numeric", "city": "categorical"}
    raw = {"train": t.slice(0, cut[0]), "val": t.slice(cut[0], cut[1] - cut[0]),
           "test": t.slice(cut[1])}  # fmt: skip
    classes = None if task == "regression" else ["hi", "lo", "mid"]
    return Prepared("table", None, None, None, "y", task, classes, features=features, raw=raw)


def _text_prep(rows: int = 240, seed: int = 0) -> Prepared:
    rng = random.Random(seed)
    words = {"pos": ["great", "fun", "superb", "loved"], "neg": ["awful", "dull", "boring", "bad"]}
    common = ["the", "movie", "was", "a", "plot", "and", "story"]
    texts, labels, hours = [], [], []
    for _ in range(rows):
        label = rng.choice(["pos", "neg"])
        doc = [rng.choice(common) for _ in range(6)] + [rng.choice(words[label]) for _ in range(2)]
        rng.shuffle(doc)
        texts.append(" ".join(doc) if rng.random() > 0.05 else None)  # a few missing texts
        labels.append(label)
        hours.append(rng.uniform(1, 3))
    t = pa.table({"review": texts, "hours": hours, "sentiment": labels})
    features = {"review": "text", "hours": "numeric"}
    raw = {"train": t.slice(0, rows * 3 // 4), "val": None, "test": t.slice(rows * 3 // 4)}
    return Prepared("table", None, None, None, "sentiment", "binary", ["neg", "pos"],
                    features=features, raw=raw)  # fmt: skip


def test_scores_equal_sklearn_with_a_class_never_predicted():
    y = np.array(["a", "a", "b", "b", "c", "c", "c"])
    pred = np.array(["a", "b", "b", "b", "b", "a", "b"])  # "c" never predicted
    got = _scores(y, pred, ["a", "b", "c"])
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(y, pred))
    assert got["macro_f1"] == pytest.approx(sk.f1_score(y, pred, average="macro", zero_division=0))
    assert got["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, pred))
    # a class of the run absent from the test rows still counts (as in deepfuse's macro-F1)
    assert _scores(y, pred, ["a", "b", "c", "d"])["macro_f1"] == pytest.approx(
        sk.f1_score(y, pred, labels=["a", "b", "c", "d"], average="macro", zero_division=0)
    )
    reg = _scores(np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0]), None)
    assert reg == pytest.approx(
        {
            "r2": sk.r2_score([1, 2, 4], [1.5, 2, 3]),
            "mae": sk.mean_absolute_error([1, 2, 4], [1.5, 2, 3]),
        }
    )


def test_table_models_and_logistic_regression_equal_a_plain_sklearn_fit():
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = _table_prep()
    out = run_baselines(prep, seed=0)
    names = [m["name"] for m in out["models"]]
    assert names == ["LogisticRegression", "RandomForest(100)", "HistGradientBoosting"]
    assert out["skipped"] == [] and out["metric"] == "macro_f1"
    assert out["rows"] == {"train": 160, "test": 40}  # train + validation rows; the test rows
    assert out["best"] == max(out["models"], key=lambda m: m["macro_f1"])["name"]
    for m in out["models"]:
        assert set(m) == {"name", "accuracy", "macro_f1", "balanced_accuracy", "fit_seconds",
                          "rows"}  # fmt: skip
        assert m["rows"] == 160 and m["fit_seconds"] >= 0
    # the reference: the same model written by hand on the same rows
    train = pa.concat_tables([prep.raw["train"], prep.raw["val"]]).to_pandas()
    test = prep.raw["test"].to_pandas()
    for frame in (train, test):
        frame["city"] = frame["city"].astype(str)
    ref = make_pipeline(
        ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
             ["x1", "x2"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
        ]),
        LogisticRegression(max_iter=1000, random_state=0),
    ).fit(train[["x1", "x2", "city"]], train["y"])  # fmt: skip
    pred = ref.predict(test[["x1", "x2", "city"]])
    logreg = out["models"][0]
    assert logreg["accuracy"] == pytest.approx(sk.accuracy_score(test["y"], pred))
    assert logreg["macro_f1"] == pytest.approx(
        sk.f1_score(test["y"], pred, labels=["hi", "lo", "mid"], average="macro")
    )
    assert logreg["accuracy"] > 0.8  # a learnable task: the baseline is not a coin


def test_text_path_uses_tfidf_models():
    out = run_baselines(_text_prep(), seed=0)
    assert [m["name"] for m in out["models"]] == [
        "TF-IDF + LinearSVC",
        "TF-IDF + LogisticRegression",
    ]
    assert all(m["accuracy"] > 0.9 for m in out["models"])


def test_regression_uses_ridge_and_a_forest():
    out = run_baselines(_table_prep(task="regression"), seed=0)
    assert [m["name"] for m in out["models"]] == ["Ridge", "RandomForestRegressor(100)"]
    assert out["metric"] == "r2" and set(out["models"][0]) >= {"r2", "mae"}
    assert out["models"][0]["r2"] > 0.95  # a linear target
    assert out["best"] == "Ridge"


def test_images_fit_pixels_of_a_subsample_and_say_so():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (300,), generator=g)
    x = torch.rand(300, 1, 4, 4, generator=g) * 0.2 + y.view(-1, 1, 1, 1) * 0.5
    split = {"x": x[:200], "y": y[:200]}, {"x": x[200:], "y": y[200:]}
    prep = Prepared("image", split[0], None, split[1], "y", "multiclass", [0, 1])
    out = run_baselines(prep, seed=0, max_image_rows=50)
    (m,) = out["models"]
    assert m["name"] == "LogisticRegression (pixels)" and m["rows"] == 50
    assert m["note"] == "subsampled: 50 of 200 training rows"
    assert m["accuracy"] == 1.0
    assert out["rows"] == {"train": 200, "test": 100}  # the split's rows, before subsampling


def test_budget_and_size_limits_skip_with_a_reason():
    prep = _table_prep()
    out = run_baselines(prep, seed=0, budget_s=0.0)
    assert out["models"] == [] and out["best"] is None
    assert len(out["skipped"]) == 3
    assert out["skipped"][0].startswith("LogisticRegression skipped: time budget of 0 s spent")
    out = run_baselines(prep, seed=0, max_rows=100)
    assert out["models"] == []
    assert out["skipped"] == ["all baselines skipped: 160 training rows > 100 limit"]
    out = run_baselines(prep, seed=0, max_cells=300)  # 160 rows x 3 columns = 480 cells
    assert out["skipped"] == ["all baselines skipped: 160 rows x 3 columns > 300 cells limit"]
    # the models fitted on a dense matrix alone: 160 rows x 5 encoded features = 800 cells
    out = run_baselines(prep, seed=0, max_cells=700)
    assert [m["name"] for m in out["models"]] == ["LogisticRegression"]
    assert out["skipped"] == [
        f"{name} skipped: needs a dense matrix of 800 cells > 700 limit"
        for name in ("RandomForest(100)", "HistGradientBoosting")
    ]


def test_streamed_or_disabled():
    prep = Prepared("table", iter(()), None, iter(()), "y", "binary", ["a", "b"],
                    rows={"train": 10, "validation": 0, "test": 5})  # fmt: skip
    out = run_baselines(prep, seed=0, enabled="auto")
    assert out["models"] == [] and "streamed" in out["skipped"][0]
    assert run_baselines(_table_prep(), seed=0, enabled=False) is None
    assert run_baselines(_table_prep(), seed=0, enabled=None) is None
    with pytest.raises(ConfigError, match=r"trainer\.baselines"):
        run_baselines(_table_prep(), seed=0, enabled="sometimes")


def test_prepared_raw_rows_are_the_runs_split(tmp_path):
    path = tmp_path / "t.csv"
    rng = random.Random(0)
    lines = ["a,b,label"] + [
        f"{i},{rng.choice(['x', 'y'])},{rng.choice(['p', 'q', 'r'])}" for i in range(100)
    ]
    path.write_text("\n".join(lines) + "\n")
    data = {"train": str(path), "target": "label", "validation_split": 0.2, "test_split": 0.2}
    prep = route_for(data).prepare(data, seed=3, batch_size=32)
    for raw_key, split in (("train", prep.train), ("val", prep.val), ("test", prep.test)):
        raw = prep.raw[raw_key]
        y = split[prep.target]
        assert raw.num_rows == len(y)
        # the same rows in the same order: each tensor row's class is the raw row's label
        assert [prep.classes[int(i)] for i in y] == raw.column("label").to_pylist()


def test_train_writes_baselines_to_metrics_and_report(tmp_path):
    from deepfuse.api import train

    rng = random.Random(0)
    lines = ["age,income,city,label"]
    for _ in range(150):
        income, city = rng.uniform(10, 150), rng.choice(["a", "b", "c"])
        lines.append(
            f"{rng.randint(18, 80)},{income:.1f},{city},{'rich' if income > 90 else 'poor'}"
        )
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    cfg = {
        "data": {"train": str(tmp_path / "t.csv"), "target": "label"},
        "trainer": {"epochs": 1, "verbose": 0, "baselines": True},
    }
    run = train(cfg, out_dir=tmp_path / "runs").run_dir
    metrics = json.loads((run / "metrics.json").read_text())
    base = metrics["baselines"]
    assert len(base["models"]) >= 2
    assert base["rows"]["test"] == metrics["rows"]["test"]  # the run's test rows
    assert base["rows"]["train"] == metrics["rows"]["train"] + metrics["rows"]["validation"]
    html = (run / "report.html").read_text()
    compare = html[html.index('id="compare"') : html.index('id="classes"')]
    for m in base["models"]:
        assert m["name"] in compare
    assert "vs best baseline" in compare


def test_bench_generators_are_deterministic_and_imbalanced(tmp_path):
    sys.path.insert(0, str(REPO))
    from bench._data.no_config_sets import imbalanced_table, topics_text

    a = topics_text(tmp_path / "a", rows=30, seed=1)
    b = topics_text(tmp_path / "b", rows=30, seed=1)
    assert a.train.read_bytes() == b.train.read_bytes()
    import pandas as pd

    frame = pd.read_csv(a.train)
    assert len(frame) == 30 and frame["text"].str.contains("\n").all()  # quoted multi-line
    counts = pd.read_csv(imbalanced_table(tmp_path / "c", rows=20000).train)["label"].value_counts()
    assert len(counts) == 20 and counts.max() >= 1000 * counts.min()
