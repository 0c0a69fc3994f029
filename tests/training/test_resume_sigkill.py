"""Kill ``deepfuse train`` with SIGKILL at many points, resume each time with ``--resume``, and
check the finished run is bit-identical to an uninterrupted one (weights, history, metrics).
The points cover the whole run: mid-epoch, checkpoint writes, validation, and every step of the
finishing protocol (run/writer.py): the final checkpoint, the test evaluation, the model files,
history.csv, evaluation.json, report.html, metrics.json and the rename. The same harness fills
the disk (an injected ENOSPC) at several points: exit 2, one line, checkpoints kept, and the
next ``--resume`` completes the run.

One driver process imports deepfuse once, then forks a child per attempt (a fresh process per
attempt, as after a real kill, without paying torch's import each time). A child installs one
hook (a kill or a full disk), then runs the real CLI: ``train CONFIG`` first,
``train --resume RUN`` afterwards. Each attempt's stderr and the checkpoints left after it are
recorded.
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
    import builtins, errno, io, json, os, signal, sys
    from pathlib import Path

    import torch

    torch.set_num_threads(1)
    # Imported once here, not in every forked attempt.
    import deepfuse.api.training, deepfuse.data.routes, deepfuse.data, deepfuse.models.zoo, pyarrow.csv
    from deepfuse.cli.main import main
    from deepfuse.models import model as model_mod
    from deepfuse.models import serialization
    from deepfuse.run import writer
    from deepfuse.training import checkpoint as ck

    api = sys.modules["deepfuse.api.training"]
    import deepfuse.api.tasks.supervised as supervised  # the default task writes evaluation.json

    config, out, base, plan = sys.argv[1], Path(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])


    def die():
        os.kill(os.getpid(), signal.SIGKILL)


    def killed_after(original, name=None):
        def call(*args, **kwargs):
            result = original(*args, **kwargs)
            if name is None or Path(args[0]).name == name:
                die()
            return result
        return call


    def killed_before(original, name):
        def call(*args, **kwargs):
            if Path(args[0]).name == name:
                die()
            return original(*args, **kwargs)
        return call


    class FullDisk:
        """A file object whose writes fail as on a full disk."""

        def __init__(self, fh):
            self._fh = fh

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self._fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._fh.close()


    def install(kind, arg):
        """Patch one place of the real code to SIGKILL this process there (or fill the disk)."""
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
        elif kind == "test_eval":  # training done, inside the test-set evaluation
            model_mod.Model.evaluate = lambda *a, **k: die()
        elif kind == "history":  # while merging steps.csv into history.csv
            api.history_csv = lambda *a, **k: die()
        elif kind == "evaluation":  # while computing evaluation.json
            supervised.evaluate_model = lambda *a, **k: die()
        elif kind == "report":  # while writing report.html
            api.write_report = lambda *a, **k: die()
        elif kind == "report_written":  # report.html written, metrics.json not yet
            api.write_report = killed_after(api.write_report)
        elif kind == "writing":  # before the run file `arg` (evaluation.json, metrics.json)
            api.atomic_write_json = killed_before(api.atomic_write_json, arg)
            supervised.atomic_write_json = killed_before(supervised.atomic_write_json, arg)
        elif kind == "written":  # just after the run file `arg`
            api.atomic_write_json = killed_after(api.atomic_write_json, arg)
            supervised.atomic_write_json = killed_after(supervised.atomic_write_json, arg)
        elif kind == "rename":  # finishing: steps.csv deleted, the .partial not yet renamed
            writer._relax_permissions = lambda *a, **k: die()
        elif kind == "enospc":  # the disk is full from the first write of a path holding `arg`
            real_open = io.open

            def full_open(file, mode="r", *args, **kwargs):
                fh = real_open(file, mode, *args, **kwargs)
                if isinstance(file, (str, os.PathLike)) and arg in os.fspath(file) and (
                    set(mode) & set("wax+")
                ):
                    return FullDisk(fh)
                return fh

            io.open = builtins.open = full_open


    def attempt(args, kill, err):
        pid = os.fork()
        if pid == 0:  # the child: one process of the run
            code = 3
            try:
                os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
                if kill:
                    install(*kill)
                code = main(args)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            return -os.WTERMSIG(status)
        return os.WEXITSTATUS(status)


    def checkpoints():
        runs = sorted(out.iterdir()) if out.exists() else []
        folder = runs[0] / "checkpoints" if runs else None
        return sorted(p.name for p in folder.iterdir()) if folder and folder.is_dir() else []


    errs = out.parent / "stderr"
    errs.mkdir(exist_ok=True)
    results = {"base": attempt(["train", config, "--out", base], None, errs / "base"), "attempts": []}
    for i, kill in enumerate(plan + [None]):
        runs = sorted(out.iterdir()) if out.exists() else []
        args = ["train", "--resume", str(runs[0])] if runs else ["train", config, "--out", str(out)]
        code = attempt(args, kill, errs / str(i))
        results["attempts"].append({
            "kill": kill, "resumed": bool(runs), "code": code,
            "stderr": (errs / str(i)).read_text(), "checkpoints": checkpoints(),
        })
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

# 240 rows -> 173 training rows (test 20%, validation 10%) -> 11 steps per epoch, 33 in all;
# checkpoints at steps 4, 8, 11 (end of epoch 1), 12, 16, 20, 22 (epoch 2), 24, 28, 32, 33.
# Each entry kills one attempt; the next attempt resumes with `deepfuse train --resume`.
QUICK = [
    ["step", 6],  # mid-epoch, 2 steps after the step-4 checkpoint
    ["write", 8],  # during a mid-epoch checkpoint write (files written, not yet renamed)
    ["after_write", "epoch_end"],  # exactly at the end of epoch 2, checkpoint published
    ["final_save", None],  # training finished, while writing model.safetensors
    # Regression (issue 11, finding 1): steps.csv was deleted before these; --resume refused.
    ["evaluation", None],  # while computing evaluation.json
    ["report", None],  # while writing report.html
    ["written", "metrics.json"],  # every file written, steps.csv not yet deleted
    ["rename", None],  # steps.csv deleted, the .partial folder not yet renamed
]
FULL = [  # 25 points over the whole run, in the order an uninterrupted run reaches them
    ["step", 2],  # mid-epoch, before the first checkpoint: resume starts over (with a warning)
    ["step", 6],
    ["write", 8],
    ["step", 10],
    ["after_write", 11],  # the end of epoch 1, its checkpoint published
    ["step", 14],
    ["validation", None],  # inside the validation pass of epoch 2
    ["write", "epoch_end"],  # during the epoch-end checkpoint write of epoch 2
    ["after_write", "epoch_end"],
    ["step", 25],
    ["write", 28],
    ["step", 30],
    ["validation", None],  # inside the validation pass of epoch 3
    ["write", 33],  # during the last checkpoint (the one that marks training as done)
    ["after_write", 33],  # training done, nothing of the finishing written
    ["test_eval", None],  # the test-set evaluation of metrics.json
    ["final_save", None],
    ["history", None],
    ["evaluation", None],
    ["written", "evaluation.json"],
    ["report", None],
    ["report_written", None],
    ["writing", "metrics.json"],
    ["written", "metrics.json"],
    ["rename", None],
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


def _drive(tmp: Path, plan: list) -> tuple[list, Path, Path]:
    """Run the driver on a fresh table: the planned interruptions, each resumed, and an
    uninterrupted baseline; return its per-attempt results, the run and the baseline folders."""
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
    return results, run, base


@pytest.fixture(
    scope="module", params=["quick", pytest.param("full", marks=pytest.mark.slow)]
)  # the full plan (25 kills) takes about three times as long: -m slow, run by .ci/run
def killed_and_resumed(request, tmp_path_factory):
    plan = PLANS[request.param]
    tmp = tmp_path_factory.mktemp("sigkill")
    results, run, base = _drive(tmp, plan)
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


# ------------------------------------------------------------------------------- full disk
# Regression (issue 11, finding 2): a full disk exited 1 with a traceback and deleted the run.
# Each entry fills the disk (ENOSPC on write) for the files whose path holds the name.
DISK_FULL = [
    ["enospc", "step-00000008"],  # a mid-epoch checkpoint of the fresh run
    ["enospc", "evaluation.json"],  # training done: the finishing files
    ["enospc", "report.html"],
    ["enospc", "metrics.json"],
]


@pytest.fixture(scope="module")
def disk_filled_and_resumed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diskfull")
    results, run, base = _drive(tmp, DISK_FULL)
    return results, run, base


def test_a_full_disk_stops_with_one_line_and_exit_2(disk_filled_and_resumed):
    results, _, _ = disk_filled_and_resumed
    failed = results["attempts"][:-1]
    assert [a["code"] for a in results["attempts"]] == [2] * len(DISK_FULL) + [0]
    for attempt in failed:
        lines = attempt["stderr"].strip().splitlines()
        assert len(lines) == 1, attempt["stderr"]
        (line,) = lines
        assert line.startswith("deepfuse: error: Cannot write '"), line
        assert attempt["kill"][1] in line and ".tmp" not in line  # the file, never a temp name
        assert "no space left on device: free space and run `deepfuse train --resume " in line


def test_a_full_disk_keeps_every_checkpoint_already_written(disk_filled_and_resumed):
    results, _, _ = disk_filled_and_resumed
    first, *rest = results["attempts"][:-1]
    assert first["checkpoints"] == ["step-00000004"]  # the failed step-8 one left nothing
    newest = "step-00000004"
    for attempt in rest:
        names = attempt["checkpoints"]
        assert names and not any(n.startswith(".tmp") for n in names), names
        assert max(names) >= newest  # the run folder and its newest checkpoint stayed
        newest = max(names)
    assert newest == "step-00000033"  # training done before the finishing files failed


def test_resume_after_a_full_disk_completes_bit_identically(disk_filled_and_resumed):
    results, run, base = disk_filled_and_resumed
    assert results["attempts"][-1]["resumed"] and (run / "metrics.json").is_file()
    assert not run.name.endswith(".partial") and not (run / "steps.csv").exists()
    got = load_safetensors(run / "model.safetensors")
    want = load_safetensors(base / "model.safetensors")
    assert got.keys() == want.keys()
    for name in want:
        assert torch.equal(got[name], want[name]), name
    assert _rows(run) == _rows(base)
    got_m = json.loads((run / "metrics.json").read_text())
    assert got_m["test"] == json.loads((base / "metrics.json").read_text())["test"]
