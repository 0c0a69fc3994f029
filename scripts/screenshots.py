"""Screenshots of the dashboard (``deepfuse ui``) for the docs, in headless Chromium.

Usage:
    python scripts/screenshots.py RUNS_DIR [--out docs/images] [--run NAME] [--compare A,B]

Serves RUNS_DIR on a free 127.0.0.1 port (or uses --url of a running ``deepfuse ui``) and
writes dashboard_runs.png (the runs table), dashboard_run.png (one run: curves, confusion
matrix) and dashboard_compare.png (two runs compared), 1280 px wide. Needs playwright and a
Chromium binary (Debian's ``chromium``; playwright's own browser download is not used).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from contextlib import nullcontext
from pathlib import Path

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_dir", metavar="RUNS_DIR")
    parser.add_argument("--out", default="docs/images", help="default: docs/images")
    parser.add_argument("--url", default=None, help="a running dashboard (default: start one)")
    parser.add_argument("--run", default=None, help="the run to show (default: the newest)")
    parser.add_argument("--compare", default=None, help="A,B (default: the two newest)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from deepfuse.ui import BackgroundServer
    from deepfuse.ui.runs import list_runs

    finished = [r["name"] for r in list_runs(args.runs_dir) if r["status"] == "finished"]
    if not finished:
        print(f"no finished run in {args.runs_dir}", file=sys.stderr)
        return 2
    run = args.run or finished[0]
    compare = args.compare or ",".join(finished[:2])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    server = nullcontext() if args.url else BackgroundServer(args.runs_dir)
    with server as started, sync_playwright() as p:
        url = args.url or started.url
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        shots = [
            ("dashboard_runs.png", "/", "#runs", None),
            ("dashboard_run.png", f"/runs/{run}", "[data-chart=steps] polyline", 1500),
            ("dashboard_compare.png", f"/compare?runs={compare}", "[data-chart] polyline", 1400),
        ]
        for name, path, ready, height in shots:
            page.goto(url + path)
            page.wait_for_selector(ready)
            if path == "/":  # show a sort by test accuracy (best first) and two runs picked
                key = page.locator("#runs th[data-key='test.accuracy']")
                if key.count():
                    key.click()
                    key.click()
                boxes = page.locator("#runs input[type=checkbox]")
                for i in range(min(2, boxes.count())):
                    boxes.nth(i).check()
                height = int(page.evaluate("document.querySelector('main').offsetHeight")) + 60
            page.wait_for_timeout(300)
            full = page.evaluate("document.documentElement.scrollHeight")
            clip = {"x": 0, "y": 0, "width": 1280, "height": min(full, height or full)}
            page.screenshot(path=str(out / name), clip=clip, full_page=True)
            print(out / name)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
