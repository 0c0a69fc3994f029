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
from deepfuse.run.writer import all_written, open_run_file, remove_run_entry, run_folder


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


# ------------------------------------------------------------ finishing protocol (issue 11)
def test_finishing_deletes_steps_csv_only_with_the_rename(tmp_path):
    partial = new_run_dir(tmp_path, "demo")
    (partial / "steps.csv").write_text("epoch,step,global_step,loss,lr\n")
    assert not all_written(partial)
    (partial / "metrics.json").write_text("{}")
    assert all_written(partial)  # --resume now only renames
    final = finish_run_dir(partial)
    assert not (final / "steps.csv").exists() and (final / "metrics.json").is_file()
    again = new_run_dir(tmp_path, "demo")  # killed after steps.csv went, before the rename
    (again / "metrics.json").write_text("{}")
    assert finish_run_dir(again).is_dir()


def test_a_metrics_json_symlink_does_not_mark_a_run_written(tmp_path):
    partial = new_run_dir(tmp_path, "demo")
    (tmp_path / "m.json").write_text("{}")
    os.symlink(tmp_path / "m.json", partial / "metrics.json")
    assert not all_written(partial)


# ------------------------------------------------------------ no symlink followed (issue 11)
def test_run_folder_refuses_links_and_files(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, tmp_path / "checkpoints")
    (tmp_path / "file").write_text("x")
    for name in ("checkpoints", "file"):
        with pytest.raises(UserError, match="not a regular folder"):
            run_folder(tmp_path / name)
    assert run_folder(tmp_path / "a" / "b").is_dir()
    assert run_folder(tmp_path / "a" / "b").is_dir()  # an existing real folder is fine


def test_open_run_file_refuses_links_fifos_and_hard_links_for_writing(tmp_path):
    target = tmp_path / "target.csv"
    target.write_text("precious\n")
    os.symlink(target, tmp_path / "link.csv")
    os.link(target, tmp_path / "hard.csv")
    os.mkfifo(tmp_path / "fifo.csv")
    for name, mode in [("link.csv", "a"), ("link.csv", "w"), ("link.csv", "r+"),
                       ("link.csv", "r"), ("hard.csv", "a"), ("hard.csv", "w"),
                       ("fifo.csv", "w"), ("fifo.csv", "r")]:  # fmt: skip
        with pytest.raises(UserError, match="not a regular file"):
            open_run_file(tmp_path / name, mode)
    assert target.read_text() == "precious\n"  # not even truncated by a refused "w"
    with open_run_file(tmp_path / "new.csv", "w") as fh:
        fh.write("a\n")
    with open_run_file(tmp_path / "new.csv", "a") as fh:
        fh.write("b\n")
    with open_run_file(tmp_path / "new.csv", "r+", binary=True) as fh:
        fh.truncate(2)
    assert (tmp_path / "new.csv").read_text() == "a\n"


def test_remove_run_entry_removes_links_never_their_targets(tmp_path):
    outside = tmp_path / "outside"
    (outside / "step-00000001").mkdir(parents=True)
    (outside / "keep.txt").write_text("keep")
    run = tmp_path / "run"
    (run / "checkpoints" / "step-00000002").mkdir(parents=True)
    os.symlink(outside, run / "checkpoints" / "step-00000002" / "inner")  # a link inside
    os.symlink(outside, run / "linked")
    os.symlink(outside / "keep.txt", run / "steps.csv")
    for name in ("linked", "steps.csv", "checkpoints", "missing"):
        remove_run_entry(run / name)
    assert sorted(p.name for p in run.iterdir()) == []
    assert (outside / "keep.txt").read_text() == "keep" and (outside / "step-00000001").is_dir()


def test_history_csv_refuses_a_symlinked_steps_csv(tmp_path):
    (tmp_path / "elsewhere.csv").write_text("epoch,step,global_step,loss,lr\n1,1,1,0.5,0.1\n")
    os.symlink(tmp_path / "elsewhere.csv", tmp_path / "steps.csv")
    with pytest.raises(UserError, match="symbolic link"):
        history_csv({"loss": [0.5]}, tmp_path / "h.csv", steps=tmp_path / "steps.csv")


def test_resume_messages_say_what_is_missing(tmp_path):
    """Regression (issue 11, finding 9): an empty folder was reported as "it is not a folder"."""
    from deepfuse._utils.errors import UserError
    from deepfuse.run import resumable_run

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"it is a folder but not a run in progress") as info:
        resumable_run(empty)
    assert "not a folder" not in str(info.value)
    with pytest.raises(UserError, match=r"no such folder \(and no '.*missing\.partial' beside"):
        resumable_run(tmp_path / "missing")
    partial = tmp_path / "run.partial"
    partial.mkdir()
    with pytest.raises(UserError, match=r"has no config\.yaml"):
        resumable_run(partial)
