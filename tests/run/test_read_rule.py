"""The run contract's read rule (issue 11, findings 3 read side, 4 readers side, 8 model.json):
a run file is read only if it is a regular file inside the run and within its size limit,
checked before reading; a config of YAML aliases never expands in a reader."""

from __future__ import annotations

import json
import os
import time
import tracemalloc

import pytest
from test_reader import _checkpoint, _write_run  # tests/run is on sys.path (rootdir mode)

from deepfuse._utils.errors import DataError, UserError
from deepfuse._utils.safefiles import open_regular, read_regular, regular_file
from deepfuse.run import RunReader, check_run_dir
from deepfuse.run.files import MAX_BYTES, read_tail, state_history

BOMB = """\
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
trainer: {epochs: *h}
"""


def test_a_fifo_is_never_opened(tmp_path):
    """Regression (finding 5): opening a FIFO blocks until a writer comes; it is refused."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    started = time.monotonic()
    for call in (regular_file, open_regular, read_regular):
        with pytest.raises(DataError, match="is a FIFO"):
            call(fifo)
    assert time.monotonic() - started < 5


def test_sizes_are_checked_before_reading(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 101)
    with pytest.raises(DataError, match=r"has 101 bytes \(limit 100\)"):
        read_regular(path, limit=100)
    assert read_regular(path, limit=101) == b" " * 101


def test_a_fifo_in_a_run_is_refused_by_name(tmp_path):
    run = _write_run(tmp_path)
    (run / "metrics.json").unlink()
    os.mkfifo(run / "metrics.json")
    with pytest.raises(DataError, match=r"metrics\.json' is a FIFO"):
        RunReader(run).metrics()
    with pytest.raises(DataError, match="is a FIFO"):
        check_run_dir(run)  # evaluate / predict / info start here
    assert RunReader(run).file("metrics.json") is None


def test_a_fifo_in_a_checkpoint_does_not_hang(tmp_path):
    """Regression (finding 5): a FIFO state.json in a .partial run's checkpoint hung the reader."""
    run = tmp_path / "live-20260101-000000.partial"
    run.mkdir()
    _checkpoint(run, 2, [{"loss": 0.8}])
    folder = run / "checkpoints" / "step-00000004"
    folder.mkdir()
    os.mkfifo(folder / "state.json")
    (folder / "manifest.json").write_text('{"files": {"state.json": {"size": 0}}}')
    other = run / "checkpoints" / "step-00000006"
    other.mkdir()
    (other / "state.json").write_text("{}")
    os.mkfifo(other / "manifest.json")
    started = time.monotonic()
    assert state_history(folder) is None and state_history(other) is None
    assert RunReader(run).checkpoint_history() == [{"loss": 0.8}]  # the older valid one
    assert time.monotonic() - started < 5


def test_a_checkpoints_folder_linked_out_of_the_run_is_not_read(tmp_path):
    """Regression (finding 3, read side): no file outside the run is read through a link."""
    outside = tmp_path / "elsewhere"
    _checkpoint(outside, 2, [{"loss": 0.1}])
    run = tmp_path / "runs" / "x-20260101-000000.partial"
    run.mkdir(parents=True)
    (run / "checkpoints").mkdir()
    os.symlink(outside / "checkpoints" / "step-00000002", run / "checkpoints" / "step-00000002")
    assert state_history(run / "checkpoints" / "step-00000002") is None
    (run / "steps.csv").symlink_to(outside / "checkpoints" / "step-00000002" / "state.json")
    assert RunReader(run).steps() == [] and RunReader(run).file("steps.csv") is None


def test_a_symlink_inside_the_run_is_still_read(tmp_path):
    run = _write_run(tmp_path)
    (run / "copy.json").write_text((run / "metrics.json").read_text())
    (run / "metrics.json").unlink()
    (run / "metrics.json").symlink_to("copy.json")
    assert RunReader(run).metrics()["epochs"] == 2


