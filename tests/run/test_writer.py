"""The atomic run writer: a run appears under its final name complete, or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from deepfuse._utils.errors import UserError
from deepfuse.run import (
    PARTIAL_SUFFIX,
    RunWriter,
    finish_run_dir,
    history_csv,
    new_run_dir,
    read_run,
    resumable_run,
)


def test_runs_never_overwrite_each_other(tmp_path):
    made = []
    for _ in range(3):
        writer = RunWriter(tmp_path, "same")
        with writer as tmp:
            (tmp / "metrics.json").write_text("{}")
        made.append(writer.run_dir)
    assert len(set(made)) == 3 and all((p / "metrics.json").exists() for p in made)


def test_a_failure_inside_the_writer_leaves_no_folder(tmp_path):
    with pytest.raises(RuntimeError, match="boom"), RunWriter(tmp_path, "demo") as tmp:
        (tmp / "config.yaml").write_text("name: demo\n")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_the_writer_renames_a_complete_folder_with_usual_permissions(tmp_path):
    writer = RunWriter(tmp_path, "demo")
    with writer as tmp:
        assert tmp.name.startswith(".tmp-demo-")  # hidden while written
        (tmp / "metrics.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == [writer.run_dir.name]
    assert writer.run_dir.name.startswith("demo-") and not writer.run_dir.name.startswith(".")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(writer.run_dir.stat().st_mode) == 0o777 & ~umask  # not mkdtemp's 0700


def test_a_resumable_run_is_partial_until_finished(tmp_path):
    partial = new_run_dir(tmp_path, "demo")
    assert partial.name.endswith(PARTIAL_SUFFIX) and partial.is_dir()
    (partial / "config.yaml").write_text("name: demo\n")
    assert resumable_run(partial) == partial
    assert resumable_run(str(partial)[: -len(PARTIAL_SUFFIX)]) == partial  # name without suffix
    with pytest.raises(UserError, match="unfinished run"):
        read_run(partial)
    final = finish_run_dir(partial)
    assert final.name == partial.name[: -len(PARTIAL_SUFFIX)]
    assert not partial.exists() and (final / "config.yaml").is_file()
    assert finish_run_dir(final) == final  # already finished: nothing to do


def test_finishing_never_overwrites_a_run(tmp_path):
    partial = new_run_dir(tmp_path, "demo")
    final = partial.with_name(partial.name[: -len(PARTIAL_SUFFIX)])
    final.mkdir()  # an (empty) folder took the name: os.rename would silently replace it
    with pytest.raises(UserError, match="already exists"):
        finish_run_dir(partial)
    assert partial.is_dir()


def test_two_runs_in_the_same_second_get_different_names(tmp_path):
    first, second = new_run_dir(tmp_path, "demo"), new_run_dir(tmp_path, "demo")
    assert first != second
    finish_run_dir(first)
    third = new_run_dir(tmp_path, "demo")  # the finished name is taken too
    assert len({first.name, second.name, third.name}) == 3


def test_resume_refuses_a_finished_run_and_a_foreign_folder(tmp_path):
    run = tmp_path / "done"
    run.mkdir()
    (run / "metrics.json").write_text("{}")
    with pytest.raises(UserError, match="already finished"):
        resumable_run(run)
    foreign = tmp_path / "x.partial"
    foreign.mkdir()
    with pytest.raises(UserError, match=r"no config\.yaml"):
        resumable_run(foreign)


def test_the_runs_folder_must_be_creatable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match="Cannot create the runs folder"):
        new_run_dir(blocker / "runs", "demo")
    with pytest.raises(UserError, match="Cannot create the runs folder"):
        RunWriter(blocker / "runs", "demo").__enter__()


def test_history_csv_one_row_per_epoch(tmp_path):
    history_csv({"loss": [0.5, 0.25], "val_loss": [0.6]}, tmp_path / "h.csv")
    assert (tmp_path / "h.csv").read_text() == "epoch,loss,val_loss\n1,0.5,0.6\n2,0.25,\n"
