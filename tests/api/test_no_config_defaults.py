"""No-config runs: trainer settings chosen from the data, imbalance handled and shown, the
decision threshold chosen on validation rows, why the run stopped, and the model search."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np
import pytest
import torch

from deepfuse.api import train
from deepfuse.config import load_config
from deepfuse.evaluation.threshold import best_threshold
from deepfuse.models.auto_defaults import (
    IMBALANCE_RATIO,
    auto_batch_size,
    auto_epochs,
    balanced_weights,
    is_no_config,
    resolve_auto,
)

AUTO_KEYS = ("optimizer", "epochs", "batch_size", "early_stopping", "schedule", "class_weight")


def _data(labels, task="multiclass", val=True):
    y = torch.tensor(labels)
    classes = sorted(set(labels))
    return NS(task=task, target="y", train={"y": y}, val={"y": y[:4]} if val else None,
              classes=classes, rows=None)  # fmt: skip


def _auto(**given):
    return {**dict.fromkeys(AUTO_KEYS, "auto"), "threshold": "auto", "metrics": ["accuracy"],
            "loss": "cross_entropy", **given}  # fmt: skip


# ----------------------------------------------------------------------------- resolve_auto


def test_balanced_classes_get_macro_f1_selection_and_no_weights():
    t = resolve_auto(_auto(), _data([0, 1, 2] * 100), "tabular")
    assert t["batch_size"] == auto_batch_size(300) == 32
    assert t["epochs"] == auto_epochs(300, 32) == 200
    assert t["early_stopping"] == {"monitor": "val_f1", "patience": 10,
                                   "restore_best_weights": True}  # fmt: skip
    assert t["schedule"]["name"] == "reduce_on_plateau" and t["schedule"]["monitor"] == "val_f1"
    assert t["loss"] == "cross_entropy" and t["class_weight"] is None
    assert t["metrics"] == ["accuracy", {"name": "f1", "average": "macro"}]
    assert t["threshold"] is None


def test_regression_is_selected_by_val_loss():
    data = NS(task="regression", target="y", train={"y": torch.randn(50)},
              val={"y": torch.randn(5)}, classes=None, rows=None)  # fmt: skip
    t = resolve_auto(_auto(loss="mse", metrics=["mae"]), data, "tabular")
    assert t["early_stopping"]["monitor"] == "val_loss" and t["metrics"] == ["mae"]
    assert t["loss"] == "mse" and t["threshold"] is None


def test_imbalanced_classes_weight_the_loss_and_select_by_macro_f1():
    labels = [0] * 500 + [1] * 40 + [2] * 10
    t = resolve_auto(_auto(), _data(labels), "tabular")
    weights = t["loss"]["class_weights"]
    # scikit-learn's class_weight="balanced"
    from sklearn.utils.class_weight import compute_class_weight

    expected = compute_class_weight("balanced", classes=np.arange(3), y=np.array(labels))
    np.testing.assert_allclose(weights, expected, rtol=1e-3)
    assert t["early_stopping"]["monitor"] == "val_f1"
    assert {"name": "f1", "average": "macro"} in t["metrics"]
    assert t["schedule"]["monitor"] == "val_f1"


def test_imbalanced_binary_gets_pos_weight_and_a_threshold_on_validation():
    t = resolve_auto(_auto(loss="binary_cross_entropy"), _data([0] * 90 + [1] * 10, "binary"),
                     "tabular")  # fmt: skip
    assert t["loss"] == {"name": "binary_cross_entropy", "pos_weight": 9.0}
    assert t["threshold"] == "auto"
    balanced = resolve_auto(_auto(loss="binary_cross_entropy"), _data([0, 1] * 50, "binary"),
                            "tabular")  # fmt: skip
    assert balanced["threshold"] is None and balanced["loss"] == "binary_cross_entropy"
    # many validation rows do not change it: a cut tuned on balanced rows fits their noise
    big = _data([0, 1] * 50, "binary")
    big.val = {"y": torch.zeros(5000)}
    assert resolve_auto(_auto(loss="binary_cross_entropy"), big, "tabular")["threshold"] is None


def test_a_loss_the_config_names_is_never_reweighted():
    data = _data([0] * 500 + [1] * 10)
    t = resolve_auto(_auto(loss="focal"), data, "tabular", loss_defaulted=False)
    assert t["loss"] == "focal"


def test_given_values_are_kept_and_no_validation_means_no_early_stopping():
    given = _auto(epochs=3, batch_size=7, optimizer="sgd", early_stopping=None, schedule="cosine")
    t = resolve_auto(given, _data([0, 1] * 50), "tabular")
    assert (t["epochs"], t["batch_size"], t["optimizer"], t["schedule"]) == (3, 7, "sgd", "cosine")
    assert t["early_stopping"] is None
    # fixed epochs: exactly that many, no automatic early stopping or plateau schedule
    t = resolve_auto(_auto(epochs=3), _data([0, 1] * 50), "tabular")
    assert t["epochs"] == 3 and t["early_stopping"] is None and t["schedule"] is None
    stop = {"monitor": "val_loss", "patience": 1}
    assert resolve_auto(_auto(epochs=3, early_stopping=stop), _data([0, 1] * 50), "tabular")[
        "early_stopping"] == stop  # fmt: skip
    t = resolve_auto(_auto(), _data([0, 1] * 50, val=False), "tabular")
    assert t["early_stopping"] is None and t["schedule"] is None


def test_a_recipe_sets_the_family_defaults():
    recipe = {"optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 128, "max_epochs": 8,
              "patience": 2}  # fmt: skip
    t = resolve_auto(_auto(), _data([0, 1] * 50), "bag", recipe)
    assert t["optimizer"] == {"name": "adam", "lr": 0.01}
    assert (t["batch_size"], t["epochs"], t["early_stopping"]["patience"]) == (128, 8, 2)


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        ({"data": {}}, True),
        ({"data": {}, "trainer": {"seed": 1, "verbose": 0, "time_budget": 60}}, True),
        ({"data": {}, "trainer": {"epochs": 3}}, False),
        ({"data": {}, "model": {"type": "mlp"}}, False),
    ],
)
def test_what_counts_as_a_no_config_run(cfg, expected):
    assert is_no_config(cfg) is expected


def test_balanced_weights_leave_a_class_without_rows_at_one():
    assert balanced_weights([10, 0, 30]) == [2.0, 1.0, 0.6667]


# ----------------------------------------------------------------------------- threshold


def test_best_threshold_maximises_macro_f1_like_a_brute_force_over_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.1).astype(int)
    p = 0.25 * y + rng.random(300) * 0.4  # positives in [0.25, 0.65], negatives in [0, 0.4]
    t = best_threshold(p, y, objective="macro_f1")
    brute = max(f1_score(y, (p >= c).astype(int), average="macro") for c in np.unique(p))
    assert f1_score(y, (p >= t).astype(int), average="macro") == pytest.approx(brute, abs=1e-3)
    assert f1_score(y, (p >= t).astype(int), average="macro") > f1_score(
        y, p >= 0.5, average="macro"
    )


# ----------------------------------------------------------------------------- end to end


def _imbalanced_csv(path: Path, rows: int = 600, seed: int = 0) -> Path:
    """``x1,x2,label``: ``yes`` (about 8%) when x1 + noise is high."""
    rng = random.Random(seed)
    lines = ["x1,x2,label"]
    for _ in range(rows):
        x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
        label = "yes" if x1 + 0.5 * rng.gauss(0, 1) > 1.9 else "no"
        lines.append(f"{x1:.4f},{x2:.4f},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_imbalanced_binary_run_weights_selects_thresholds_and_says_so(tmp_path, capsys):
    from deepfuse.cli.main import main

    csv = _imbalanced_csv(tmp_path / "t.csv")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"data: {{train: {csv}, target: label}}\n"
        "trainer: {seed: 0, verbose: 0, time_budget: 20, search: false, baselines: false}\n"
    )
    assert main(["train", str(cfg), "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    run = Path(out.strip().splitlines()[-1].split(": ", 1)[1])
    assert "imbalanced classes: largest 'no'" in out and "class-weighted loss" in out
    assert "stopped: " in out
    written = load_config(run / "config.yaml")
    assert written["trainer"]["loss"]["pos_weight"] > IMBALANCE_RATIO
    assert written["trainer"]["early_stopping"]["monitor"] == "val_f1"
    meta = json.loads((run / "model.json").read_text())
    # the weight is in the loss the model was compiled with (and is loaded with)
    assert meta["compile"]["loss"]["pos_weight"] == written["trainer"]["loss"]["pos_weight"]
    import deepfuse

    loaded = deepfuse.load(run)
    assert float(loaded.compiled_loss.pos_weight) == pytest.approx(
        written["trainer"]["loss"]["pos_weight"]
    )
    threshold = meta["decision_threshold"]
    assert 0 < threshold < 1
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["threshold"] == threshold and "macro_f1" in metrics["test"]
    assert metrics["imbalance"]["imbalanced"] and metrics["stopped"]["reason"] in (
        "early_stopping", "max_epochs")  # fmt: skip
    # predict applies the same threshold: a row's label is "yes" exactly when P(yes) >= t
    assert main(["predict", str(run), str(csv), "--out", str(tmp_path / "p.csv")]) == 0
    import pyarrow.csv as pacsv

    preds = pacsv.read_csv(tmp_path / "p.csv").to_pydict()
    expected = ["yes" if p >= threshold else "no" for p in preds["probability_yes"]]
    assert preds["prediction"] == expected


def test_time_budget_ends_the_run_and_metrics_say_why(tmp_path):
    from synthetic_tables import city_income_csv

    csv = city_income_csv(tmp_path / "t.csv", 3000)
    cfg = {"data": {"train": str(csv), "target": "label"},
           "trainer": {"epochs": 500, "time_budget": 1.0, "seed": 0, "verbose": 0,
                       "early_stopping": None, "baselines": False}}  # fmt: skip
    result = train(cfg, out_dir=tmp_path / "runs")
    stopped = result.metrics["stopped"]
    assert stopped["reason"] == "time_budget" and stopped["epochs"] < 500
    assert "time budget of 1 s" in stopped["message"]


def test_no_config_run_searches_keeps_the_best_and_records_the_leaderboard(tmp_path):
    from synthetic_tables import city_income_csv

    csv = city_income_csv(tmp_path / "t.csv", 300)
    cfg = {"data": {"train": str(csv), "target": "label"},
           "trainer": {"seed": 0, "verbose": 0, "time_budget": 20, "baselines": False}}  # fmt: skip
    result = train(cfg, out_dir=tmp_path / "runs")
    search = json.loads((result.run_dir / "search.json").read_text())
    names = [c["name"] for c in search["candidates"]]
    assert len(names) >= 2 and search["best"] == names[0]
    assert result.metrics["search"] == search
    written = load_config(result.run_dir / "config.yaml")
    winner = search["candidates"][0]
    assert written["trainer"]["search"] is False  # --resume trains the winner directly
    assert {k: written["model"][k] for k in winner["model"]} == winner["model"]
    assert written["trainer"]["optimizer"] == winner["optimizer"]
    assert written["trainer"]["time_budget"] <= 20
    # the leaderboard is sorted best first on the validation monitor
    best = [c["best"] for c in search["candidates"]]
    assert (
        best == sorted(best) if search["monitor"].endswith("loss") else sorted(best, reverse=True)
    )
    assert "Model search" in (result.run_dir / "report.html").read_text()
