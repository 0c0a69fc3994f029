"""Kill ``deepfuse train`` with SIGKILL at many points, resume each time with ``--resume``, and
check the finished run is bit-identical to an uninterrupted one (weights, history, metrics).

One driver process imports deepfuse once, then forks a child per attempt (a fresh process per
attempt, as after a real kill, without paying torch's import each time). A child installs one
kill hook, then runs the real CLI: ``train CONFIG`` first, ``train --resume RUN`` afterwards.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfuse._utils.safefiles import load_safetensors

DRIVER = textwrap.dedent(
    r'''
    import json, os, signal, sys
    from pathlib import Path

    import torch

    torch.set_num_threads(1)
    # Imported once here, not in every forked attempt.
    import deepfuse.api.training, deepfuse.data.routes, deepfuse.data, deepfuse.models.zoo, pyarrow.csv
    from deepfuse.cli.main import main
    from deepfuse.models import model as model_mod
    from deepfuse.models import serialization
    from deepfuse.training import checkpoint as ck

    config, out, base, plan = sys.argv[1], Path(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])


    def die():
        os.kill(os.getpid(), signal.SIGKILL)


    def install(kind, arg):
        """Patch one place of the real code to SIGKILL this process there."""
        if kind == "step":  # before optimizer step arg + 1 (arg steps done): mid-epoch
            original = model_mod.Model.train_step

            def train_step(self, batch):
                if self.trainer.global_step == arg:
                    die()
                return original(self, batch)

            model_mod.Model.train_step = train_step
        elif kind in ("write", "after_write"):  # during / just after writing checkpoint `arg`
            original = ck.CheckpointManager._publish

            def publish(self, tmp, final):
                state = json.loads((tmp / "state.json").read_text())["state"]["trainer"]
                if isinstance(arg, int):
                    hit = final.name == f"step-{arg:08d}"
                else:  # "epoch_end": the checkpoint at the end of epoch 2 (0-based 1)
                    hit = state["epoch_done"] and state["epoch"] == 1
                if hit:
                    if kind == "write":
                        assert (tmp / "manifest.json").is_file()  # every file is written...
                        die()  # ...but the checkpoint is not published yet
                    original(self, tmp, final)
                    die()
                original(self, tmp, final)

            ck.CheckpointManager._publish = publish
        elif kind == "validation":  # inside the first validation batch of this attempt
            model_mod.Model.test_step = lambda self, batch: die()
        elif kind == "final_save":  # training done, while writing the run's model files
            serialization.save_model = lambda *a, **k: die()


    def attempt(args, kill):
        pid = os.fork()
        if pid == 0:  # the child: one process of the run
            code = 3
            try:
                if kill:
                    install(*kill)
                code = main(args)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            return -os.WTERMSIG(status)
        return os.WEXITSTATUS(status)


    results = {"base": attempt(["train", config, "--out", base], None), "attempts": []}
    for i, kill in enumerate(plan + [None]):
        runs = sorted(out.iterdir()) if out.exists() else []
        args = ["train", "--resume", str(runs[0])] if runs else ["train", config, "--out", str(out)]
        results["attempts"].append({"kill": kill, "resumed": bool(runs), "code": attempt(args, kill)})
    print(json.dumps(results))
    '''
)

CONFIG = """\
data:
  train: {csv}
  target: label
model:
  type: tabular
  hidden: [16]
  dropout: 0.2
trainer:
  epochs: 3
  batch_size: 16
  seed: 0
  verbose: 0
  checkpoint_every: 4
  optimizer: adamw
  schedule: cosine
  metrics: [accuracy, auc]
