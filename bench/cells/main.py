"""Run ONE benchmark cell (one framework on one workload) in this process and write a JSON result.

Started by ``bench/run.py`` as ``python -m bench.cells.main --workload mlp --framework torch
--result out.json``, one fresh process per cell. Not meant to be run concurrently with anything.

Result keys: status ("ok" | "not installed" | "not available" | "failed"), samples, seconds,
samples_per_s, loss, accuracy (of the last timed epoch, as the framework reports them),
peak_rss_mb (this process' ru_maxrss + its children), framework_version, threads, loadavg_start.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import random
import resource
import sys
import threading
import traceback

CELLS = {
    "torch": "bench.cells.torch_loop",
    "deepfuse": "bench.cells.deepfuse_fit",
    "deepfuse_module": "bench.cells.deepfuse_fit",
    "keras": "bench.cells.keras_fit",
    "lightning": "bench.cells.lightning_fit",
}


class _ChildRSS:
    """Peak summed RSS of this process' live children (data-loader workers, if any), sampled by a
    background thread every 0.5 s (a /proc read: negligible next to a training step).

    ``RUSAGE_CHILDREN`` is not used for the peak: a fork+exec helper (e.g. a ``uname`` call at
    import) reports the parent's RSS at fork time, which would double-count the cell.
    """

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            import psutil

            self._proc = psutil.Process()
        except ImportError:
            self._proc = None

    def sample(self) -> None:
        if self._proc is None:
            return
        total = 0
        for child in self._proc.children(recursive=True):
            with contextlib.suppress(Exception):  # child exited between listing and reading
                total += child.memory_info().rss // 1024
        self.peak_kb = max(self.peak_kb, total)

    def start(self) -> None:
        if self._proc is None:
            return

        def loop() -> None:
            while not self._stop.wait(0.5):
                self.sample()

        self._thread = threading.Thread(target=loop, name="child-rss", daemon=True)
        self._thread.start()

    def stop(self) -> dict:
        self.sample()
        self._stop.set()
        self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        return {
            "peak_rss_mb": (self_kb + self.peak_kb) / 1024,
            "self_rss_mb": self_kb / 1024,
            "children_rss_mb": self.peak_kb / 1024,
            "psutil": self._proc is not None,
        }


def _setup_torch(threads: int | None) -> int:
    import numpy as np
    import torch

    torch.set_flush_denormal(True)  # LSTM is >10x slower on this CPU without it
    torch.set_num_threads(threads or torch.get_num_threads())
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", required=True)
    ap.add_argument("--framework", required=True, choices=sorted(CELLS))
    ap.add_argument("--result", required=True, help="where to write the JSON result")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)

    from bench import data, workloads

    children = _ChildRSS()
    children.start()

    w = workloads.get(args.workload, quick=args.quick)
    result: dict = {
        "workload": w.name,
        "framework": args.framework,
        "samples": w.timed_samples,
        "loadavg_start": os.getloadavg()[0],
    }
    try:
        module = importlib.import_module(CELLS[args.framework])
        reason = module.available(args.framework, w.name)
        if reason is not None:  # e.g. keras not installed: reported, not a failure
            status, _, detail = reason.partition(": ")
            result.update(status=status, detail=detail)
        else:
            # after the framework import: some frameworks touch thread settings on import
            result["threads"] = _setup_torch(args.threads)
            x, y = data.load(w.dataset, w.n_train)
            cpu0 = os.times()
            out = module.run(w, x, y, args.framework)
            cpu1 = os.times()
            result.update(out)
            # whole-cell CPU seconds (user+sys, all threads); cpu_s / seconds near the thread count
            # means the cell had its cores, well below it means waiting (contention or sync)
            result["cpu_s_total"] = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
            result["status"] = "ok"
            result["samples_per_s"] = w.timed_samples / out["seconds"]
            result["framework_version"] = module.version()
    except Exception as exc:  # reported in the table; the traceback goes to the cell's log
        traceback.print_exc()
        result.update(status="failed", detail=f"{type(exc).__name__}: {exc}"[:300])
    result.update(children.stop())
    tmp = args.result + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh, indent=1)
    os.replace(tmp, args.result)
    sys.stdout.flush()
    return 0 if result["status"] != "failed" else 1


if __name__ == "__main__":
    sys.exit(main())
