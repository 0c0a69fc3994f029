"""The dashboard's FastAPI application: read-only pages and a JSON API over one runs folder.

Routes (all ``GET``; any other method gets 405):

- ``/``: the runs table; ``/runs/{name}``: one run; ``/runs/{name}/report``: its report.html;
  ``/runs/{name}/samples/epoch-XXXX.png``: a generator run's sample grid of one epoch;
  ``/compare?runs=a,b``: several runs side by side; ``/static/{file}``: the CSS and JS.
- ``/api/runs``, ``/api/runs/{name}``, ``/api/runs/{name}/live?offset=N&cursor=C`` (the step
  rows after the cursor of the previous answer: only new bytes of the log are read).

A run whose files cannot be read is listed with the reason (``error``); a request that fails
answers 4xx/5xx on its own and the server keeps serving.

Run names are looked up among the runs folder's direct children (:func:`deepfuse.ui.runs.find_run`);
a name that is not one of them is 404, a malformed one (``..``, ``/``, hidden) 400. Every answer
carries a strict Content-Security-Policy (the report gets one without any script), ``nosniff``,
no-referrer, and a Host check against DNS rebinding.

Example:
    >>> import tempfile
    >>> from fastapi.testclient import TestClient
    >>> client = TestClient(create_app(tempfile.mkdtemp()), base_url="http://127.0.0.1")
    >>> client.get("/api/runs").json(), client.post("/api/runs").status_code
    ([], 405)
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from deepfuse._utils.errors import UserError
from deepfuse._utils.optional import require
from deepfuse._utils.safefiles import read_regular
from deepfuse.report.generative import GRID_NAME, MAX_GRID_BYTES
from deepfuse.run import REPORT_FILE, SAMPLES_DIR, RunReader
from deepfuse.run.files import limit_of
from deepfuse.ui import pages
from deepfuse.ui.runs import config_diff, find_run, list_runs, live_data, run_detail, safe_name

__all__ = ["LOOPBACK_HOSTS", "create_app"]

#: Host headers accepted by default: a page on another site cannot reach the API through DNS
#: rebinding, since its requests carry that site's host name.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")

PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
#: The report is shown in a sandboxed frame of the run page: no script at all, nothing fetched
#: but its own inline images and styles.
REPORT_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; font-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"
)
_STATIC = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}
_READ_METHODS = ("GET", "HEAD")


def create_app(
    runs_dir: str | os.PathLike,
    *,
    allowed_hosts: list[str] | tuple[str, ...] | None = LOOPBACK_HOSTS,
    poll_ms: int = 1500,
) -> Any:
    """The dashboard app over ``runs_dir`` (needs ``pip install 'deepfuse[ui]'``).

    Args:
        runs_dir: The folder whose direct children are run directories.
        allowed_hosts: Accepted ``Host`` header names; ``None`` accepts any (only for a server
            deliberately exposed beyond this machine).
        poll_ms: How often a live run's page asks for new rows, in milliseconds.

    Returns:
        A ``fastapi.FastAPI`` application (serve it with :func:`deepfuse.ui.serve`).
    """
    fastapi = require("fastapi", extra="ui", purpose="deepfuse ui")
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    root = Path(runs_dir)
    app = fastapi.FastAPI(
        title="deepfuse dashboard", docs_url=None, redoc_url=None, openapi_url=None
    )

    @app.middleware("http")
    async def read_only_and_headers(request: Any, call_next: Any) -> Any:
        if request.method not in _READ_METHODS:
            response = JSONResponse(
                {"detail": "The dashboard is read-only: only GET is allowed."},
                status_code=405,
                headers={"Allow": "GET, HEAD"},
            )
        else:
            response = await call_next(request)
        parts = request.url.path.split("/")  # /runs/{name}/report -> ["", "runs", name, "report"]
        report = len(parts) == 4 and parts[1] == "runs" and parts[3] == "report"
        response.headers["Content-Security-Policy"] = REPORT_CSP if report else PAGE_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "SAMEORIGIN" if report else "DENY"
        response.headers["Cache-Control"] = "no-store"
        return response

    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))

    def get(path: str, **options: Any) -> Any:
        """A read route: GET, and HEAD for clients that check a page exists."""
        return app.api_route(path, methods=["GET", "HEAD"], **options)

    def lookup(name: str) -> RunReader:
        if not safe_name(name):
            raise fastapi.HTTPException(400, f"'{name}' is not a run name.")
        run = find_run(root, name)
        if run is None:
            raise fastapi.HTTPException(404, f"No run named '{name}' in {root}.")
        return run

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Any, exc: Any) -> Any:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return HTMLResponse(pages.error_page(exc.status_code, exc.detail), exc.status_code)

    # ------------------------------------------------------------------------- JSON API
    @get("/api/runs")
    def api_runs() -> Any:
        return list_runs(root)

    @get("/api/runs/{name}")
    def api_run(name: str) -> Any:
        return run_detail(lookup(name))

    @get("/api/runs/{name}/live")
    def api_live(
        name: str,
        offset: int = fastapi.Query(0, ge=0, le=2**53),
        cursor: str | None = fastapi.Query(None, max_length=40, pattern=r"^[a-z]+:\d{1,15}$"),
    ) -> Any:
        return live_data(lookup(name), offset, cursor)

    # ------------------------------------------------------------------------- pages
    @get("/", response_class=HTMLResponse)
    def index() -> Any:
        return pages.runs_page(list_runs(root), runs_dir=str(root))

    @get("/runs/{name}", response_class=HTMLResponse)
    def run_view(name: str) -> Any:
        return pages.run_page(run_detail(lookup(name)), poll_ms=poll_ms)

    @get("/runs/{name}/report", response_class=HTMLResponse)
    def report(name: str) -> Any:
        run = lookup(name)
        path = run.file(REPORT_FILE)  # the read rule: a regular file inside the run, <= 64 MB
        if path is None:
            return HTMLResponse(pages.no_report_page(run.name))
        try:
            body = read_regular(path, limit=limit_of(REPORT_FILE), root=run.path, what="run file")
        except (OSError, UserError) as exc:
            raise fastapi.HTTPException(404, f"The report of '{run.name}' cannot be read.") from exc
        return HTMLResponse(body)

    @get("/runs/{name}/samples/{file}")
    def sample_grid(name: str, file: str) -> Any:
        run = lookup(name)
        # only a grid name of the layout, and only the run's own regular file (the read rule)
        path = run.file(f"{SAMPLES_DIR}/{file}") if GRID_NAME.match(file) else None
        if path is None:
            raise fastapi.HTTPException(404, f"No sample grid '{file}' in '{run.name}'.")
        try:
            body = read_regular(path, limit=MAX_GRID_BYTES, root=run.path, what="sample grid")
        except (OSError, UserError) as exc:
            raise fastapi.HTTPException(404, f"The grid '{file}' cannot be read.") from exc
        return Response(body, media_type="image/png")

    @get("/compare", response_class=HTMLResponse)
    def compare(runs: list[str] = fastapi.Query(default=[])) -> Any:  # noqa: B008 - FastAPI idiom
        names = [n.strip() for item in runs for n in item.split(",") if n.strip()]
        chosen = [lookup(n) for n in dict.fromkeys(names)]
        details = [run_detail(run) for run in chosen]
        diff = config_diff({d["name"]: d["config"] for d in details})
        everything = [r["name"] for r in list_runs(root)]
        return pages.compare_page(details, diff, all_runs=everything)

    @get("/static/{file}")
    def static(file: str) -> Any:
        if file not in _STATIC:  # a fixed list: nothing else of the package is served
            raise fastapi.HTTPException(404, "No such file.")
        body = resources.files("deepfuse.ui").joinpath("static", file).read_bytes()
        return Response(body, media_type=_STATIC[file])

    return app