"""

# 240 rows -> 173 training rows (test 20%, validation 10%) -> 11 steps per epoch, 33 in all.
# Each entry kills one attempt; the next attempt resumes with `deepfuse train --resume`.
QUICK = [
    ["step", 6],  # mid-epoch, 2 steps after the step-4 checkpoint
    ["write", 8],  # during a mid-epoch checkpoint write (files written, not yet renamed)
    ["write", "epoch_end"],  # during the epoch-end checkpoint write of epoch 2
    ["after_write", "epoch_end"],  # exactly at the end of epoch 2, checkpoint published
    ["final_save", None],  # training finished, while writing model.safetensors
]
FULL = [
    ["step", 2],  # mid-epoch, before the first checkpoint: resume starts over (with a warning)
    *QUICK[:4],
    ["step", 30],  # mid-epoch 3, 2 steps after the step-28 checkpoint
    ["validation", None],  # inside the validation pass of epoch 3
    QUICK[4],
]
PLANS = {"quick": QUICK, "full": FULL}


def _table(path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] + 0.3 * rng.normal(size=240) > 0).astype(int)
    lines = ["a,b,c,d,label"] + [
        ",".join(f"{v:.5f}" for v in row) + f",{label}" for row, label in zip(x, y)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if k != "time"} for row in csv.DictReader(fh)]


@pytest.fixture(
    scope="module", params=["quick", pytest.param("full", marks=pytest.mark.slow)]
)  # the full plan (8 kills) takes about twice as long: -m slow
def killed_and_resumed(request, tmp_path_factory):
    plan = PLANS[request.param]
    tmp = tmp_path_factory.mktemp("sigkill")
    config = tmp / "table.yaml"
    config.write_text(CONFIG.format(csv=_table(tmp / "table.csv")))
    driver = tmp / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.run(
        [sys.executable, str(driver), str(config), str(tmp / "out"), str(tmp / "base"),
         json.dumps(plan)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    (run,) = (tmp / "out").iterdir()
    (base,) = (tmp / "base").iterdir()
    return results, run, base, plan


def test_every_planned_kill_happened_and_the_last_attempt_finished(killed_and_resumed):
    results, run, _, plan = killed_and_resumed
    assert results["base"] == 0
    codes = [a["code"] for a in results["attempts"]]
    assert codes == [-9] * len(plan) + [0]  # SIGKILL each time, then a clean finish
    assert [a["resumed"] for a in results["attempts"]] == [False] + [True] * len(plan)
    assert not (run / "steps.csv").exists() and (run / "metrics.json").is_file()


def test_final_weights_are_bit_identical(killed_and_resumed):
    _, run, base, _ = killed_and_resumed
    got = load_safetensors(run / "model.safetensors")
    want = load_safetensors(base / "model.safetensors")
    assert got.keys() == want.keys()
    for name in want:
        assert torch.equal(got[name], want[name]), name


def test_history_has_every_step_once_and_matches(killed_and_resumed):
    _, run, base, _ = killed_and_resumed
    got, want = _rows(run), _rows(base)
    assert [int(r["global_step"]) for r in got] == list(range(1, 34))
    assert got == want  # every value, bit for bit (repr of floats), except wall time


def test_test_metrics_match(killed_and_resumed):
    _, run, base, _ = killed_and_resumed
    got = json.loads((run / "metrics.json").read_text())
    want = json.loads((base / "metrics.json").read_text())
    assert got["test"] == want["test"] and got["final_epoch"].keys() == want["final_epoch"].keys()
    for key, value in want["final_epoch"].items():
        if key != "time":
            assert got["final_epoch"][key] == value, key


# ------------------------------------------------------------------------- streamed config
STREAM_CONFIG = """\
data:
  train: {parquet}
  target: label
  streaming: true
  shuffle_buffer: 256
model:
  type: tabular
  hidden: [16]
  dropout: 0.2
trainer:
  epochs: 2
  batch_size: 32
  seed: 0
  verbose: 0
  checkpoint_every: 5
  metrics: [accuracy]
"""


def _parquet(folder: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    folder.mkdir()
    for part in range(2):
        x = rng.normal(size=(300, 3))
        y = np.where(x[:, 0] - x[:, 1] > 0, "yes", "no")
        table = pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": y})
        pq.write_table(table, folder / f"part-{part}.parquet", row_group_size=100)
    return folder / "*.parquet"


def test_streamed_config_sigkilled_mid_epoch_resumes_bit_identically(tmp_path):
    """Regression (issue 10): `deepfuse train --resume` of a streaming config continued from a
    dataset at epoch 0, because fit hid the LazyDataset's state_dict behind an adapter."""
    config = tmp_path / "stream.yaml"
    config.write_text(STREAM_CONFIG.format(parquet=_parquet(tmp_path / "parts")))
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    # 600 rows -> 420 streamed training rows -> 14 steps per epoch. Killed (SIGKILL) before
    # step 23 of 28, in epoch 2, 3 steps after the mid-epoch checkpoint of step 20.
    plan = [["step", 23]]
    proc = subprocess.run(
        [sys.executable, str(driver), str(config), str(tmp_path / "out"), str(tmp_path / "base"),
         json.dumps(plan)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results["base"] == 0
    assert [a["code"] for a in results["attempts"]] == [-9, 0]  # killed, then resumed
    (run,) = (tmp_path / "out").iterdir()
    (base,) = (tmp_path / "base").iterdir()
    got = load_safetensors(run / "model.safetensors")
    want = load_safetensors(base / "model.safetensors")
    assert got.keys() == want.keys()
    for name in want:
        assert torch.equal(got[name], want[name]), name
    assert [int(r["global_step"]) for r in _rows(run)] == list(range(1, 29))
    assert _rows(run) == _rows(base)
