"""The dashboard under a bounded loopback load with hostile run folders among normal ones.

One command (from the repository root)::

    .venv/bin/python bench/ui_hostile.py            # ~500 requests, a few minutes at most
    .venv/bin/python bench/ui_hostile.py --requests 100 --huge-steps 300000   # quicker

It builds a runs folder in a temporary directory: 5 normal runs (files written directly in the
formats ``deepfuse train`` writes: tests/ui/conftest.py) and one run of each hostile case of
issue 11 (tests/ui/hostile.py: a config.yaml alias bomb, FIFOs in a ``.partial`` run's checkpoint,
a metrics.json nested 200,000 deep, non-integer confusion counts, a 3-million-row steps.csv).
It starts ``deepfuse ui`` on 127.0.0.1 in a subprocess, sends the requests round-robin over every
route of every run (each with a timeout, all within a total time cap), records each route's
status codes and latencies and the server's RSS (``/proc/PID/status``) every 25 requests, stops
the server and writes Markdown to ``bench/results/ui_hostile.md``.

What it shows: every normal run's pages keep answering 200, no request hangs, no answer is a
500, and the server's memory stays flat.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.ui.conftest / tests.ui.hostile: the run file formats

from bench.machine import cpu_model  # noqa: E402

NORMAL = [f"normal{i}-2026010{i}-100000" for i in range(1, 6)]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(root: Path, huge_steps: int) -> dict[str, str]:
    from tests.ui.conftest import write_partial, write_run
    from tests.ui.hostile import write_hostile_runs

    for i, name in enumerate(NORMAL):
        write_run(root, name, lr=0.001 * (i + 1), accuracy=0.8 + i * 0.03, quality=1.0 + i)
    write_partial(root, "normal6-20260106-100000")  # a normal run in progress
    NORMAL.append("normal6-20260106-100000")
    return write_hostile_runs(root, huge_steps=huge_steps)


def routes(hostile: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(group, route, path)`` for every page and API route of every run."""
    out = [
        ("all", "/", "/"),
        ("all", "/api/runs", "/api/runs"),
        ("normal", "/compare", "/compare?runs=" + ",".join(NORMAL[:3])),
        ("hostile", "/compare", "/compare?runs=" + ",".join([*hostile.values(), NORMAL[0]])),
    ]
    for group, names in (("normal", NORMAL), *((case, [n]) for case, n in hostile.items())):
        for name in names:
            out += [
                (group, "/runs/{name}", f"/runs/{name}"),
                (group, "/runs/{name}/report", f"/runs/{name}/report"),
                (group, "/api/runs/{name}", f"/api/runs/{name}"),
                (group, "/api/runs/{name}/live", f"/api/runs/{name}/live"),
            ]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--huge-steps", type=int, default=3_000_000)
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--time-cap", type=float, default=300.0, help="all requests, seconds")
    parser.add_argument("--rss-every", type=int, default=25)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "ui_hostile.md"))
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ui_hostile-"))
    root = tmp / "runs"
    started = time.perf_counter()
    hostile = build(root, args.huge_steps)
    build_s = time.perf_counter() - started
    steps_mb = (root / f"{hostile['huge']}.partial" / "steps.csv").stat().st_size / 1e6
    port = _free_port()
    exe = shutil.which("deepfuse", path=str(Path(sys.executable).parent)) or "deepfuse"
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{os.environ.get('PYTHONPATH', '')}"}
    server = subprocess.Popen(
        [exe, "ui", str(root), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # wait until it answers
            try:
                urllib.request.urlopen(base + "/static/app.css", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    print(server.stdout.read() if server.stdout else "", file=sys.stderr)
                    raise SystemExit("the dashboard did not start") from None
                time.sleep(0.2)
        plan = routes(hostile)
        results: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        rss = [(0, _rss_mb(server.pid))]
        cap = time.monotonic() + args.time_cap
        sent = 0
        while sent < args.requests and time.monotonic() < cap:
            group, route, path = plan[sent % len(plan)]
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(base + path, timeout=args.timeout) as response:
                    response.read()
                    code = response.status
            except urllib.error.HTTPError as exc:
                code = exc.code
            except OSError:
                code = 0  # timed out or refused: the server hung or died
            results[(group, route)].append((code, time.perf_counter() - t0))
            sent += 1
            if sent % args.rss_every == 0:
                rss.append((sent, _rss_mb(server.pid)))
        alive = server.poll() is None
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    text = report(args, results, rss, sent, alive, build_s, steps_mb)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    normal_ok = all(
        code == 200 for (group, _), rows in results.items() if group in ("all", "normal")
        for code, _ in rows
    )  # fmt: skip
    no_5xx = all(0 < code < 500 for rows in results.values() for code, _ in rows)
    return 0 if normal_ok and no_5xx and alive else 1


def report(args, results, rss, sent, alive, build_s, steps_mb) -> str:
    lines = [
        "# The dashboard under load with hostile run folders (`bench/ui_hostile.py`)",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {cpu_model()}, "
        f"{os.cpu_count()} cores online; python {platform.python_version()}",
        f"- command: `python bench/ui_hostile.py --requests {args.requests} --huge-steps "
        f"{args.huge_steps}` (runs folder built in {build_s:.1f} s; the huge steps.csv is "
        f"{steps_mb:.0f} MB)",
        f"- runs: {len(NORMAL)} normal (one in progress) + 5 hostile: `bomb` (config.yaml alias "
        "bomb), `fifo` (FIFO state.json/manifest.json/history.csv in a .partial run), `deep` "
        "(metrics.json nested 200,000 deep), `counts` (non-integer confusion counts), `huge` "
        f"({args.huge_steps:,}-row steps.csv)",
        f"- {sent} requests, one at a time, round-robin over the routes below; timeout "
        f"{args.timeout:.0f} s each; server alive at the end: **{alive}**",
        "",
        "| group | route | requests | status codes | median ms | max ms |",
        "|---|---|---:|---|---:|---:|",
    ]
    for (group, route), rows in sorted(results.items()):
        codes = defaultdict(int)
        for code, _ in rows:
            codes[code] += 1
        times = [t * 1000 for _, t in rows]
        shown = ", ".join(f"{c}×{n}" for c, n in sorted(codes.items()))
        lines.append(
            f"| {group} | `{route}` | {len(rows)} | {shown} | "
            f"{statistics.median(times):.0f} | {max(times):.0f} |"
        )
    lines += [
        "",
        "Server RSS (MB) after N requests: " + ", ".join(f"{n}: {mb:.0f}" for n, mb in rss),
        "",
        f"RSS growth from request {rss[1][0] if len(rss) > 1 else 0} to the end: "
        f"{(rss[-1][1] - rss[min(1, len(rss) - 1)][1]):+.1f} MB (the first requests fill the "
        "import and checkpoint caches).",
        "",
        "Status 0 would mean a request timed out or was refused; 4xx on a hostile run's route "
        "is a refusal of that run's file, never of the others.",
        "",
        "Before this change (as reported in issue 11, findings 4 and 5; not re-run here "
        "because it exhausts the machine): the FIFO hung `/` and, after "
        "about 40 requests, every route; the deep metrics.json made `/` and `/api/runs` answer "
        "500; the counts made the run page 500; each live poll of the 3-million-row steps.csv "
        "re-read it whole (57 s); the alias-bomb run's pages grew the server by about 100 MB/s "
        "(`tests/ui/test_hostile.py` on the old code: an 891 MB answer for one API request).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
