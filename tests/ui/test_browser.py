"""The dashboard in real headless Chromium (Debian's ``chromium``, driven by Playwright).

One server (uvicorn in a thread, on a free 127.0.0.1 port) over two finished runs, one run in
progress and a run written by the real trainer. The live test appends rows to the partial run's
``steps.csv`` and adds a checkpoint, as ``StepLog`` and the trainer do, rather than training in a
subprocess: on a loaded 2-core machine a real run's pace is not predictable, file writes are.
"""

from __future__ import annotations

import importlib.util
import shutil
import time
from urllib.parse import urlparse

import pytest

from deepfuse.ui import BackgroundServer

from .conftest import append_steps, epoch_values, write_checkpoint, write_run

ALPHA, BETA, GAMMA = "alpha-20260101-100000", "beta-20260102-100000", "gamma-20260103-100000"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 15_000  # generous: the machine is shared and slow


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip(reason="no 'chromium' on PATH (Debian: apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(reason="playwright is not installed (pip install 'deepfuse[dev]')")
    executable = _chromium()
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Exception as exc:  # a broken or incompatible browser build
            pytest.skip(reason=f"cannot start {executable}: {str(exc).splitlines()[0]}")
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory, real_run):
    """The runs folder and the server's base URL."""
    from .conftest import write_partial

    root = tmp_path_factory.mktemp("browser") / "runs"
    write_run(root, ALPHA, lr=0.001, accuracy=0.91, quality=1.0)
    write_run(
        root, BETA, lr=0.01, accuracy=0.95, quality=2.0, counts=[[10, 0, 0], [1, 8, 1], [0, 1, 9]]
    )
    write_partial(root, GAMMA)
    shutil.copytree(real_run.run_dir, root / real_run.run_dir.name)
    with BackgroundServer(root, poll_ms=300) as server:
        yield root, server.url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert not errors, errors  # no script error, no CSP violation


def _order(page) -> list[str]:
    return page.eval_on_selector_all("#runs tbody tr", "rows => rows.map(r => r.dataset.run)")


def _points(page, selector: str) -> list[int]:
    """The number of plotted points of each series in ``selector``'s chart."""
    return page.eval_on_selector_all(
        f"{selector} polyline.series",
        "lines => lines.map(l => l.getAttribute('points').trim().split(/\\s+/).length)",
    )


