"""A no-config run (model search, automatic epochs, early stopping, plateau schedule, time
budget) killed with SIGKILL after its search and first checkpoints resumes with ``--resume`` to
the same weights as a run never killed (slow: two real trainings in subprocesses)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepfuse._utils.safefiles import load_safetensors
from synthetic_tables import city_income_csv

pytestmark = pytest.mark.slow
MAIN = "import sys; from deepfuse.cli.main import main; sys.exit(main(sys.argv[1:]))"


def _train(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, "-c", MAIN, "train", *args], cwd=cwd, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_killed_no_config_run_resumes_to_the_same_weights(tmp_path):
    city_income_csv(tmp_path / "t.csv", 6000)
    (tmp_path / "c.yaml").write_text(
        "data: {train: t.csv, target: label}\n"
        "trainer: {seed: 0, verbose: 0, checkpoint_every: 20, baselines: false}\n"
    )
    full = _train("c.yaml", "--out", "full", cwd=tmp_path)
    assert full.wait(timeout=600) == 0, full.stdout.read()

    killed = _train("c.yaml", "--out", "killed", cwd=tmp_path)
    deadline = time.monotonic() + 600
    partial = None
    while time.monotonic() < deadline and killed.poll() is None:
        found = list((tmp_path / "killed").glob("*.partial/checkpoints/step-*"))
        if len(found) >= 2:  # the search is done and the winner has trained a while
            partial = found[0].parents[1]
            killed.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    killed.wait(timeout=60)
    if partial is None:
        pytest.skip("the run finished before it could be killed (machine too fast)")
    assert (partial / "search.json").is_file() and (partial / "config.yaml").is_file()
    resumed = _train("--resume", str(partial), cwd=tmp_path)
    assert resumed.wait(timeout=600) == 0, resumed.stdout.read()

    (a,) = (tmp_path / "full").glob("c-*/model.safetensors")
    (b,) = (tmp_path / "killed").glob("c-*/model.safetensors")
    wa, wb = load_safetensors(a), load_safetensors(b)
    assert wa.keys() == wb.keys()
    assert all(bool((wa[k] == wb[k]).all()) for k in wa)
