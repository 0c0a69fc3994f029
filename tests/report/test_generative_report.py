"""report.html of a generator run (task: generate), from a run folder written by hand in the
formats of ``task: generate``: samples/epoch-XXXX.png, history.csv with classifier_fd, and
evaluation.json as ``evaluation_generator`` writes it."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from report_helpers import RUN_SECTIONS, read_page

import deepfuse as df
from deepfuse.evaluation.sample_scores import class_histogram
from deepfuse.report import write_report
from deepfuse.report.generative import CLASSIFICATION_ONLY, MAX_GRIDS, pick_evenly
from deepfuse.report.html import num
from deepfuse.viz.tiles import save_image_grid

pytestmark = pytest.mark.filterwarnings("error::deepfuse.report.ReportWarning")

EPOCHS = 12
GENERATE_SECTIONS = ["summary", "samples", "quality", *RUN_SECTIONS[1:]]


def _row(fd, precision, recall, predicted, labels=False):
    row = {
        "classifier_fd": fd,
        "precision": precision,
        "recall": recall,
        "n": len(predicted),
        "histogram": class_histogram(np.asarray(predicted), 10),
    }
    if labels:
        row["label_accuracy"] = 0.91
    return row


def write_generate_run(root, *, collapsed=False, grids=EPOCHS):
    run = root / "mnist_gan-20260101-120000"
    df.models.build("mlp", hidden=[4], out_features=10, input_shape=[1, 28, 28]).save(run)
    (run / "config.yaml").write_text("name: mnist_gan\ntask: generate\ndata: {dataset: mnist}\n")
    fds = [300.0 / (e + 1) for e in range(EPOCHS)]
    lines = ["epoch,d_loss,g_loss,classifier_fd"]
    lines += [f"{e + 1},{0.6 + 0.01 * e!r},{1.2 - 0.02 * e!r},{fd!r}" for e, fd in enumerate(fds)]
    (run / "history.csv").write_text("\n".join(lines) + "\n")
    rng = np.random.default_rng(0)
    for e in range(1, grids + 1):
        save_image_grid(
            rng.random((16, 1, 28, 28)) * e / grids, run / "samples" / f"epoch-{e:04d}.png"
        )
    final_pred = np.full(1000, 1) if collapsed else np.arange(1000) % 10
    rows = {
        "final": _row(fds[-1], 0.71, 0.05 if collapsed else 0.62, final_pred),
        "untrained": _row(412.5, 0.0, 0.0, np.full(1000, 8)),
        "real_train": _row(0.84, 0.93, 0.91, np.arange(1000) % 10),
    }
    warnings = [w for w in [rows["final"]["histogram"]["warning"]] if w]
    evaluation = {
        "task": "generate",
        "n": 1000,
        "metric": "classifier_fd",
        "feature_space": "Fréchet distance in classifier features (not Inception FID)",
        "metrics": {
            "classifier_fd": fds[-1],
            "precision": 0.71,
            "recall": rows["final"]["recall"],
            "classifier_fd_real_train": 0.84,
            "classifier_fd_untrained": 412.5,
        },
        "rows": rows,
        "classes": list(range(10)),
        "scorer": {"test_accuracy": 0.981, "val_accuracy": 0.979, "rows": 54000, "seconds": 25.1},
        "warnings": warnings,
        "notes": [*warnings, "Each row: 1000 images against 1000 real test images."],
    }
    (run / "evaluation.json").write_text(json.dumps(evaluation))
    metrics = {
        "task": "generate",
        "classes": list(range(10)),
        "epochs": EPOCHS,
        "test": {"classifier_fd": fds[-1], "precision": 0.71, "recall": rows["final"]["recall"]},
        "final_epoch": {"d_loss": 0.7, "g_loss": 1.0, "classifier_fd": fds[-1]},
        "rows": {"train": 54000, "validation": 6000, "test": 10000},
        "train_time_s": 120.0,
    }
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def _section(text, sid):
    start = text.index(f'id="{sid}"')
    end = text.find("<section", start)
    return text[start : end if end > 0 else len(text)]


def test_generate_report_has_samples_and_quality_and_no_failures(tmp_path):
    run = write_generate_run(tmp_path)
    write_report(run)
    text, page = read_page(run)
    assert page.section_ids == GENERATE_SECTIONS
    assert page.failed == 0, re.findall(r'<div class="failed">.*?</div>', text)
    samples = _section(text, "samples")
    # the strip: MAX_GRIDS evenly chosen grids, first and last included, then the fd curve
    assert samples.count("<img") == MAX_GRIDS + 1
    shown = [int(e) for e in re.findall(r"<figcaption>epoch (\d+)</figcaption>", samples)]
    assert shown == pick_evenly(list(range(1, EPOCHS + 1)), MAX_GRIDS) and shown[-1] == EPOCHS
    assert "not Inception FID" in samples


def test_quality_table_shows_final_untrained_and_real_floor(tmp_path):
    run = write_generate_run(tmp_path)
    write_report(run)
    text, page = read_page(run)
    rows = {r[0]: r[1:] for r in page.rows("quality")}
    ev = json.loads((run / "evaluation.json").read_text())
    for label, key in [("final generator", "final"), ("untrained generator (ceiling)", "untrained"),
                       ("real training images (floor)", "real_train")]:  # fmt: skip
        assert rows[label][:3] == [
            num(ev["rows"][key][k]) for k in ("classifier_fd", "precision", "recall")
        ]
    assert rows["7"][:2] == ["100", "10.0%"]  # class 7: 100 of the 1000 samples
    assert 'class="warn"' not in _section(text, "quality")
    summary = _section(text, "summary")
    assert num(ev["metrics"]["classifier_fd"]) in summary  # the headline card


def test_mode_collapse_warning_is_visible(tmp_path):
    run = write_generate_run(tmp_path, collapsed=True)
    write_report(run)
    text, _ = read_page(run)
    quality = _section(text, "quality")
    assert '<div class="warn">Mode collapse suspected' in quality
    assert "class &#x27;1&#x27; is 100%" in quality


def test_classification_sections_say_not_applicable(tmp_path):
    run = write_generate_run(tmp_path)
    write_report(run)
    text, _ = read_page(run)
    for sid in CLASSIFICATION_ONLY:
        assert "Not applicable: this run trains a generator" in _section(text, sid), sid


def test_grids_are_bounded_and_only_the_runs_own_files(tmp_path):
    run = write_generate_run(tmp_path, grids=2)
    outside = tmp_path / "outside.png"
    outside.write_bytes((run / "samples" / "epoch-0001.png").read_bytes())
    os.symlink(outside, run / "samples" / "epoch-0003.png")  # leads out of the run: skipped
    (run / "samples" / "notes.png").write_bytes(b"not a grid name")
    (run / "samples" / "epoch-0004.png").write_bytes(b"\x89PNG" + b"0" * 2_000_001)  # too big
    with pytest.warns(Warning, match="grid of epoch 4"):
        write_report(run)
    text, page = read_page(run)
    samples = _section(text, "samples")
    assert re.findall(r"<figcaption>epoch (\d+)</figcaption>", samples) == ["1", "2"]
    assert page.failed == 1 and "2000000" in samples  # the big one: a visible failed block


def test_a_run_without_grids_or_evaluation_says_so(tmp_path):
    run = write_generate_run(tmp_path, grids=0)
    (run / "evaluation.json").unlink()
    write_report(run)
    text, page = read_page(run)
    assert page.failed == 0
    assert "No sample grids in this run" in _section(text, "samples")
    assert "No sample-quality evaluation" in _section(text, "quality")