def _wait_until(page, condition, timeout_s: float = TIMEOUT_MS / 1000) -> None:
    """Poll ``condition`` from Python (page.wait_for_function evaluates a string, which the
    dashboard's Content-Security-Policy rightly forbids)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the page did not update in time")
        page.wait_for_timeout(100)


def test_runs_list_sorts_by_a_metric_column(page, site):
    _, url = site
    page.goto(url + "/")
    assert len(_order(page)) == 4 and GAMMA in _order(page)
    header = page.locator("#runs thead th[data-key='test.accuracy']")
    header.click()
    values = page.eval_on_selector_all(
        "#runs tbody tr",
        """rows => {
            const heads = Array.from(document.querySelectorAll('#runs thead th'));
            const i = heads.findIndex(th => th.dataset.key === 'test.accuracy');
            return rows.map(r => r.cells[i].dataset.value);
        }""",
    )
    numbers = [float(v) for v in values if v]
    assert numbers == sorted(numbers) and values[-1] == ""  # ascending, the live run last
    assert _order(page).index(ALPHA) < _order(page).index(BETA)
    header.click()
    assert _order(page).index(BETA) < _order(page).index(ALPHA)
    assert _order(page)[-1] == GAMMA
    assert header.get_attribute("aria-sort") == "descending"


def test_run_page_shows_curves_and_confusion_matrix(page, site):
    _, url = site
    page.goto(url + "/")
    page.click(f"a[href='/runs/{ALPHA}']")
    page.wait_for_selector("[data-chart=steps] polyline.series")
    assert _points(page, "[data-chart=steps]") == [12]  # 3 epochs x 4 steps
    assert _points(page, "[data-chart=epoch-accuracy]") == [3, 3]  # train and validation
    cells = page.eval_on_selector_all("#confusion td.cell", "tds => tds.map(t => +t.textContent)")
    assert cells == [9, 1, 0, 2, 7, 1, 0, 0, 10]
    assert page.locator(".badge").first.inner_text() == "finished"


def test_compare_two_runs(page, site):
    _, url = site
    page.goto(url + "/")
    page.check(f"input[value='{ALPHA}']")
    page.check(f"input[value='{BETA}']")
    page.click("#compare-btn")
    page.wait_for_url("**/compare?**")
    page.wait_for_selector("[data-chart=epoch-val_accuracy] polyline.series")
    labels = page.eval_on_selector_all(
        "[data-chart=epoch-val_accuracy] polyline.series", "ls => ls.map(l => l.dataset.label)"
    )
    assert sorted(labels) == [ALPHA, BETA]
    assert (
        len(
            set(
                page.eval_on_selector_all(
                    "[data-chart=steps] polyline.series",
                    "ls => ls.map(l => l.getAttribute('stroke'))",
                )
            )
        )
        == 2
    )  # one colour per run
    diff = page.locator("#config-diff")
    assert "trainer.optimizer.lr" in diff.inner_text() and "0.01" in diff.inner_text()
    assert "trainer.batch_size" not in diff.inner_text()


def test_live_run_page_updates_then_shows_the_finished_run(page, site):
    root, url = site
    run = root / f"{GAMMA}.partial"
    page.goto(f"{url}/runs/{GAMMA}")
    page.wait_for_selector("[data-chart=steps] polyline.series")
    assert _points(page, "[data-chart=steps]") == [6]
    assert _points(page, "[data-chart=epoch-accuracy]") == [1, 1]
    append_steps(run, start=6, count=4)  # steps 7-10; epoch 2 ends at step 8
    write_checkpoint(run, 8, [epoch_values(1, 1.0), epoch_values(2, 1.0)])
    _wait_until(page, lambda: _points(page, "[data-chart=steps]") == [10])
    assert _points(page, "[data-chart=steps]") == [10]
    assert _points(page, "[data-chart=epoch-accuracy]") == [2, 2]
    assert "step 10" in page.inner_text("#live-note")
    # the run finishes: the folder is renamed; the page notices and reloads with the results
    shutil.rmtree(run)
    write_run(root, GAMMA, epochs=5)
    page.wait_for_selector("#confusion")
    assert page.locator(".badge").first.inner_text() == "finished"


def test_report_renders_without_javascript_or_network(browser, site, real_run):
    root, url = site
    name = real_run.run_dir.name
    if importlib.util.find_spec("deepfuse.report") is not None:
        assert (root / name / "report.html").is_file(), "train wrote no report.html"
    else:  # before deepfuse.report existed: a small self-contained page of the same kind
        (root / name / "report.html").write_text(
            "<!doctype html><html><head><meta charset='utf-8'><title>report</title>"
            "<style>h1{color:#123}</style></head><body><h1>Report</h1><svg width='40' "
            "height='20'><rect width='40' height='20'/></svg><img alt='curve' src='data:image/"
            "png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgG"
            "AWjR9awAAAABJRU5ErkJggg=='></body></html>"
        )
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    requests: list[str] = []
    blocked: list[str] = []

    def only_local(route):
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    response = page.goto(f"{url}/runs/{name}/report")
    assert response.status == 200
    page.wait_for_load_state("load")
    assert page.locator("h1").count() >= 1 and page.locator("h1").first.inner_text().strip()
    assert page.locator("svg, img").count() >= 1
    broken = page.eval_on_selector_all(
        "img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0).length"
    )
    assert broken == 0  # every image is embedded and decodes
    # the run page embeds it in a sandboxed frame, also without JavaScript
    page.goto(f"{url}/runs/{name}")
    frame = page.frame_locator("iframe.report")
    assert frame.locator("h1").first.inner_text().strip()
    context.close()
    assert not blocked, blocked
    assert requests and all(urlparse(u).hostname == "127.0.0.1" for u in requests), requests
