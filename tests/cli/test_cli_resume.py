"""`deepfuse train --resume`: usage mistakes and unfinished runs get one-line errors (exit 2)."""

from __future__ import annotations

import functools

import pytest

from deepfuse.models import Model


def _config(tmp_path, tabular_csv):
    path = tmp_path / "t.yaml"
    path.write_text(
        f"data:\n  train: {tabular_csv}\n  target: label\n"
        "model:\n  type: tabular\n  hidden: [8]\n"
        "trainer:\n  epochs: 2\n  batch_size: 32\n  seed: 0\n  verbose: 0\n"
    )
    return path


@pytest.mark.parametrize(
    ("extra", "words"),
    [((), "no such folder"), (("cfg.yaml",), "takes no CONFIG"), (("a=1",), "takes no CONFIG")],
)
def test_resume_usage_errors(run_cli, tmp_path, extra, words):
    code, _, err = run_cli("train", "--resume", tmp_path / "nope", *extra)
    assert code == 2 and words in err and "Traceback" not in err


def test_train_without_config_or_resume(run_cli):
    code, _, err = run_cli("train")
    assert code == 2 and "--resume RUN_DIR" in err


def test_interrupted_run_is_unfinished_then_resumes(run_cli, tmp_path, tabular_csv, monkeypatch):
    config = _config(tmp_path, tabular_csv)
    fit = Model.fit

    @functools.wraps(fit)  # keeps fit's signature: config keys come from it
    def interrupted_fit(self, *args, **kwargs):
        fit(self, *args, **kwargs)  # trains and checkpoints every epoch ...
        raise KeyboardInterrupt  # ... then Ctrl-C before the run's files are written

    monkeypatch.setattr(Model, "fit", interrupted_fit)
    code, _, _ = run_cli("train", config, "--out", tmp_path / "runs")
    assert code == 130
    monkeypatch.setattr(Model, "fit", fit)
    (partial,) = (tmp_path / "runs").iterdir()
    assert partial.name.endswith(".partial")  # never a complete-looking <name>-<stamp>
    assert sorted(p.name for p in partial.iterdir()) == [
        "checkpoints",
        "config.yaml",
        "histograms.json",  # HistogramLog: weights and gradients per epoch, for report.html
        "steps.csv",
    ]
    run = partial.with_name(partial.name.removesuffix(".partial"))
    for given in (partial, run):  # readers point at the run by either name
        code, _, err = run_cli("evaluate", given)
        assert code == 2 and f"deepfuse train --resume {given}" in err
    code, out, err = run_cli("train", "--resume", run)  # the name without .partial works too
    assert code == 0, err
    assert f"run: {run.resolve()}" in out and (run / "metrics.json").is_file()
    assert not partial.exists()  # renamed into place when complete
    code, _, err = run_cli("train", "--resume", run)
    assert code == 2 and "already finished" in err


def test_a_checkpoint_that_does_not_fit_the_model_is_one_line(
    run_cli, tmp_path, tabular_csv, monkeypatch
):
    """Regression (issue 11, finding 7): a checkpoint whose shapes do not match the model being
    resumed (its config.yaml edited) ended in torch's "size mismatch" traceback, exit 1."""
    config = _config(tmp_path, tabular_csv)
    fit = Model.fit

    @functools.wraps(fit)
    def interrupted_fit(self, *args, **kwargs):
        fit(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Model, "fit", interrupted_fit)
    assert run_cli("train", config, "--out", tmp_path / "runs")[0] == 130
    monkeypatch.setattr(Model, "fit", fit)
    (partial,) = (tmp_path / "runs").iterdir()
    saved = partial / "config.yaml"
    saved.write_text(saved.read_text().replace("hidden:\n  - 8", "hidden:\n  - 16"))
    assert "- 16" in saved.read_text()
    code, _, err = run_cli("train", "--resume", partial)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "does not fit the model being trained" in err and "shape mismatch" in err
    assert (partial / "checkpoints").is_dir()  # nothing was deleted
