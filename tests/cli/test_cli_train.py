"""`deepfuse train|evaluate|predict|info` end to end on tiny data, and run-directory atomicity."""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path

import pytest

from deepfuse.models.model import Model
from deepfuse.run import RUN_FILES

TINY_MNIST = """\
name: tiny
data:
  dataset: mnist
  limit: 600
  validation_split: 0.1
model:
  type: sequential
  layers:
    - Flatten: {}
    - Dense: {units: 10, activation: softmax}
trainer:
  epochs: 1
  batch_size: 64
  seed: 0
  verbose: 0
"""


def _runs(root):
    return sorted(p for p in root.iterdir()) if root.exists() else []


def _run_dir(out):
    line = next(x for x in out.splitlines() if x.startswith("run: "))
    return Path(line.removeprefix("run: "))


@pytest.fixture
def mnist_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_MNIST)
    return path


def test_train_mnist_then_evaluate_predict_info(run_cli, tmp_path, mnist_config):
    code, out, err = run_cli(
        "train", mnist_config, "trainer.batch_size=32", "--out", tmp_path / "runs"
    )
    assert code == 0, err
    assert "test accuracy: " in out
    run = _run_dir(out)
    assert run.parent == (tmp_path / "runs").resolve() and run.name.startswith("tiny-")
    for name in RUN_FILES:
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
    assert "batch_size: 32" in (run / "config.yaml").read_text()  # the resolved config
    assert (run / "history.csv").read_text().startswith("epoch,loss")

    code, out, err = run_cli("evaluate", run)
    assert code == 0, err
    assert f"test accuracy: {metrics['test']['accuracy']:.4f}" in out  # same test rows

    code, out, _ = run_cli("info", run)
    assert code == 0 and "num_parameters: 7850" in out

    # predict: image runs take one row of 784 pixel columns per image
    from deepfuse.datasets import load_mnist

    _, (x_test, _) = load_mnist()
    rows = tmp_path / "digits.csv"
    with rows.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([f"p{i}" for i in range(784)])
        writer.writerows(x_test[:5].reshape(5, -1).tolist())
    code, out, err = run_cli("predict", run, rows, "--out", tmp_path / "pred.csv")
    assert code == 0, err
    with (tmp_path / "pred.csv").open() as fh:
        pred = list(csv.DictReader(fh))
    assert len(pred) == 5
    assert {"prediction", "probability", "probability_0", "probability_9"} <= set(pred[0])
    assert all(0.0 <= float(r["probability"]) <= 1.0 for r in pred)


def test_crash_mid_run_leaves_no_complete_looking_run(run_cli, tmp_path, mnist_config, monkeypatch):
    runs = tmp_path / "runs"
    seen = {}

    @functools.wraps(Model.fit)  # keeps fit's signature: config keys come from it
    def crashing_fit(self, *args, **kwargs):
        seen["during"] = [p.name for p in _runs(runs)]
        seen["files"] = sorted(f.name for p in _runs(runs) for f in p.iterdir())
        raise RuntimeError("simulated crash during training")

    monkeypatch.setattr(Model, "fit", crashing_fit)
    code, _, err = run_cli("train", mnist_config, "--out", runs)
    assert code == 1
    assert "Traceback" in err and "simulated crash" in err and "internal error" in err
    # While training, the only entry was the unfinished run (resumable after a kill: no
    # metrics.json, so no reader takes it for a finished run) ...
    assert len(seen["during"]) == 1 and seen["during"][0].startswith("tiny-")
    assert seen["files"] == ["config.yaml"]
    # ... and after the crash nothing is left that looks like a run.
    assert [p for p in _runs(runs) if not p.name.startswith(".")] == []
    assert not any((p / "metrics.json").exists() for p in _runs(runs))
