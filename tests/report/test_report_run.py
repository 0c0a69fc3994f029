"""report.html of training runs: sections, embedded PNGs, numbers, escaping, data facts."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from report_helpers import HOSTILE, HOSTILE_NAME, RUN_SECTIONS, TEXT_WORDS, read_page

from deepfuse.report.html import num

pytestmark = pytest.mark.filterwarnings("error::deepfuse.report.ReportWarning")


def _check_self_contained(text, page):
    assert not page.errors, page.errors[:5]  # tags nest and close
    assert page.scripts == 0 and page.links == 0
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert "http://" not in text and "https://" not in text
    for tag, name, value in page.attributes:  # the only references: embedded PNGs and anchors
        if name in ("src", "href", "srcset", "action", "formaction", "poster", "data"):
            assert value.startswith(("data:image/png;base64,", "#")), (tag, name, value[:60])
        assert "http" not in value and not name.startswith("on"), (tag, name, value[:60])
    assert "@import" not in text and "url(" not in text


def _check_images(page, at_least):
    assert len(page.images) >= at_least
    for src in page.images:
        assert src.startswith("data:image/png;base64,"), src[:40]
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        Image.open(io.BytesIO(png)).verify()  # a valid PNG, not just a header


def test_cnn_report_has_every_section_and_embedded_pngs(cnn_run):
    assert (cnn_run / "report.html").is_file() and (cnn_run / "histograms.json").is_file()
    assert not cnn_run.name.endswith(".partial")
    text, page = read_page(cnn_run)
    assert page.section_ids == RUN_SECTIONS
    assert [h for h in page.hrefs] == [f"#{s}" for s in RUN_SECTIONS]  # the nav
    assert page.failed == 0, re.findall(r'<div class="failed">.*?</div>', text)
    _check_self_contained(text, page)
    # curves, confusion matrix, ROC, PR, reliability, feature maps, filters, 2 histograms,
    # projection, confident errors
    _check_images(page, at_least=11)
    inside = text[text.index('id="inside"') : text.index('id="mistakes"')]
    assert inside.count("<img") == 5  # feature maps, filters, weights, gradients, projection
    mistakes = text[text.index('id="mistakes"') : text.index('id="data"')]
    assert mistakes.count("<img") == 1


def test_report_numbers_equal_metrics_and_evaluation(cnn_run):
    _, page = read_page(cnn_run)
    metrics = json.loads((cnn_run / "metrics.json").read_text())
    evaluation = json.loads((cnn_run / "evaluation.json").read_text())
    summary = page.rows("summary")
    for name, value in metrics["test"].items():
        assert [name, num(value)] in summary
    rows = page.rows("evaluation")
    for name, value in evaluation["metrics"].items():
        assert [name, num(value)] in rows, name
    for c in evaluation["per_class"]:
        expected = [str(c["label"]), num(c["precision"]), num(c["recall"]), num(c["f1"])]
        assert any(r[:4] == expected for r in rows), expected
    macro = next(r for r in rows if r[0] == "macro average")
    assert macro[1:4] == [
        num(evaluation["metrics"][f"{m}_macro"]) for m in ("precision", "recall", "f1")
    ]
    data = page.rows("data")
    for split, n in metrics["rows"].items():
        assert any(r[:2] == [split, num(n)] for r in data), split
    # class balance of the test split = the evaluation's support per class
    for c in evaluation["per_class"]:
        row = next(r for r in data if r[0] == str(c["label"]) and len(r) == 7)
        assert row[5] == num(c["support"])
    timings = dict(r[:2] for r in page.rows("timings"))
    assert timings["training (fit)"].endswith("s")
    assert {"train_time_s", "eval_time_s", "report_time_s", "environment"} <= set(metrics)
    env = dict(r[:2] for r in page.rows("environment"))
    assert env["torch"] == metrics["environment"]["torch"]


def test_model_table_lists_layers_with_shapes_and_parameters(cnn_run):
    _, page = read_page(cnn_run)
    meta = json.loads((cnn_run / "model.json").read_text())
    rows = page.rows("model")
    layers = [r for r in rows if len(r) == 4 and r[1] in ("Conv2D", "Dense", "MaxPool2D")]
    assert [r[1] for r in layers].count("Conv2D") == 2
    assert all(r[2].startswith("(None,") for r in layers)
    total = next(r for r in rows if r[0] == "total")
    assert total[3] == num(meta["num_parameters"])


def test_mlp_report_has_no_failures_and_says_what_does_not_apply(mlp_run):
    text, page = read_page(mlp_run)
    assert page.section_ids == RUN_SECTIONS and page.failed == 0
    _check_self_contained(text, page)
    _check_images(page, at_least=8)
    assert "no 2-D convolution" in text  # feature maps and filters: not applicable, said so


def test_tabular_report_escapes_hostile_names_and_counts_missing_and_classes(
    tabular_run, tabular_files
):
    pd = pytest.importorskip("pandas")
    text, page = read_page(tabular_run)
    assert page.failed == 0
    _check_self_contained(text, page)
    assert HOSTILE not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert HOSTILE_NAME not in text and "<title>&lt;img src=x onerror=alert(1)&gt;</title>" in text
    train, test = (pd.read_csv(p) for p in tabular_files)
    rows = page.rows("data")
    for column in ("age", "income_k", "city", HOSTILE):
        row = next(r for r in rows if r[0] == column and len(r) == 4 and r[2].isdigit())
        assert int(row[2]) == int(train[column].isna().sum()), column
    assert train["age"].isna().sum() > 0 and train["city"].isna().sum() > 0  # the test means it
    balance = next(r for r in rows if r[0] == "rich" and len(r) == 5)
    assert balance[1] == num(int((train["label"] == "rich").sum()))
    assert balance[3] == num(int((test["label"] == "rich").sum()))
    # the mistakes are shown as rows of decoded feature values, with the hostile column escaped
    mistakes = text[text.index('id="mistakes"') : text.index('id="data"')]
    assert "&lt;script&gt;" in mistakes or "No misclassified" in mistakes


def test_text_report_shows_text_snippets_in_mistakes(text_run):
    text, page = read_page(text_run)
    assert page.failed == 0
    _check_self_contained(text, page)
    mistakes = text[text.index('id="mistakes"') : text.index('id="data"')]
    snippets = re.findall(r'<span class="snippet">(.*?)</span>', mistakes)
    assert snippets, mistakes[:500]
    vocabulary = set(TEXT_WORDS)
    assert all(set(s.split()) <= vocabulary | {"⟨?⟩"} for s in snippets)
    assert all(len(s.split()) >= 3 for s in snippets)


def test_calibration_and_confusion_figures_are_captioned(cnn_run):
    text, _ = read_page(cnn_run)
    evaluation = text[text.index('id="evaluation"') : text.index('id="inside"')]
    for caption in ("confusion matrix", "ROC", "precision-recall", "calibration"):
        assert f"<figcaption>{caption}" in evaluation, caption


def test_numbers_are_not_nan_strings(cnn_run):
    text, _ = read_page(cnn_run)
    assert "nan" not in re.sub(r"<[^>]+>", " ", text).lower().split()
    assert np.isfinite(json.loads((cnn_run / "metrics.json").read_text())["report_time_s"])


def test_adult_report_has_no_failed_part(tmp_path):
    import os
    from pathlib import Path

    from deepfuse.api import train

    data_dir = Path(os.environ.get("DEEPFUSE_DATA_DIR", "/work/shared/datasets"))
    if not (data_dir / "adult").is_dir():
        pytest.skip(f"the Adult dataset is not in {data_dir} (set DEEPFUSE_DATA_DIR)")
    cfg = {
        "name": "adult",
        "data": {"dataset": {"name": "adult", "data_dir": str(data_dir)}, "limit": 3000},
        "trainer": {"epochs": 1, "batch_size": 256, "seed": 0, "verbose": 0},
    }
    run = train(cfg, out_dir=tmp_path).run_dir
    text, page = read_page(run)
    assert page.section_ids == RUN_SECTIONS and page.failed == 0
    _check_self_contained(text, page)
    _check_images(page, at_least=7)
    data = page.rows("data")
    assert any(r[0] == "workclass" and r[1] == "categorical" for r in data)
    assert any(r[0] == ">50K" or r[0].startswith(">50K") for r in data)  # class balance
