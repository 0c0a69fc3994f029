"""The dashboard survives a hostile run folder (issue 11, findings 4 and 5): a FIFO in a
checkpoint, a deeply nested metrics.json, non-integer confusion counts, a config of YAML aliases
and a huge steps.csv. Each such run is shown with what can be read (and the reason for the
rest); every other run keeps answering; a live poll reads only the new rows."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import pytest

import deepfuse.run.files as files
from deepfuse.ui import BackgroundServer, create_app

from .conftest import TestClient, write_partial, write_run
from .hostile import write_hostile_runs, write_steps

ALPHA, BETA, GAMMA = "alpha-20260101-100000", "beta-20260102-100000", "gamma-20260103-100000"


@pytest.fixture
def hostile(runs_dir):
    """The three normal runs of ``runs_dir`` plus one run of each hostile case."""
    return runs_dir, write_hostile_runs(runs_dir, huge_steps=60_000)


def _within(seconds, call):
    """``call()`` in a thread; fails (instead of hanging the suite) if it takes longer."""
    out: dict = {}
    thread = threading.Thread(target=lambda: out.setdefault("value", call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s (hangs)"
    return out["value"]


def test_a_fifo_in_a_checkpoint_hangs_nothing(hostile):
    """Regression: a FIFO state.json in a .partial run's checkpoint hung '/' and, once the
    server's threads were all stuck, every route."""
    root, names = hostile
    client = TestClient(create_app(root, allowed_hosts=None))
    for path in ("/", "/api/runs", f"/runs/{names['fifo']}", f"/api/runs/{names['fifo']}/live"):
        response = _within(20, lambda path=path: client.get(path))
        assert response.status_code == 200, path
    run = {r["name"]: r for r in client.get("/api/runs").json()}[names["fifo"]]
    assert run["epochs"] == 2  # the newest valid checkpoint (step 8), read past the FIFO one


def test_deep_metrics_json_is_one_unreadable_run(hostile):
    """Regression: a deeply nested metrics.json made '/' and '/api/runs' answer 500."""
    root, names = hostile
    client = TestClient(create_app(root, allowed_hosts=None), raise_server_exceptions=False)
    runs = client.get("/api/runs")
    assert runs.status_code == 200
    by_name = {r["name"]: r for r in runs.json()}
    assert {ALPHA, BETA, GAMMA} <= set(by_name)  # the others are listed
    assert by_name[ALPHA]["error"] is None and by_name[ALPHA]["metrics"]["test.accuracy"] == 0.91
    assert "metrics.json" in by_name[names["deep"]]["error"]
    page = client.get("/")
    assert page.status_code == 200 and "unreadable:" in page.text
    assert client.get(f"/runs/{names['deep']}").status_code == 200
    assert client.get(f"/api/runs/{names['deep']}").json()["metrics_json"] is None


def test_non_integer_confusion_counts_do_not_break_the_run_page(hostile):
    """Regression: counts such as "a" or 1.5 in evaluation.json made the run page answer 500."""
    root, names = hostile
    client = TestClient(create_app(root, allowed_hosts=None), raise_server_exceptions=False)
    page = client.get(f"/runs/{names['counts']}")
    assert page.status_code == 200 and 'id="confusion"' not in page.text
    assert "not a table of counts" in page.text
    detail = client.get(f"/api/runs/{names['counts']}").json()
    assert detail["evaluation"]["confusion_matrix"] is None
    assert detail["evaluation"]["metrics"]["accuracy"] == pytest.approx(0.9)
    good = write_run(root, "floats-20260109-000000", counts=[[3.0, 1], [0, 4]])  # whole floats
    assert good.exists()
    page = client.get("/runs/floats-20260109-000000")
    assert page.status_code == 200 and 'data-count="3"' in page.text


def test_a_config_of_aliases_is_bounded_on_every_page(hostile):
    """Regression: the run and compare pages of a run whose config.yaml is an alias bomb grew
    at about 100 MB/s until the machine ran out of memory."""
    root, names = hostile
    client = TestClient(create_app(root, allowed_hosts=None))
    bomb = names["bomb"]
    for path in (
        f"/runs/{bomb}",
        f"/api/runs/{bomb}",
        f"/compare?runs={bomb},{ALPHA}",
        "/",
        f"/api/runs/{bomb}/live",
    ):
        response = _within(20, lambda path=path: client.get(path))
        assert response.status_code == 200 and len(response.content) < 1_000_000, path
    detail = client.get(f"/api/runs/{bomb}").json()
    assert detail["config"] is None and "expands to more than" in detail["error"]


def test_a_live_poll_reads_only_the_new_rows(hostile, monkeypatch):
    """Regression: a 3-million-row steps.csv was re-read whole on every live poll (57 s each).
    A poll with the previous answer's cursor reads only the bytes after it; each answer has at
    most MAX_TAIL_ROWS rows."""
    root, names = hostile
    client = TestClient(create_app(root, allowed_hosts=None))
    url = f"/api/runs/{names['huge']}/live"
    steps = root / f"{names['huge']}.partial" / "steps.csv"
    size = steps.stat().st_size
    read = _count_bytes_read(monkeypatch)
    data = client.get(url).json()
    assert len(data["steps"]) == files.MAX_TAIL_ROWS and data["more"]
    assert read[0] <= files.MAX_TAIL_BYTES + 1_000 < size
    while data["more"]:  # catch up, page by page
        data = client.get(url, params={"offset": data["offset"], "cursor": data["cursor"]}).json()
    assert data["offset"] == 60_000 and data["steps"][-1]["global_step"] == 60_000
    write_steps(steps, 3, start=60_000)
    read[0] = 0
    newer = client.get(url, params={"offset": data["offset"], "cursor": data["cursor"]}).json()
    assert [s["global_step"] for s in newer["steps"]] == [60_001, 60_002, 60_003]
    assert read[0] < 1_000  # the header line and the three new rows, not the 1.6 MB before
    assert newer["offset"] == 60_003 and not newer["more"] and not newer["restart"]
    steps.write_text("epoch,step,global_step,loss,lr\n1,1,1,0.5,0.001\n")  # cut back (resume)
    again = client.get(url, params={"offset": newer["offset"], "cursor": newer["cursor"]}).json()
    assert again["restart"] and again["offset"] == 1 and again["steps"][0]["global_step"] == 1


