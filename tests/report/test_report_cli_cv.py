"""`deepfuse report RUN`, `deepfuse cv`'s report, failures shown in place, runs without a report."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from report_helpers import RUN_SECTIONS, read_page

from deepfuse.api.report import report
from deepfuse.cli.main import main
from deepfuse.report import ReportWarning, write_report
from deepfuse.report.html import num
from synthetic_tables import city_income_csv


def _table(path: Path, rows: int = 60) -> Path:
    return city_income_csv(path, rows)


def test_cv_writes_a_report_with_one_row_per_fold_and_mean_std(tmp_path, capsys):
    config = tmp_path / "small.yaml"
    config.write_text(f"data:\n  train: {_table(tmp_path / 't.csv')}\n  target: label\n")
    code = main(
        ["cv", str(config), "trainer.epochs=2", "trainer.verbose=0", "trainer.seed=0",
         "--folds", "3", "--out", str(tmp_path / "out")]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.strip().splitlines()
    cv_dir = Path(lines[-1].removeprefix("cv: "))  # still the last line
    assert f"report: {cv_dir / 'report.html'}" in lines
    cv = json.loads((cv_dir / "cv.json").read_text())
    assert len(cv["histories"]) == 3 and len(cv["fold_times_s"]) == 3
    _, page = read_page(cv_dir)
    assert page.section_ids == ["summary", "folds", "curves", "config", "environment"]
    assert page.failed == 0 and not page.errors and page.scripts == 0
    assert len(page.images) == 1 and page.images[0].startswith("data:image/png;base64,")
    folds = next(t for t in page.tables if t["class"] == "folds")
    assert [r[0] for r in folds["tbody"]] == ["1", "2", "3"]
    names = cv["metrics"]
    assert "accuracy" in names and "f1_macro" in names
    foot = {r[0]: r[3 : 3 + len(names)] for r in folds["tfoot"]}
    for i, metric in enumerate(names):
        values = np.array([row[metric] for row in cv["per_fold"]], dtype=float)
        for fold, row in enumerate(folds["tbody"]):
            assert row[3 + i] == num(values[fold])
        values = values[~np.isnan(values)]
        assert foot["mean"][i] == num(float(np.mean(values)))
        assert foot["std"][i] == num(float(np.std(values)))  # population std, as cv.py prints
        assert (
            foot["mean ± std"][i] == f"{num(float(np.mean(values)))} ± {num(float(np.std(values)))}"
        )
    s = cv["summary"]["accuracy"]
    assert f"accuracy: {s['mean']:.4f} ± {s['std']:.4f}" in out


def test_cli_report_rewrites_the_report_and_prints_its_path(run_copy, capsys):
    (run_copy / "report.html").unlink()
    assert main(["report", str(run_copy)]) == 0
    out, _ = capsys.readouterr()
    assert out.strip() == str(run_copy / "report.html")
    _, page = read_page(run_copy)  # rebuilt from the run alone: model and test rows loaded
    assert page.failed == 0 and page.section_ids == RUN_SECTIONS
    assert len(page.images) >= 8


def test_cli_report_on_a_missing_or_foreign_folder_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a deepfuse run" in err


def test_a_failing_part_is_shown_and_warned_and_the_rest_is_written(run_copy, monkeypatch):
    import deepfuse.viz

    def broken(*args, **kwargs):
        raise RuntimeError("drawing exploded <b>")

    monkeypatch.setattr(deepfuse.viz, "plot_roc", broken)
    with pytest.warns(ReportWarning, match="ROC curves could not be drawn"):
        report(run_copy)  # test rows rebuilt: every other part is drawn
    text, page = read_page(run_copy)
    assert page.failed == 1 and not page.errors
    assert "ROC curves could not be drawn." in text
    assert "RuntimeError: drawing exploded &lt;b&gt;" in text
    assert page.section_ids == RUN_SECTIONS and "<figcaption>precision-recall" in text


def test_write_report_without_test_rows_says_so_and_draws_the_rest(run_copy):
    """deepfuse.report reads the run only (it never imports the api that rebuilds test rows):
    the parts that need test rows say so; given a loader, they are drawn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReportWarning)
        write_report(run_copy)
    text, page = read_page(run_copy)
    assert page.failed == 0 and page.section_ids == RUN_SECTIONS
    # the projection and the mistakes (an MLP: the feature maps are not applicable anyway)
    assert text.count("No test rows were given to the report") == 2
    calls = []

    def rows(config, model):
        calls.append(config["name"])
        from deepfuse.api.use import eval_data

        return eval_data(config, model, None)[0]

    write_report(run_copy, load_test_data=rows)
    text, page = read_page(run_copy)
    assert len(calls) == 1 and page.failed == 0  # loaded once, shared by the parts
    assert "No test rows were given" not in text


def test_a_run_without_report_still_evaluates_and_predicts(run_copy, tmp_path):
    from deepfuse import api

    (run_copy / "report.html").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReportWarning)
        scores = api.evaluate(run_copy)
    assert 0.0 <= scores["accuracy"] <= 1.0
    assert "report.html" not in api.info(run_copy)["files"]


@pytest.fixture
def run_copy(mlp_run, tmp_path):
    """A copy of the session's MLP run that a test may change."""
    import shutil

    copy = tmp_path / mlp_run.name
    shutil.copytree(mlp_run, copy)
    return copy
