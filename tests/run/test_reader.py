"""RunReader: what the writer side puts in a run folder comes back through typed accessors, and
a missing or corrupt file gives an error that names the file and what was expected."""

from __future__ import annotations

import hashlib
import json
import math

import pytest

from deepfuse._utils.errors import ConfigError, DataError, UserError
from deepfuse._utils.io import atomic_write_json, read_json
from deepfuse.config import dump_config
from deepfuse.run import (
    RunReader,
    finish_run_dir,
    history_csv,
    new_run_dir,
    read_histograms,
    read_run,
)

CONFIG = {"name": "demo", "data": {"dataset": "mnist"}, "trainer": {"epochs": 2, "seed": 0}}
METRICS = {
    "test": {"loss": 0.25, "accuracy": 0.9},
    "final_epoch": {"loss": 0.3},
    "epochs": 2,
    "task": "multiclass",
    "classes": [0, 1],
    "rows": {"train": 8, "validation": 0, "test": 4},
    "train_time_s": 1.5,
}
MODEL = {"name": "demo", "architecture": {"kind": "zoo", "name": "mlp"}, "num_parameters": 42}
HISTOGRAMS = {"version": 1, "bins": 2, "epochs": [1], "weights": {"w": []}, "gradients": {}}
STEPS = (
    "epoch,step,global_step,loss,lr\n1,1,1,0.9,0.1\n1,2,2,0.7,0.1\n2,1,3,0.5,0.1\n2,2,4,0.3,0.1\n"
)


def _write_run(root):
    """A run written the way `deepfuse train` writes one (.partial, then rename)."""
    tmp = new_run_dir(root, "demo")
    dump_config(CONFIG, tmp / "config.yaml")
    (tmp / "steps.csv").write_text(STEPS)
    history = {"loss": [0.8, 0.4], "val_loss": [0.85, 0.45], "time": [1.0, 0.5]}
    history_csv(history, tmp / "history.csv", steps=tmp / "steps.csv")
    (tmp / "steps.csv").unlink()
    atomic_write_json(tmp / "model.json", MODEL)
    (tmp / "model.safetensors").write_bytes(b"")
    atomic_write_json(tmp / "evaluation.json", {"task": "multiclass", "n": 4})
    atomic_write_json(tmp / "histograms.json", HISTOGRAMS)
    (tmp / "report.html").write_text("<html></html>")
    atomic_write_json(tmp / "metrics.json", METRICS)
    return finish_run_dir(tmp)


def test_round_trip_through_the_writer(tmp_path):
    run = read_run(_write_run(tmp_path))
    assert run.status == "finished" and run.name.startswith("demo-")
    assert run.config() == CONFIG
    assert run.metrics() == METRICS
    assert run.model_meta() == MODEL
    assert run.evaluation() == {"task": "multiclass", "n": 4}
    assert run.evaluation("other.csv") is None  # evaluation-other.json was never written
    assert run.histograms() == HISTOGRAMS
    assert run.history() == {"loss": [0.8, 0.4], "val_loss": [0.85, 0.45]}
    assert [e["val_loss"] for e in run.epochs()] == [0.85, 0.45]
    assert [e["time"] for e in run.epochs()] == [1.0, 0.5]
    steps = run.steps()
    assert [s["global_step"] for s in steps] == [1, 2, 3, 4]
    assert [s["loss"] for s in steps] == [0.9, 0.8, 0.5, 0.4]  # epoch ends: the epoch's loss
    assert run.report_path() == run.path / "report.html"
    assert run.checkpoints() == [] and run.checkpoint_history() == []
    info = run.info()
    assert info["model"]["num_parameters"] == 42 and info["test"] == METRICS["test"]
    assert info["files"] == [
        "config.yaml", "model.safetensors", "model.json", "history.csv", "metrics.json",
        "report.html",
    ]  # fmt: skip


