"""Small finished runs (trained once per session) and an HTML reader for the report tests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from report_helpers import HOSTILE, HOSTILE_NAME, TEXT_WORDS


def _train(cfg: dict, out: Path) -> Path:
    from deepfuse.api import train

    return train(cfg, out_dir=out).run_dir


TRAINER = {"epochs": 1, "batch_size": 64, "seed": 0, "verbose": 0}


@pytest.fixture(scope="session")
def cnn_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn")
    cfg = {
        "name": "cnn",
        "data": {"dataset": "mnist", "limit": 300, "validation_split": 0.1},
        "model": {"type": "cnn", "filters": [4, 8], "dense": [16]},
        "trainer": dict(TRAINER),
    }
    return _train(cfg, out)


@pytest.fixture(scope="session")
def mlp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp")
    cfg = {
        "name": "mlp",
        "data": {"dataset": "mnist", "limit": 300, "validation_split": 0.1},
        "model": {"type": "mlp", "hidden": [16]},
        "trainer": dict(TRAINER),
    }
    return _train(cfg, out)


def write_missing_table(path: Path, rows: int, seed: int) -> Path:
    """Numbers and categories with empty cells, a column with a hostile name, a 2-class label."""
    rng = random.Random(seed)
    lines = [f"age,income_k,city,{HOSTILE},label"]
    for _ in range(rows):
        income = round(rng.uniform(10, 150), 1)
        city = rng.choice(["paris", "lyon", "nice"])
        label = "rich" if income + (20 if city == "paris" else 0) > 90 else "poor"
        age = "" if rng.random() < 0.15 else str(rng.randint(18, 80))
        shown_income = "" if rng.random() < 0.1 else str(income)
        shown_city = "" if rng.random() < 0.2 else city
        lines.append(f"{age},{shown_income},{shown_city},{rng.randint(0, 9)},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def tabular_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("table")
    return write_missing_table(d / "train.csv", 160, 0), write_missing_table(d / "test.csv", 60, 1)


@pytest.fixture(scope="session")
def tabular_run(tmp_path_factory, tabular_files):
    train, test = tabular_files
    cfg = {
        "name": HOSTILE_NAME,
        "data": {"train": str(train), "test": str(test), "target": "label", "validation_split": 0},
        "trainer": {**TRAINER, "epochs": 2, "batch_size": 32},
    }
    return _train(cfg, tmp_path_factory.mktemp("tabular-runs"))


@pytest.fixture(scope="session")
def text_run(tmp_path_factory):
    """Random labels: the model is wrong on about half the rows, so Mistakes has snippets."""
    d = tmp_path_factory.mktemp("text")
    rng = random.Random(0)
    words = TEXT_WORDS
    lines = ["review,sentiment"]
    for _ in range(120):
        lines.append(f'"{" ".join(rng.sample(words, 7))}",{rng.choice(["pos", "neg"])}')
    (d / "reviews.csv").write_text("\n".join(lines) + "\n")
    cfg = {
        "name": "text",
        "data": {"train": str(d / "reviews.csv"), "target": "sentiment"},
        "trainer": dict(TRAINER),
    }
    return _train(cfg, d / "runs")