def _count_bytes_read(monkeypatch):
    """Count the bytes the run reader reads through ``open_regular`` (files.read_tail's open)."""
    total = [0]
    real = files.open_regular

    class Counting:
        def __init__(self, fh):
            self._fh = fh

        def __getattr__(self, name):
            return getattr(self._fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._fh.close()

        def read(self, *args):
            data = self._fh.read(*args)
            total[0] += len(data)
            return data

        def readline(self, *args):
            data = self._fh.readline(*args)
            total[0] += len(data)
            return data

    monkeypatch.setattr(files, "open_regular", lambda *a, **k: Counting(real(*a, **k)))
    return total


def test_the_server_keeps_serving_under_load_with_hostile_runs(hostile):
    """A short version of bench/ui_hostile.py: a real server, every route of every run several
    times; the normal runs always answer 200, nothing answers later than the timeout, and the
    server's memory stays flat."""
    root, names = hostile
    normal = [ALPHA, BETA, GAMMA]
    paths = ["/", "/api/runs", "/compare?runs=" + ",".join(normal)]
    for name in [*normal, *names.values()]:
        paths += [f"/runs/{name}", f"/api/runs/{name}", f"/api/runs/{name}/live"]
    with BackgroundServer(root) as server:
        rss = [_rss_mb()]
        statuses = []
        for _ in range(3):
            for path in paths:
                try:
                    with urllib.request.urlopen(server.url + path, timeout=20) as response:
                        statuses.append((path, response.status))
                except urllib.error.HTTPError as exc:
                    statuses.append((path, exc.code))
            rss.append(_rss_mb())
    normal_paths = [p for p, _ in statuses if not any(n in p for n in names.values())]
    assert all(code == 200 for p, code in statuses if p in normal_paths), statuses
    assert all(code < 500 for _, code in statuses), statuses
    assert rss[-1] - rss[1] < 50, rss  # flat after the first round (caches filled)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        line = next(line for line in fh if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_polling_time_does_not_grow_with_the_log(tmp_path):
    """A poll at the end of a long log costs about what a poll of a short one costs."""
    from deepfuse.run import RunReader

    run = tmp_path / "long-20260101-000000.partial"
    run.mkdir()
    write_steps(run / "steps.csv", 200_000)
    reader = RunReader(run)
    started = time.perf_counter()
    full = reader.steps()
    full_s = time.perf_counter() - started
    cursor = f"steps:{(run / 'steps.csv').stat().st_size}"
    started = time.perf_counter()
    for _ in range(10):
        assert reader.steps_page(cursor)["steps"] == []
    tail_s = (time.perf_counter() - started) / 10
    assert len(full) == 200_000 and tail_s < full_s / 20, (tail_s, full_s)


@pytest.mark.parametrize("kind", ["fifo", "deep", "folder", "outside", "garbage", "empty"])
def test_any_run_file_replaced_by_something_hostile(tmp_path, kind):
    """Each file of a finished and of a live run, replaced by a FIFO, a folder, a link out of
    the run, garbage bytes, deep JSON or nothing (one run per file): every route answers below
    500, quickly, and the normal run is still listed with its metrics."""
    import os

    root = tmp_path / "runs"
    write_run(root, ALPHA)
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    names = ["config.yaml", "metrics.json", "history.csv", "evaluation.json", "report.html"]
    runs = []
    for i, name in enumerate([*names, "steps.csv"]):
        finished = write_run(root, f"f{i}-20260102-10000{i}", report="<p>r</p>")
        live = write_partial(root, f"p{i}-20260103-10000{i}")
        for run in (finished, live):
            path = run / name
            if path.exists():
                path.unlink()
            if kind == "fifo":
                os.mkfifo(path)
            elif kind == "folder":
                path.mkdir()
            elif kind == "outside":
                path.symlink_to(outside)
            else:
                text = {"garbage": "\xff\x00{[\n,,,\n", "deep": "[" * 50_000, "empty": ""}[kind]
                path.write_bytes(text.encode("latin-1"))
            runs.append(run.name.removesuffix(".partial"))
    client = TestClient(create_app(root, allowed_hosts=None), raise_server_exceptions=False)
    paths = ["/", "/api/runs", "/compare?runs=" + ",".join(runs)]
    for name in runs:
        paths += [f"/runs/{name}", f"/runs/{name}/report", f"/api/runs/{name}/live"]
    for path in paths:
        response = _within(20, lambda path=path: client.get(path))
        assert response.status_code < 500, (path, response.status_code, response.text[:300])
    listed = {r["name"]: r for r in client.get("/api/runs").json()}
    assert listed[ALPHA]["metrics"]["test.accuracy"] == 0.9 and listed[ALPHA]["error"] is None
