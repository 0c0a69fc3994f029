"""The dashboard's JSON API and pages through FastAPI's TestClient: data, sorting, live rows,
read-only, and refusal of every path outside the runs folder."""

from __future__ import annotations

import os
import time

import pytest

from deepfuse.cli.main import main
from deepfuse.ui import create_app
from deepfuse.ui.runs import find_run

from .conftest import TestClient, append_steps, write_checkpoint, write_run

ALPHA, BETA, GAMMA = "alpha-20260101-100000", "beta-20260102-100000", "gamma-20260103-100000"


@pytest.fixture
def client(runs_dir):
    # TestClient sends Host: testserver; the loopback-only Host check has its own test below.
    return TestClient(create_app(runs_dir, allowed_hosts=None))


def test_runs_list_has_status_and_flat_metrics(client):
    runs = client.get("/api/runs").json()
    assert [r["name"] for r in runs] == [GAMMA, BETA, ALPHA]  # newest first
    by_name = {r["name"]: r for r in runs}
    assert by_name[ALPHA]["status"] == "finished" and by_name[GAMMA]["status"] == "in progress"
    assert by_name[ALPHA]["metrics"]["test.accuracy"] == 0.91
    assert by_name[BETA]["metrics"]["test.accuracy"] == 0.95
    assert by_name[BETA]["metrics"]["final_epoch.val_accuracy"] == pytest.approx(0.99)
    assert by_name[ALPHA]["task"] == "multiclass" and by_name[ALPHA]["epochs"] == 3
    assert by_name[ALPHA]["started"] == "2026-01-01 10:00:00"
    # the partial run: one finished epoch (from its checkpoint) of the 5 planned, no metrics yet
    assert by_name[GAMMA]["epochs"] == 1 and by_name[GAMMA]["planned_epochs"] == 5
    assert by_name[GAMMA]["metrics"] == {}


def test_runs_page_is_a_sortable_table_with_one_column_per_metric(client):
    page = client.get("/").text
    assert 'id="runs"' in page and "sortable" in page
    for column in ("test.accuracy", "test.loss", "final_epoch.val_accuracy"):
        assert f'data-key="{column}"' in page
    assert 'data-value="0.95"' in page  # the sort keys are the raw numbers
    assert page.count('type="checkbox" name="runs"') == 3


def test_run_detail_has_config_history_and_evaluation(client):
    run = client.get(f"/api/runs/{ALPHA}").json()
    assert run["config"]["trainer"]["optimizer"]["lr"] == 0.001
    assert len(run["history"]["steps"]) == 12  # 3 epochs x 4 steps
    assert [e["val_accuracy"] for e in run["history"]["epochs"]] == pytest.approx(
        [0.55, 0.65, 0.75]
    )
    assert run["evaluation"]["confusion_matrix"]["counts"][1] == [2, 7, 1]
    assert run["report"] is False


def test_live_rows_after_an_offset_and_checkpoint_epochs(client, runs_dir):
    live = client.get(f"/api/runs/{GAMMA}/live").json()
    assert live["status"] == "in progress" and live["offset"] == 6
    assert [s["global_step"] for s in live["steps"]] == [1, 2, 3, 4, 5, 6]
    assert len(live["epochs"]) == 1 and live["epochs"][0]["val_accuracy"] == pytest.approx(0.55)
    run = runs_dir / f"{GAMMA}.partial"
    append_steps(run, start=6, count=3)
    with open(run / "steps.csv", "a") as fh:
        fh.write("3,2,10,0.4")  # a row being written: not shown until its newline is there
    newer = client.get(f"/api/runs/{GAMMA}/live", params={"offset": 6}).json()
    assert [s["global_step"] for s in newer["steps"]] == [7, 8, 9] and newer["offset"] == 9
    # a damaged newest checkpoint is skipped: the previous one's history is used
    bad = write_checkpoint(run, 8, [{"val_accuracy": 0.1}, {"val_accuracy": 0.2}])
    (bad / "state.json").write_text("{}")
    assert len(client.get(f"/api/runs/{GAMMA}/live").json()["epochs"]) == 1
    # the .partial suffix may be given too
    assert client.get(f"/api/runs/{GAMMA}.partial/live").status_code == 200


def test_finished_run_live_reads_history(client):
    live = client.get(f"/api/runs/{BETA}/live", params={"offset": 10}).json()
    assert live["status"] == "finished" and live["offset"] == 12
    assert [s["global_step"] for s in live["steps"]] == [11, 12]
    assert len(live["epochs"]) == 3


def test_pages_render_and_escape(client):
    run = client.get(f"/runs/{BETA}")
    assert run.status_code == 200 and 'id="confusion"' in run.text
    assert run.text.count('class="cell') == 9 and 'data-count="8"' in run.text
    assert f'src="/runs/{BETA}/report"' not in run.text  # no report.html: no frame
    report = client.get(f"/runs/{BETA}/report")
    assert report.status_code == 200 and "no <code>report.html</code>" in report.text
    live = client.get(f"/runs/{GAMMA}").text
    assert 'data-live="true"' in live
    compare = client.get("/compare", params={"runs": f"{ALPHA},{BETA}"}).text
    assert 'id="config-diff"' in compare and "trainer.optimizer.lr" in compare
    assert "model.layers.1.Dense.units" not in compare  # equal keys are not shown
    assert client.get("/compare", params=[("runs", ALPHA), ("runs", BETA)]).text == compare


