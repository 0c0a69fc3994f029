"""Regression tests (issue 11, finding 3; finding 2 at the unit level): writes and deletes inside a
run folder never follow symlinks, and a full disk while checkpointing keeps what was written.

Each test plants a link that points outside the run and checks that nothing outside changes:
the old code truncated and appended to a ``steps.csv`` link's target and deleted ``step-*`` and
``.tmp-*`` folders inside a ``checkpoints/`` link's target.
"""

from __future__ import annotations

import errno
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfuse._utils.errors import UserError
from deepfuse._utils.io import DiskFullError
from deepfuse.training import checkpoint as ck
from deepfuse.training.callbacks.steplog import StepLog
from deepfuse.training.checkpoint import CheckpointManager


def _outside(tmp_path: Path) -> Path:
    """A folder outside the run holding what a careless link would expose."""
    out = tmp_path / "outside"
    (out / ".tmp-step-00000009-1").mkdir(parents=True)
    (out / ".tmp-step-00000009-1" / "keep.txt").write_text("keep")
    for step in (1, 2, 3):
        (out / f"step-{step:08d}").mkdir()
        (out / f"step-{step:08d}" / "keep.txt").write_text("keep")
    (out / "notes.csv").write_text("precious\n")
    return out


def _untouched(out: Path) -> None:
    assert (out / ".tmp-step-00000009-1" / "keep.txt").read_text() == "keep"
    for step in (1, 2, 3):
        assert (out / f"step-{step:08d}" / "keep.txt").read_text() == "keep"
    assert (out / "notes.csv").read_text() == "precious\n"


def _state(step: int) -> dict:
    return {"trainer": {"global_step": step}, "model": {"w": torch.full((2,), float(step))}}


# ------------------------------------------------------------------------- checkpoints/
def test_a_symlinked_checkpoint_folder_is_refused_and_nothing_outside_is_deleted(tmp_path):
    out = _outside(tmp_path)
    run = tmp_path / "run.partial"
    run.mkdir()
    os.symlink(out, run / "checkpoints")
    with pytest.raises(UserError, match="symbolic link or not a regular folder"):
        CheckpointManager(run / "checkpoints", keep=1)
    _untouched(out)


def test_links_inside_the_checkpoint_folder_are_removed_never_followed(tmp_path):
    out = _outside(tmp_path)
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    os.symlink(out / ".tmp-step-00000009-1", folder / ".tmp-step-00000007-5")
    os.symlink(out / "step-00000001", folder / "step-00000001")
    manager = CheckpointManager(folder, keep=1)
    assert not os.path.lexists(folder / ".tmp-step-00000007-5")  # the stale link itself is gone
    assert manager.checkpoints() == []  # a link is not a checkpoint
    for step in (1, 2, 3):  # step 1 replaces the link; pruning never reaches outside
        manager.save(_state(step))
    assert [p.name for p in manager.checkpoints()] == ["step-00000003"]
    assert not any(p.is_symlink() for p in folder.iterdir())
    _untouched(out)