def test_missing_required_files_name_the_file(tmp_path):
    run_dir = _write_run(tmp_path)
    (run_dir / "model.json").unlink()
    with pytest.raises(UserError, match=r"missing model\.json"):
        read_run(run_dir)
    reader = RunReader(run_dir)
    with pytest.raises(DataError, match=r"has no model\.json \(the model's architecture"):
        reader.model_meta()
    (run_dir / "history.csv").unlink()
    with pytest.raises(DataError, match=r"has no history\.csv \(the training history\)"):
        reader.history()
    assert reader.histograms() is not None and reader.cv() is None


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"test": {"accuracy": 0.9', "is not valid JSON"),
        ("[1, 2]", "holds a JSON list; expected an object"),
        ("\xff\xfe", "is not valid JSON"),
    ],
)
def test_corrupt_json_names_the_file_and_the_problem(tmp_path, text, words):
    run_dir = _write_run(tmp_path)
    (run_dir / "metrics.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(DataError) as caught:
        read_run(run_dir).metrics()
    assert str(run_dir / "metrics.json") in str(caught.value) and words in str(caught.value)


def test_corrupt_config_and_histograms(tmp_path):
    run_dir = _write_run(tmp_path)
    (run_dir / "config.yaml").write_text("trainer: [unclosed\n")
    with pytest.raises(ConfigError, match=r"config\.yaml"):
        RunReader(run_dir).config()
    (run_dir / "histograms.json").write_text('{"version": 2}')
    with pytest.raises(DataError, match='expected a JSON object with "version": 1'):
        RunReader(run_dir).histograms()
    with pytest.raises(DataError, match="has no 'gradients' object"):
        (run_dir / "histograms.json").write_text('{"version": 1, "weights": {}}')
        read_histograms(run_dir / "histograms.json")


def test_read_json_is_bounded(tmp_path, monkeypatch):
    import deepfuse._utils.io as io

    path = tmp_path / "big.json"
    path.write_text(json.dumps({"a": "x" * 100}))
    monkeypatch.setattr(io, "MAX_JSON_BYTES", 50)
    with pytest.raises(DataError, match=r"has \d+ bytes \(limit 50\)"):
        read_json(path)
    with pytest.raises(DataError, match="is missing"):
        read_json(tmp_path / "nope.json", what="metrics file")


def test_a_symlink_out_of_the_run_counts_as_missing(tmp_path):
    run_dir = _write_run(tmp_path / "runs")
    outside = tmp_path / "secret.json"
    outside.write_text('{"task": "stolen"}')
    (run_dir / "evaluation.json").unlink()
    (run_dir / "evaluation.json").symlink_to(outside)
    assert RunReader(run_dir).evaluation() is None


def test_history_with_a_value_that_is_not_a_number(tmp_path):
    run_dir = _write_run(tmp_path)
    (run_dir / "history.csv").write_text("epoch,loss\n1,abc\n")
    with pytest.raises(DataError, match="not a number"):
        RunReader(run_dir).history()
    (run_dir / "history.csv").write_text("epoch,loss,val_loss\n1,0.5,\n")
    history = RunReader(run_dir).history()  # an empty cell is a value not recorded: NaN
    assert history["loss"] == [0.5] and math.isnan(history["val_loss"][0])


def _checkpoint(run, step, history, *, tamper=False):
    folder = run / "checkpoints" / f"step-{step:08d}"
    folder.mkdir(parents=True)
    state = json.dumps({"state": {"trainer": {"history": history}}}).encode()
    (folder / "state.json").write_bytes(state)
    digest = hashlib.sha256(state + (b"x" if tamper else b"")).hexdigest()
    manifest = {"files": {"state.json": {"size": len(state), "sha256": digest}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_a_run_in_progress(tmp_path):
    run_dir = new_run_dir(tmp_path, "live")
    dump_config(CONFIG, run_dir / "config.yaml")
    (run_dir / "steps.csv").write_text(STEPS + "3,1,5,0.2")  # a line being written
    _checkpoint(run_dir, 2, [{"loss": 0.8, "val_loss": 0.9}])
    _checkpoint(run_dir, 4, [{"loss": 0.8}, {"loss": 0.4}], tamper=True)  # newest: altered
    run = RunReader(run_dir)
    assert run.in_progress and run.status == "in progress" and run.name == run_dir.name[:-8]
    assert [s["global_step"] for s in run.steps()] == [1, 2, 3, 4]  # the half line left out
    assert [p.name for p in run.checkpoints()] == ["step-00000002", "step-00000004"]
    assert run.epochs() == [{"loss": 0.8, "val_loss": 0.9}]  # the newest valid checkpoint
    assert run.idle_seconds() is not None and run.idle_seconds() < 60
    assert RunReader(_write_run(tmp_path)).idle_seconds() is None


def test_evaluation_file_names_a_folder_by_its_name():
    """Regression: a folder given with a trailing slash used to give 'evaluation-.json'."""
    from deepfuse.run import evaluation_file

    assert evaluation_file("data/holdout/") == "evaluation-holdout.json"
    assert evaluation_file("data\\holdout.parquet") == "evaluation-holdout.json"
    assert evaluation_file("/") == "evaluation-data.json"


def test_step_rows_carry_a_custom_steps_losses_and_no_more(tmp_path):
    run_dir = new_run_dir(tmp_path, "gan")
    dump_config(CONFIG, run_dir / "config.yaml")
    extra = [f"x{i}_loss" for i in range(10)]  # more losses than a row carries
    header = ",".join(
        ["epoch", "step", "global_step", "loss", "lr", "d_loss", "val_g_loss", *extra]
    )
    row = ",".join(["1", "1", "1", "", "", "0.7", "0.9", *["1"] * 10])
    (run_dir / "steps.csv").write_text(f"{header}\n{row}\n")
    (step,) = RunReader(run_dir).steps()
    assert step["loss"] is None and step["d_loss"] == 0.7  # a GAN's loss, drawn per step
    assert "val_g_loss" not in step  # validation values are epoch values, not step values
    assert sum(k.endswith("_loss") for k in step) == 8  # bounded: d_loss + 7 of the others