def test_report_is_served_with_a_no_script_policy(client, runs_dir):
    write_run(runs_dir, "delta-20260104-100000", report="<html><body><h1>Report</h1></body></html>")
    response = client.get("/runs/delta-20260104-100000/report")
    assert "<h1>Report</h1>" in response.text
    csp = response.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "sandbox" in csp
    page = client.get("/runs/delta-20260104-100000")
    assert 'src="/runs/delta-20260104-100000/report" sandbox' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
@pytest.mark.parametrize("path", ["/", "/api/runs", f"/api/runs/{ALPHA}", "/nowhere"])
def test_read_only(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
    if path != "/nowhere":
        assert client.head(path).status_code == 200


@pytest.mark.parametrize(
    ("path", "codes"),
    [
        ("/api/runs/nope-20260101-000000", {404}),
        ("/runs/nope", {404}),
        ("/api/runs/%2e%2e", {400}),
        ("/api/runs/%2E%2E/live", {400}),
        ("/runs/%2e%2e/report", {400}),
        ("/api/runs/..%2F..%2Fetc", {400, 404}),
        ("/api/runs/%2Fetc%2Fpasswd", {400, 404}),
        ("/runs/..%5Cwindows", {400}),
        ("/api/runs/.hidden", {400}),
        ("/api/runs/a%00b", {400}),
        ("/runs/alpha-20260101-100000/../../etc/passwd", {404}),
        ("/static/..%2Fapp.py", {404}),
        ("/static/app.py", {404}),
        ("/compare?runs=alpha-20260101-100000,..", {400}),
    ],
)
def test_paths_outside_the_runs_folder_are_refused(client, path, codes):
    response = client.get(path)
    assert response.status_code in codes, (path, response.status_code)
    assert "root:" not in response.text


def test_symlinks_leaving_the_runs_folder_are_not_runs(client, runs_dir, tmp_path):
    outside = write_run(tmp_path / "elsewhere", "secret-20260101-000000")
    os.symlink(outside, runs_dir / "secret-20260101-000000")
    inside = write_run(runs_dir, "real-20260105-000000")
    os.symlink(inside, runs_dir / "alias-20260105-000000")
    names = [r["name"] for r in client.get("/api/runs").json()]
    assert "secret-20260101-000000" not in names and "alias-20260105-000000" in names
    assert client.get("/api/runs/secret-20260101-000000").status_code == 404
    # a file of a run that links out of it is not read either
    os.symlink(outside / "metrics.json", inside / "report.html")
    assert "no <code>report.html</code>" in client.get("/runs/real-20260105-000000/report").text
    assert find_run(runs_dir, "/etc") is None and find_run(runs_dir, str(outside)) is None


def test_only_loopback_host_names_by_default(runs_dir):
    client = TestClient(create_app(runs_dir), base_url="http://127.0.0.1:8765")
    assert client.get("/api/runs").status_code == 200
    rebinding = TestClient(create_app(runs_dir), base_url="http://evil.example:8765")
    assert rebinding.get("/api/runs").status_code == 400


def test_real_run_directory(real_run):
    """A run written by the real trainer reads back: steps, epochs, confusion matrix."""
    client = TestClient(create_app(real_run.run_dir.parent, allowed_hosts=None))
    (summary,) = client.get("/api/runs").json()
    assert summary["name"] == real_run.run_dir.name and summary["status"] == "finished"
    assert summary["metrics"]["test.accuracy"] == pytest.approx(
        real_run.metrics["test"]["accuracy"]
    )
    detail = client.get(f"/api/runs/{summary['name']}").json()
    assert len(detail["history"]["steps"]) == 8  # 240 rows / 60 per batch x 2 epochs
    assert len(detail["history"]["epochs"]) == 2 and "val_loss" in detail["history"]["epochs"][0]
    matrix = detail["evaluation"]["confusion_matrix"]["counts"]
    assert len(matrix) == 10 and sum(map(sum, matrix)) == detail["evaluation"]["n"]


def test_cli_ui_errors(tmp_path, capsys, monkeypatch):
    assert main(["ui", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    import deepfuse.ui.server as server

    def missing(module, **kwargs):
        from deepfuse._utils.errors import MissingDependencyError

        raise MissingDependencyError("Install it with: pip install 'deepfuse[ui]'")

    monkeypatch.setattr(server, "require", missing)
    assert main(["ui", str(tmp_path)]) == 2
    assert "pip install 'deepfuse[ui]'" in capsys.readouterr().err


def test_a_silent_run_in_progress_is_shown_stalled(client, runs_dir):
    partial = next(runs_dir.glob("*.partial"))
    live = {r["name"]: r for r in client.get("/api/runs").json()}[GAMMA]
    assert live["idle_s"] is not None and live["idle_s"] < 300
    assert "no update for" not in client.get("/").text
    old = time.time() - 3600  # nothing written for an hour: killed or hung
    for path in [partial, *partial.rglob("*")]:
        os.utime(path, (old, old))
    live = {r["name"]: r for r in client.get("/api/runs").json()}[GAMMA]
    assert live["idle_s"] >= 3599
    assert "no update for 60 min" in client.get("/").text
    finished = {r["name"]: r for r in client.get("/api/runs").json()}[ALPHA]
    assert finished["idle_s"] is None