def test_a_full_disk_while_checkpointing_keeps_the_earlier_checkpoints(tmp_path, monkeypatch):
    manager = CheckpointManager(tmp_path, keep=3)
    manager.save(_state(1))
    real = ck._write_new

    def full(path, data):
        if path.name == "state.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)

    monkeypatch.setattr(ck, "_write_new", full)
    with pytest.raises(DiskFullError, match=r"step-00000002': no space left on device"):
        manager.save(_state(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000001"]  # no .tmp-* left
    assert ck.load_checkpoint(manager.latest_valid())["model"]["w"].tolist() == [1.0, 1.0]


def test_checkpoint_files_hold_exactly_what_safetensors_writes(tmp_path):
    """The checkpoint serializes tensors itself (save_file drops write errors): same bytes."""
    from safetensors.torch import save_file

    path = CheckpointManager(tmp_path / "c").save(_state(4))
    save_file({"w": torch.full((2,), 4.0)}, str(tmp_path / "ref.safetensors"), {"format": "pt"})
    assert (path / "model.safetensors").read_bytes() == (tmp_path / "ref.safetensors").read_bytes()


# ----------------------------------------------------------------------------- steps.csv
def test_resume_refuses_a_symlinked_steps_csv_and_leaves_its_target_alone(tmp_path):
    out = _outside(tmp_path)
    os.symlink(out / "notes.csv", tmp_path / "steps.csv")
    log = StepLog(tmp_path / "steps.csv")
    with pytest.raises(UserError, match="symbolic link or not a regular file"):
        log.load_state_dict({"bytes": 3})  # the old code truncated the target to 3 bytes
    with pytest.raises(UserError, match="symbolic link or not a regular file"):
        log.on_train_begin({})  # ... and appended to it / truncated it on a fresh run
    _untouched(out)


def test_a_fifo_named_steps_csv_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "steps.csv")
    log = StepLog(tmp_path / "steps.csv")
    with pytest.raises(UserError, match="not a regular file"):
        log.on_train_begin({})


# ------------------------------------------------------------------ train --resume, end to end
CONFIG = """\
data:
  train: {csv}
  target: label
model:
  type: tabular
  hidden: [8]
trainer:
  epochs: 2
  batch_size: 32
  seed: 0
  verbose: 0
"""


@pytest.fixture
def interrupted_run(tmp_path, monkeypatch):
    """A .partial run whose training is done, stopped (Ctrl-C) while evaluating."""
    from deepfuse.api import training
    from deepfuse.api.tasks import supervised

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    lines = ["a,b,c,label"] + [f"{a:.4f},{b:.4f},{c:.4f},{int(a > b)}" for a, b, c in x]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    config = tmp_path / "t.yaml"
    config.write_text(textwrap.dedent(CONFIG.format(csv=tmp_path / "t.csv")))

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(supervised, "evaluate_model", interrupt)  # the default task evaluates
        with pytest.raises(KeyboardInterrupt):
            training.train(config, out_dir=tmp_path / "runs")
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.endswith(".partial") and (run / "steps.csv").is_file()
    return run


def test_train_resume_never_writes_or_deletes_through_links(interrupted_run, tmp_path):
    from deepfuse.api import train

    run, out = interrupted_run, _outside(tmp_path)
    steps = (run / "steps.csv").read_bytes()
    (run / "steps.csv").unlink()
    os.symlink(out / "notes.csv", run / "steps.csv")
    with pytest.raises(UserError, match=r"steps\.csv' is a symbolic link"):
        train(resume=run)
    _untouched(out)
    (run / "steps.csv").unlink()
    (run / "steps.csv").write_bytes(steps)
    real = run / "checkpoints.real"
    os.rename(run / "checkpoints", real)
    os.symlink(out, run / "checkpoints")
    with pytest.raises(UserError, match="checkpoints' is a symbolic link"):
        train(resume=run)
    _untouched(out)
    (run / "checkpoints").unlink()
    os.rename(real, run / "checkpoints")
    result = train(resume=run)  # the links gone, the run completes
    assert (result.run_dir / "metrics.json").is_file() and not (
        result.run_dir / "steps.csv"
    ).exists()


def test_a_full_disk_before_config_yaml_leaves_no_folder_and_says_run_again(
    interrupted_run, monkeypatch
):
    from deepfuse.api import training

    config = interrupted_run.parent.parent / "t.yaml"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[1]))

    monkeypatch.setattr(training, "dump_config", full)
    before = set((interrupted_run.parent).iterdir())
    with pytest.raises(DiskFullError, match=r"config.yaml': .*run `deepfuse train` again"):
        training.train(config, out_dir=interrupted_run.parent)
    assert set(interrupted_run.parent.iterdir()) == before  # nothing to resume: no folder left


def test_a_full_disk_while_saving_the_weights_is_a_disk_full_error(tmp_path, monkeypatch):
    """model.safetensors is written by Python (safetensors' save_file ignored ENOSPC and left
    a short file under the final name)."""
    from deepfuse._utils.safefiles import save_safetensors

    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(DiskFullError, match=r"model\.safetensors': no space left on device"):
        save_safetensors({"w": torch.ones(3)}, tmp_path / "model.safetensors")
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temp file


def test_a_checkpoint_file_that_is_a_link_is_never_read(tmp_path):
    """The read rule for --resume: a file inside a checkpoint that is a symlink (even to a file
    with the very bytes the manifest lists) or a FIFO makes the checkpoint invalid, unread."""
    from deepfuse._utils.errors import DataError
    from deepfuse.training.checkpoint import CheckpointManager, verify_checkpoint

    manager = CheckpointManager(tmp_path / "checkpoints")
    path = manager.save({"model": {"w": torch.ones(2)}, "step": 1}, step=1)
    verify_checkpoint(path)  # a sound checkpoint passes
    victim = next(p for p in path.iterdir() if p.suffix == ".safetensors")
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes(victim.read_bytes())  # the same bytes, outside the run
    victim.unlink()
    victim.symlink_to(outside)
    with pytest.raises(DataError, match="missing"):
        verify_checkpoint(path)
    victim.unlink()
    os.mkfifo(victim)
    with pytest.raises(DataError, match="FIFO"):
        verify_checkpoint(path)  # refused without opening (a FIFO would block)