def test_an_oversized_model_json_is_refused_without_parsing(tmp_path, monkeypatch):
    """Regression (finding 8): a 60 MB model.json took 1.7 GB to refuse. It is refused by its
    size before a byte is read (the limit scaled down here to keep the test small)."""
    import deepfuse.run.files as files
    from deepfuse.models.serialization import read_meta

    monkeypatch.setitem(files.MAX_BYTES, "model.json", 1_000_000)
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"format": "deepfuse.model", "pad": [0] * 600_000}))
    assert path.stat().st_size > 1_000_000
    tracemalloc.start()
    with pytest.raises(DataError, match=r"model file .* has \d+ bytes \(limit 1000000\)"):
        read_meta(tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200_000  # nothing was read, let alone parsed
    assert MAX_BYTES["model.json"] < 60_000_000 <= 256_000_000  # the real limit refuses 60 MB


def test_a_config_of_aliases_is_refused_by_the_reader(tmp_path):
    """Regression (finding 4, readers): info and the dashboard expanded the alias bomb."""
    run = _write_run(tmp_path)
    (run / "config.yaml").write_text(BOMB)
    started = time.monotonic()
    with pytest.raises(UserError, match="expands to more than"):
        RunReader(run).config()
    with pytest.raises(UserError, match="expands to more than"):
        RunReader(run).info()  # what 'deepfuse info' prints
    assert time.monotonic() - started < 5


def test_deep_json_is_a_data_error(tmp_path):
    run = _write_run(tmp_path)
    (run / "metrics.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataError, match=r"metrics\.json"):
        RunReader(run).metrics()


def test_read_tail_reads_only_the_new_bytes(tmp_path):
    path = tmp_path / "steps.csv"
    path.write_text("epoch,step,global_step,loss,lr\n" + "1,1,1,0.5,0.1\n" * 5)
    _, rows, end, more = read_tail(path, complete_only=True, max_rows=2)
    assert len(rows) == 2 and more
    _, rows, end, more = read_tail(path, end, complete_only=True)
    assert len(rows) == 3 and not more and end == path.stat().st_size
    with open(path, "a") as fh:
        fh.write("1,2,2,0.4,0.1\n1,3,3,0.")
    _, rows, new_end, more = read_tail(path, end, complete_only=True)
    assert [r["global_step"] for r in rows] == ["2"] and new_end == end + 14 and not more
    path.write_text("epoch,step,global_step,loss,lr\n")  # cut back by a resume
    with pytest.raises(ValueError, match="past the end"):
        read_tail(path, new_end, complete_only=True)


def test_plot_refuses_non_integer_confusion_counts_in_one_line(tmp_path, capsys):
    """Regression (finding 5's counts, plot side): the counts went to matplotlib as they were."""
    from deepfuse.cli.main import main
    from deepfuse.run.files import confusion_counts

    run = _write_run(tmp_path)
    cm = {"labels": [0, 1], "counts": [["a", 1], [0, 1.5]]}
    (run / "evaluation.json").write_text(json.dumps({"confusion_matrix": cm}))
    assert main(["plot", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a square table of counts" in err
    assert confusion_counts([[1, 2.0], [0, 3]]) == [[1, 2], [0, 3]]
    assert confusion_counts([[1, -1], [0, 3]]) is None and confusion_counts("x") is None


def test_info_of_a_run_with_an_alias_bomb_is_one_line(tmp_path, capsys):
    """Regression (finding 4): 'deepfuse info' hung with growing memory on such a run."""
    from deepfuse.cli.main import main

    run = _write_run(tmp_path)
    (run / "config.yaml").write_text(BOMB)
    started = time.monotonic()
    assert main(["info", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expands to more than" in err
    assert time.monotonic() - started < 10


def test_resume_reads_the_config_through_the_read_rule(tmp_path):
    """--resume read config.yaml by name: a link out of the run was followed."""
    from deepfuse.api import train
    from deepfuse.config import dump_config

    outside = tmp_path / "elsewhere.yaml"
    dump_config({"name": "stolen", "data": {"dataset": "mnist"}}, outside)
    run = tmp_path / "runs" / "demo-20260101-000000.partial"
    run.mkdir(parents=True)
    (run / "config.yaml").symlink_to(outside)
    with pytest.raises(DataError, match=r"has no config\.yaml"):
        train(resume=run)
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]  # nothing written


def test_report_shows_non_integer_confusion_counts_as_one_failed_part(tmp_path):
    """The report drew evaluation.json's counts as they were; now that part says why it failed."""
    from deepfuse.report.context import ReportWarning, RunFacts
    from deepfuse.report.sections import _evaluation

    run = _write_run(tmp_path)
    cm = {"labels": [0, 1], "counts": [["a", 1], [0, 1.5]]}
    (run / "evaluation.json").write_text(json.dumps({"n": 3, "confusion_matrix": cm}))
    with pytest.warns(ReportWarning, match="not a square table of counts"):
        html = _evaluation(RunFacts(run, {}))
    assert "not a square table of counts" in html
