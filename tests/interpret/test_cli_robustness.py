"""``deepfuse attack`` and ``deepfuse explain`` on small real runs: exit codes, printed output and
the JSON files they write beside the run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from deepfuse.api import train
from deepfuse.cli.main import main


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("table_run")
    rng = np.random.default_rng(0)
    n = 400
    signal, noise = rng.normal(size=n), rng.normal(size=n)
    city = rng.choice(["paris", "rome", "oslo"], size=n)
    label = np.where(signal + (city == "oslo") > 0.3, "yes", "no")
    csv = root / "rows.csv"
    pacsv.write_csv(pa.table({"signal": signal, "noise": noise, "city": city, "label": label}), csv)
    cfg = {
        "data": {"train": str(csv), "target": "label"},
        "model": {"type": "tabular", "hidden": [16]},
        "trainer": {
            "epochs": 8,
            "batch_size": 32,
            "verbose": 0,
            "seed": 0,
            "optimizer": {"name": "adam", "lr": 0.01},
        },
    }
    return train(cfg, out_dir=root / "runs").run_dir, csv


def test_explain_permutation_ranks_raw_columns(table_run, capsys) -> None:
    run, csv = table_run
    assert main(["explain", str(run), "--data", str(csv), "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    saved = json.loads((run / "importance.json").read_text())
    names = [row["column"] for row in saved["ranking"]]
    assert sorted(names) == ["city", "noise", "signal"]
    assert names[0] == "signal" and names[-1] == "noise"
    assert " 1. signal" in out
    assert saved["metric"] == "accuracy" and saved["n_repeats"] == 2


def test_explain_user_errors_exit_2(table_run, capsys) -> None:
    run, _ = table_run
    assert main(["explain", str(run)]) == 2  # permutation needs --data
    assert "--data" in capsys.readouterr().err
    assert main(["attack", str(run), "--eps", "0,-1"]) == 2  # argparse usage error: one line
    assert main(["explain", str(run), "--method", "saliency"]) == 2  # several inputs: not images
    assert "permutation" in capsys.readouterr().err


def test_attack_writes_robustness_curve(tmp_path: Path, capsys) -> None:
    cfg = {
        "data": {"dataset": "mnist", "limit": 300},
        "model": {"type": "cnn", "filters": [4], "dense": [16]},
        "trainer": {"epochs": 1, "verbose": 0, "seed": 0},
    }
    run = train(cfg, out_dir=tmp_path).run_dir
    assert main(["attack", str(run), "--eps", "0,0.1,0.3", "--limit", "200"]) == 0
    saved = json.loads((run / "robustness.json").read_text())
    assert saved["eps"] == [0.0, 0.1, 0.3] and saved["rows"] == 200
    acc = saved["accuracy"]
    assert acc[2] <= acc[0]
    assert "eps 0.1" in capsys.readouterr().out
