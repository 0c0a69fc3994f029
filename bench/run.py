"""Training-speed benchmark: deepfuse ``fit`` vs a hand-written PyTorch loop (and Keras 3 on torch,
and Lightning, when installed) on the same in-memory data, in one run.

Run (from the repository root, nothing else running on the machine):

    .venv/bin/python bench/run.py                       # all workloads, all frameworks, 2 repeats
    .venv/bin/python bench/run.py --workloads mlp,cnn --frameworks torch,deepfuse --repeats 3
    .venv/bin/python bench/run.py --quick               # tiny sizes: a smoke check (~1-2 min)

Every cell (one framework on one workload) runs in a fresh Python process, one at a time; the
frameworks alternate within each repetition (torch, deepfuse, keras, lightning, torch, ...) and the
table reports medians. Results: stdout, ``bench/results/training_speed.md`` and ``.json``
(``training_speed.quick.*`` for ``--quick``). See bench/README.md for the method.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import data, workloads  # noqa: E402  (needs the repo root on sys.path)
from bench.machine import cpu_model, package_versions  # noqa: E402
from bench.report import render_markdown  # noqa: E402

FRAMEWORKS = ["torch", "deepfuse", "keras", "lightning"]
EXTRA_FRAMEWORKS = ["deepfuse_module"]  # df.Model(nn.Module): fit cost without our layers
LOG_DIR = REPO / "bench" / "_logs"
NOISY = 0.2  # cores of CPU used by other processes during a cell that make its timing suspect


def _csv(choices: list[str]):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(bad) or 'empty list'}; choose from {', '.join(choices)}"
            )
        return list(dict.fromkeys(items))

    return parse


def machine_info(threads: int) -> dict:
    import torch

    cpu = cpu_model()
    versions = package_versions(("torch", "numpy", "keras", "lightning", "psutil"))
    versions["torch"] = torch.__version__  # the local build tag (+cpu) is worth keeping
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "torch_threads": threads,
        "os": platform.platform(),
        "versions": versions,
        "loadavg_before": os.getloadavg(),
    }


def _cpu_busy_s() -> float:
    """Machine-wide busy CPU seconds so far (all cores), from /proc/stat."""
    with open("/proc/stat") as fh:
        vals = [int(v) for v in fh.readline().split()[1:9]]
    # user nice system idle iowait irq softirq steal; idle and iowait are not busy
    return (sum(vals) - vals[3] - vals[4]) / os.sysconf("SC_CLK_TCK")


def foreign_load(interval: float = 1.0) -> float:
    """Cores' worth of CPU used by *other* processes over ``interval`` seconds (runner is idle)."""
    b0 = _cpu_busy_s()
    time.sleep(interval)
    return max(0.0, (_cpu_busy_s() - b0) / interval)


def wait_for_idle(limit_s: float, threshold: float = 0.25) -> float:
    """Wait up to ``limit_s`` for the machine to go idle; return the last foreign load seen."""
    deadline = time.monotonic() + limit_s
    load = foreign_load()
    while load > threshold and time.monotonic() < deadline:
        load = foreign_load(2.0)
    return load


