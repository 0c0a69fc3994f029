"""The "How it compares" and "Per class" sections: baselines, recall worst first, warnings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from report_helpers import Page

from deepfuse.evaluation import evaluate_predictions, format_evaluation
from deepfuse.report.compare import compare_section, never_predicted, per_class_section
from deepfuse.report.context import RunFacts

pytestmark = pytest.mark.filterwarnings("ignore::deepfuse.evaluation.UndefinedMetricWarning")


def _facts(tmp_path, y, pred, classes, metrics=None):
    """A run folder whose evaluation.json is deepfuse's evaluation of these predictions."""
    result = evaluate_predictions(np.array(y), np.array(pred), "multiclass", classes)
    (tmp_path / "evaluation.json").write_text(json.dumps(result.to_dict()))
    base = {"task": "multiclass", "classes": classes, "train_time_s": 2.5}
    return RunFacts(tmp_path, {**base, **(metrics or {})}), result


def _warnings(html: str) -> list[str]:
    return [part.split("</div>")[0] for part in html.split('<div class="warn">')[1:]]


def test_never_predicted_is_flagged_only_when_a_class_is_never_predicted(tmp_path):
    # class 2 ("c") has test rows and is never predicted; class 3 ("d") has neither
    y = [0, 0, 0, 1, 1, 2, 2]
    pred = [0, 0, 1, 1, 1, 0, 1]
    f, result = _facts(tmp_path, y, pred, ["a", "b", "c", "d"])
    assert result.never_predicted == ["c"]
    assert "warning: 1 of 4 classes are never predicted: c" in format_evaluation(result)
    warns = _warnings(per_class_section(f))
    assert warns == ["1 of 4 classes are never predicted on the test split: c"]
    assert never_predicted(json.loads((tmp_path / "evaluation.json").read_text())) == ["c"]

    ok = tmp_path / "ok"
    ok.mkdir()
    g, result = _facts(ok, y, [0, 0, 1, 1, 1, 2, 0], ["a", "b", "c", "d"])
    assert result.never_predicted == []
    assert "never predicted" not in format_evaluation(result)
    assert "never predicted" not in per_class_section(g)


def test_never_predicted_of_an_older_evaluation_from_its_confusion_matrix():
    ev = {
        "confusion_matrix": {"labels": ["a", "b", "c"], "counts": [[3, 0, 0], [1, 0, 0], [0, 0, 0]]}
    }
    assert never_predicted(ev) == ["b"]  # "c" has no rows: not flagged


def test_per_class_recall_sorted_worst_first_with_imbalance_warning(tmp_path):
    y = [0] * 40 + [1] * 10 + [2] * 3
    pred = [0] * 30 + [1] * 10 + [1] * 5 + [0] * 5 + [2, 0, 0]  # recall a .75, b .5, c 1/3
    f, _ = _facts(tmp_path, y, pred, ["a", "b", "c"])
    html = per_class_section(f)
    (table,) = Page(html).tables
    assert [r[0] for r in table["tbody"]] == ["c", "b", "a"]
    recalls = [float(r[2]) for r in table["tbody"]]
    assert recalls == sorted(recalls) == pytest.approx([1 / 3, 0.5, 0.75], abs=1e-4)
    assert [int(r[1]) for r in table["tbody"]] == [3, 10, 40]  # support
    warns = _warnings(html)
    assert len(warns) == 1 and "strongly imbalanced" in warns[0] and "13x the smallest" in warns[0]
    balanced = tmp_path / "balanced"
    balanced.mkdir()
    g, _ = _facts(balanced, [0, 1, 2] * 5, [0, 1, 2] * 5, ["a", "b", "c"])
    assert _warnings(per_class_section(g)) == []


def test_compare_puts_deepfuse_next_to_each_baseline(tmp_path):
    baselines = {
        "task": "multiclass", "metric": "macro_f1", "rows": {"train": 90, "test": 7},
        "models": [
            {"name": "LogisticRegression", "accuracy": 0.5, "macro_f1": 0.4,
             "balanced_accuracy": 0.45, "fit_seconds": 0.2, "rows": 90},
            {"name": "RandomForest(100)", "accuracy": 0.6, "macro_f1": 0.55,
             "balanced_accuracy": 0.5, "fit_seconds": 0.4, "rows": 90},
        ],
        "skipped": ["HistGradientBoosting skipped: time budget of 1 s spent (1.2 s on the models before it)"],
        "best": "RandomForest(100)",
    }  # fmt: skip
    y, pred = [0, 0, 1, 1, 2, 2, 2], [0, 0, 1, 1, 2, 2, 1]
    f, result = _facts(tmp_path, y, pred, ["a", "b", "c"], {"baselines": baselines})
    html = compare_section(f)
    (table,) = Page(html).tables
    names = [r[0] for r in table["tbody"]]
    assert names == ["deepfuse (model)", "LogisticRegression", "RandomForest(100)"]
    ours = table["tbody"][0]
    assert float(ours[1]) == pytest.approx(result.metrics["accuracy"], abs=1e-4)
    assert float(ours[2]) == pytest.approx(result.metrics["f1_macro"], abs=1e-4)
    mine = result.metrics["f1_macro"]
    assert f"deepfuse macro-F1 {mine:.4f} vs best baseline 0.5500 (RandomForest(100))" in html
    assert "deepfuse is ahead by" in html
    assert "HistGradientBoosting skipped: time budget" in html


def test_compare_without_baselines_says_how_to_get_them(tmp_path):
    f, _ = _facts(tmp_path, [0, 1], [0, 1], ["a", "b"])
    assert "trainer.baselines" in compare_section(f)
