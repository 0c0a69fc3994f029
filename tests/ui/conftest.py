"""Run folders for the dashboard tests, written directly in the formats ``deepfuse train`` uses.

The formats were taken from real runs (``deepfuse train examples/mnist_mlp.yaml``):
``history.csv`` has one row per step with the epoch values on each epoch's last row,
``metrics.json`` has ``test``/``final_epoch`` sections, ``evaluation.json`` a confusion matrix of
``labels`` and ``counts``, and a run in progress has ``steps.csv`` and checkpoints whose
``state.json`` holds ``state.trainer.history`` (verified by ``manifest.json``).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():  # starlette asks for httpx2; httpx is what FastAPI documents
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: F401 - re-exported for the tests

CONFIG = """\
name: {name}
data:
  dataset: mnist
  validation_split: 0.1
model:
  type: sequential
  layers:
  - Flatten: {{}}
  - Dense:
      units: {units}
      activation: relu
  - Dense:
      units: 3
      activation: softmax
trainer:
  optimizer:
    name: adam
    lr: {lr}
  loss: sparse_categorical_crossentropy
  metrics:
  - accuracy
  epochs: {epochs}
  batch_size: 128
  seed: 0
"""


def epoch_values(epoch: int, quality: float) -> dict[str, float]:
    """Plausible per-epoch logs: loss falls, accuracy rises with ``quality``."""
    return {
        "loss": round(1.0 / (epoch + 1) / quality, 6),
        "accuracy": round(min(0.99, 0.5 + quality * 0.1 * epoch), 6),
        "val_loss": round(1.2 / (epoch + 1) / quality, 6),
        "val_accuracy": round(min(0.99, 0.45 + quality * 0.1 * epoch), 6),
        "lr": 0.001,
        "time": 1.5,
    }


def step_rows(epochs: int, steps_per_epoch: int, quality: float, start: int = 0) -> list[str]:
    """``epoch,step,global_step,loss,lr`` lines of a StepLog file from global step ``start``."""
    lines = []
    for g in range(start, epochs * steps_per_epoch):
        epoch, step = divmod(g, steps_per_epoch)
        loss = 2.0 / (1 + g * 0.2 * quality)
        lines.append(f"{epoch + 1},{step + 1},{g + 1},{loss!r},0.001")
    return lines


def write_run(
    root: Path,
    name: str,
    *,
    lr: float = 0.001,
    units: int = 64,
    epochs: int = 3,
    steps_per_epoch: int = 4,
    quality: float = 1.0,
    accuracy: float = 0.9,
    counts: list[list[int]] | None = None,
    report: str | None = None,
) -> Path:
    """A finished run ``root/name`` (config, metrics, history, evaluation; report if given)."""
    run = root / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(
        CONFIG.format(name=name.split("-")[0], units=units, lr=lr, epochs=epochs)
    )
    history = [epoch_values(e, quality) for e in range(1, epochs + 1)]
    keys = list(history[0])
    lines = [
        "epoch,loss,"
        + ",".join(k for k in keys if k != "loss" and k != "lr")
        + ",step,global_step,lr"
    ]
    for row in step_rows(epochs, steps_per_epoch, quality):
        epoch, step, g, loss, lr_ = row.split(",")
        last = int(step) == steps_per_epoch
        values = history[int(epoch) - 1]
        cells = [repr(values[k]) if last else "" for k in keys if k not in ("loss", "lr")]
        shown_loss = repr(values["loss"]) if last else loss
        lines.append(",".join([epoch, shown_loss, *cells, step, g, lr_]))
    (run / "history.csv").write_text("\n".join(lines) + "\n")
    metrics = {
        "test": {"loss": round(1 - accuracy, 6), "accuracy": accuracy},
        "final_epoch": history[-1],
        "epochs": epochs,
        "train_time_s": 4.5,
        "task": "multiclass",
        "classes": [0, 1, 2],
        "rows": {"train": 100, "validation": 10, "test": 30},
    }
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2))
    counts = counts or [[9, 1, 0], [2, 7, 1], [0, 0, 10]]
    evaluation = {
        "task": "multiclass",
        "n": sum(map(sum, counts)),
        "metrics": {"accuracy": accuracy, "f1_macro": accuracy - 0.01},
        "classes": [0, 1, 2],
        "per_class": [],
        "confusion_matrix": {"labels": [0, 1, 2], "counts": counts, "normalized": None},
        "curves": {},
        "calibration": None,
        "residuals": None,
        "notes": [],
    }
    (run / "evaluation.json").write_text(json.dumps(evaluation))
    (run / "model.json").write_text("{}")
    (run / "model.safetensors").write_bytes(b"")
    if report is not None:
        (run / "report.html").write_text(report)
    return run


def write_checkpoint(run: Path, step: int, history: list[dict[str, float]]) -> Path:
    """A checkpoint folder with the JSON files the dashboard reads (tensors are not needed)."""
    folder = run / "checkpoints" / f"step-{step:08d}"
    folder.mkdir(parents=True)
    doc = {
        "format": "deepfuse.checkpoint",
        "format_version": 1,
        "step": step,
        "state": {"trainer": {"global_step": step, "history": history}},
    }
    data = json.dumps(doc).encode()
    (folder / "state.json").write_bytes(data)
    manifest = {
        "format": "deepfuse.checkpoint",
        "format_version": 1,
        "step": step,
        "files": {"state.json": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def write_partial(
    root: Path, name: str, *, epochs: int = 5, steps_per_epoch: int = 4, done_steps: int = 6
) -> Path:
    """A run in progress: ``root/name.partial`` with ``done_steps`` step rows and a checkpoint
    at the end of every finished epoch."""
    run = root / f"{name}.partial"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(
        CONFIG.format(name=name.split("-")[0], units=32, lr=0.01, epochs=epochs)
    )
    rows = step_rows(epochs, steps_per_epoch, 1.0)[:done_steps]
    (run / "steps.csv").write_text("epoch,step,global_step,loss,lr\n" + "\n".join(rows) + "\n")
    for e in range(1, done_steps // steps_per_epoch + 1):
        write_checkpoint(run, e * steps_per_epoch, [epoch_values(i, 1.0) for i in range(1, e + 1)])
    return run


def append_steps(run: Path, start: int, count: int, steps_per_epoch: int = 4) -> None:
    """Append ``count`` step rows after global step ``start`` (what StepLog's flush does)."""
    rows = step_rows(10_000, steps_per_epoch, 1.0, start=start)[:count]
    with open(run / "steps.csv", "a") as fh:
        fh.write("\n".join(rows) + "\n")


@pytest.fixture
def runs_dir(tmp_path):
    """Two finished runs (different lr and quality) and one run in progress."""
    root = tmp_path / "runs"
    write_run(root, "alpha-20260101-100000", lr=0.001, accuracy=0.91, quality=1.0)
    write_run(
        root,
        "beta-20260102-100000",
        lr=0.01,
        accuracy=0.95,
        quality=2.0,
        counts=[[10, 0, 0], [1, 8, 1], [0, 1, 9]],
    )
    write_partial(root, "gamma-20260103-100000")
    return root


REAL_CONFIG = {
    "name": "real",
    "data": {"dataset": "mnist", "limit": 300, "validation_split": 0.2},
    "model": {"type": "sequential", "layers": [{"Flatten": {}}, {"Dense": {"units": 10}}]},
    "trainer": {"epochs": 2, "batch_size": 60, "seed": 0, "verbose": 0},
}


@pytest.fixture(scope="session")
def real_run(tmp_path_factory):
    """A run written by the real trainer (2 epochs of 4 steps on 240 MNIST rows) with its real
    report.html, once per session: the dashboard is checked against the real file formats.

    The weight/gradient histograms are not recorded (the report says so in their place): drawing
    them is most of a tiny run's time on this machine, and the dashboard does not read them.
    """
    from deepfuse import api
    from deepfuse.training.callbacks.base import Callback

    class NoHistograms(Callback):  # a class: train() checks isinstance against it
        def __init__(self, path: object) -> None:
            pass

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("deepfuse.api.training.HistogramLog", NoHistograms, raising=False)
        return api.train(REAL_CONFIG, out_dir=tmp_path_factory.mktemp("real") / "runs")