def run_cell(workload: str, framework: str, rep: int, args, threads: int) -> dict:
    """Run one cell in a fresh process and return its JSON result (or a failure record)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{workload}-{framework}-r{rep}.log"
    fd, result_path = tempfile.mkstemp(prefix="cell-", suffix=".json")
    os.close(fd)
    os.unlink(result_path)
    cmd = [sys.executable, "-m", "bench.cells.main", "--workload", workload,
           "--framework", framework, "--result", result_path, "--threads", str(threads)]  # fmt: skip
    if args.quick:
        cmd.append("--quick")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src"), str(REPO), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["KERAS_BACKEND"] = "torch"  # the keras cell needs it; harmless for the others
    busy0, ru0 = _cpu_busy_s(), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        out = None if args.show_output else log
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=out, start_new_session=True)  # fmt: skip
        try:
            rc = proc.wait(timeout=args.cell_timeout)
        except BaseException:  # timeout or Ctrl-C: stop the cell and everything it started
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
                raise
            rc = None
    wall = time.perf_counter() - t0
    busy1, ru1 = _cpu_busy_s(), resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU the cell process (and its children) used vs what the whole machine used meanwhile:
    # the difference is other processes competing for the cores during this cell
    cell_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    other_cores = max(0.0, (busy1 - busy0) - cell_cpu) / wall
    try:
        with open(result_path) as fh:
            result = json.load(fh)
        os.unlink(result_path)
    except (OSError, ValueError):
        status = "timeout" if rc is None else "failed"
        detail = (
            f"cell exceeded --cell-timeout {args.cell_timeout} s"
            if rc is None
            else f"exit code {rc}, no result"
        )
        result = {"workload": workload, "framework": framework, "status": status, "detail": detail}
    if result["status"] == "failed" and not args.show_output:
        result["log"] = str(log_path.relative_to(REPO))
    result["repeat"] = rep
    result["process_wall_s"] = wall
    result["process_cpu_s"] = cell_cpu
    result["foreign_load_cores"] = round(other_cores, 3)
    return result


def summarise(cells: list[dict], wl: list[str], fw: list[str]) -> list[dict]:
    """One row per (workload, framework): medians over the successful repetitions."""
    rows = []
    for w in wl:
        base = None
        for f in fw:
            runs = [c for c in cells if c["workload"] == w and c["framework"] == f]
            ok = [c for c in runs if c["status"] == "ok"]
            row = {"workload": w, "framework": f, "runs": len(runs), "ok": len(ok)}
            row["foreign_load_max"] = max((c.get("foreign_load_cores", 0) for c in runs), default=0)
            if ok:
                row.update(
                    samples=ok[0]["samples"],
                    samples_per_s=statistics.median(c["samples_per_s"] for c in ok),
                    samples_per_s_each=[round(c["samples_per_s"], 1) for c in ok],
                    seconds=statistics.median(c["seconds"] for c in ok),
                    peak_rss_mb=statistics.median(c["peak_rss_mb"] for c in ok),
                    loss=statistics.median(c["loss"] for c in ok),
                    accuracy=statistics.median(c["accuracy"] for c in ok),
                    status="ok" if len(ok) == len(runs) else f"ok ({len(runs) - len(ok)} failed)",
                )
                if f == "torch":
                    base = row["samples_per_s"]
            else:
                first = runs[0] if runs else {"status": "not run"}
                row["status"] = first["status"]
                row["detail"] = first.get("detail", "")
                if "log" in first:
                    row["log"] = first["log"]
            rows.append(row)
        for row in rows[-len(fw) :]:
            if "samples_per_s" in row and base:
                row["ratio_vs_torch"] = row["samples_per_s"] / base
    return rows


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_results(cells, args, fw, info, command, started, md_path, json_path, done) -> str:
    """Summarise and write the .md and .json (atomically); called after every cell as well, so an
    interrupted run still leaves its finished cells on disk, marked partial."""
    rows = summarise(cells, args.workloads, fw)
    report = {
        "command": command,
        "started_utc": started,
        "finished_utc": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "complete": done,
        "quick": args.quick,
        "repeats": args.repeats,
        "machine": info,
        "workloads": {w: workloads.get(w, args.quick).to_dict() for w in args.workloads},
        "noisy_threshold_cores": NOISY,
        "summary": rows,
        "cells": cells,
    }
    md = render_markdown(report)
    write_atomic(json_path, json.dumps(report, indent=1) + "\n")
    write_atomic(md_path, md)
    return md


def main(argv: list[str] | None = None) -> int:
    all_fw = FRAMEWORKS + EXTRA_FRAMEWORKS
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workloads", type=_csv(list(workloads.WORKLOADS)), default=list(workloads.WORKLOADS),
                    help="comma-separated: %(default)s")  # fmt: skip
    ap.add_argument("--frameworks", type=_csv(all_fw), default=FRAMEWORKS,
                    help=f"comma-separated from {','.join(all_fw)} (default: %(default)s)")  # fmt: skip
    ap.add_argument(
        "--repeats", type=int, default=2, help="alternating repetitions per cell (default 2)"
    )
    ap.add_argument(
        "--quick", action="store_true", help="tiny sizes: a smoke check, numbers meaningless"
    )
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads in every cell (default: torch's default here)")  # fmt: skip
    ap.add_argument(
        "--cell-timeout", type=float, default=1200, help="seconds per cell (default 1200)"
    )
    ap.add_argument("--out", type=Path, default=None,
                    help="output stem (default bench/results/training_speed[.quick]); .md and .json are written")  # fmt: skip
    ap.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                    help="before each cell, wait up to this long for other processes to go quiet "
                    "(default 0: only measure and report their load)")  # fmt: skip
    ap.add_argument("--retry-noisy", type=int, default=1, metavar="N",
                    help=f"run a cell again (up to N times) when other processes used more than "
                    f"{NOISY} cores during it (default 1); the last attempt is kept")  # fmt: skip
    ap.add_argument("--show-output", action="store_true",
                    help="let cells print to this terminal instead of bench/_logs/ (progress bars go to a TTY)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    fw = args.frameworks
    if "torch" not in fw:  # ratios need the baseline
        fw = ["torch", *fw]
    stem = str(
        args.out
        or REPO / "bench" / "results" / ("training_speed.quick" if args.quick else "training_speed")
    )
    md_path, json_path = Path(stem + ".md"), Path(stem + ".json")

    import torch

    threads = args.threads or torch.get_num_threads()
    command = shlex.join([sys.executable, *sys.argv])
    info = machine_info(threads)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    print(f"deepfuse training-speed benchmark · {info['cpu']} · {info['cores_usable']} cores · "
          f"torch {info['versions']['torch']} · {threads} threads", flush=True)  # fmt: skip

    data.prepare(sorted({workloads.get(w).dataset for w in args.workloads}))

    cells: list[dict] = []
    skip: set[tuple[str, str]] = set()  # (workload, framework) that cannot run here
    total = len(args.workloads) * len(fw) * args.repeats
    n = 0
    for w in args.workloads:
        for rep in range(1, args.repeats + 1):
            for f in fw:
                n += 1
                if (w, f) in skip:
                    continue
                for attempt in range(args.retry_noisy + 1):
                    before = wait_for_idle(args.wait_idle) if args.wait_idle else None
                    res = run_cell(w, f, rep, args, threads)
                    if before is not None:
                        res["foreign_load_before"] = round(before, 3)
                    res["attempt"] = attempt + 1
                    if res.get("foreign_load_cores", 0) <= NOISY or res["status"] != "ok":
                        break
                    if attempt < args.retry_noisy:
                        print(f"        {w} {f} rep {rep}: other processes used "
                              f"{res['foreign_load_cores']:.1f} cores, running it again", flush=True)  # fmt: skip
                cells.append(res)
                if res["status"] == "ok":
                    msg = f"{res['samples_per_s']:>10,.0f} samples/s  ({res['seconds']:.1f} s timed, {res['peak_rss_mb']:.0f} MB)"
                else:
                    msg = f"{res['status']}: {res.get('detail', '')}"
                    if res["status"] in ("not installed", "not available"):
                        skip.add((w, f))
                noisy = res.get("foreign_load_cores", 0) > NOISY
                noise = (
                    f"  [other processes used {res['foreign_load_cores']:.1f} cores]"
                    if noisy
                    else ""
                )
                print(f"[{n:>2}/{total}] {w:<8} {f:<16} rep {rep}: {msg}{noise}", flush=True)
                write_results(
                    cells, args, fw, info, command, started, md_path, json_path, done=False
                )

    md = write_results(cells, args, fw, info, command, started, md_path, json_path, done=True)
    print()
    print(md)
    print(f"wrote {md_path} and {json_path.name}", flush=True)
    rows = summarise(cells, args.workloads, fw)
    return 0 if all(r["status"] not in ("failed", "timeout") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
