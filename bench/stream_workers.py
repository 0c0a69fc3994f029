"""Streaming worker processes: rows/s and summed peak memory for num_workers 0 / 1 / 2.

    OMP_NUM_THREADS=1 .venv/bin/python bench/stream_workers.py                # ~460 MB of data
    OMP_NUM_THREADS=1 .venv/bin/python bench/stream_workers.py --workers 0,2 --scale 0.2

Generates (once, reused) under ``--data-dir`` (default /tmp/deepfuse_stream_workers):
  * ``csv_*/``: 48 CSV files, 16 float columns + an int label (~280 MB): CPU-bound parsing;
  * ``parquet_*/``: float32 Parquet, 16 features + label, row groups of 32k rows (~180 MB), read
    through a numpy ``map`` that does real work (log1p/tanh/sqrt features, 16 exp+cos passes,
    per-row normalisation).
Each cell (source x num_workers) runs in ONE fresh process that streams one epoch through
``shuffle(65_536).batch(1024, target="label").prefetch(4, num_workers=k)`` and counts the rows.
The parent samples every 0.1 s the RSS of the cell plus all its children (the workers) and
reports the peak of that sum; forked workers share the parent's pages, so the RSS sum counts
shared pages once per process (an upper bound); the USS sum (pages private to each process) is
the lower bound. Cells run one after another, interleaved over ``--repeat`` rounds. Output:
stdout and ``bench/results/stream_workers.md`` (written atomically).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.machine import cpu_model, package_versions  # noqa: E402  (needs the repo root)

N_FEATURES = 16
CSV_FILES, CSV_ROWS = 48, 40_000  # ~4.8 MB per file
PQ_ROWS, PQ_ROW_GROUP = 2_000_000, 32_768


def make_data(root: Path, scale: float) -> dict[str, Path]:
    """Writes the CSV and Parquet data once (skipped when the folder already has it)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(N_FEATURES)]
    csv_dir, pq_dir = root / f"csv_{scale}", root / f"parquet_{scale}"
    if not (csv_dir / "_done").exists():
        csv_dir.mkdir(parents=True, exist_ok=True)
        rows = max(int(CSV_ROWS * scale), 1000)
        for f in range(CSV_FILES):
            cols = {n: rng.normal(size=rows).round(6) for n in names}
            cols["label"] = rng.integers(0, 10, rows)
            pacsv.write_csv(pa.table(cols), csv_dir / f"part-{f:03d}.csv")
        (csv_dir / "_done").touch()
    if not (pq_dir / "_done").exists():
        pq_dir.mkdir(parents=True, exist_ok=True)
        rows = max(int(PQ_ROWS * scale), 10_000)
        per_file = rows // 4
        for f in range(4):
            cols = {n: rng.normal(size=per_file).astype(np.float32) for n in names}
            cols["label"] = rng.integers(0, 10, per_file)
            pq.write_table(
                pa.table(cols),
                pq_dir / f"part-{f}.parquet",
                row_group_size=PQ_ROW_GROUP,
            )
        (pq_dir / "_done").touch()
    return {"csv": csv_dir, "parquet": pq_dir}


def heavy_features(b: dict) -> dict:
    """A numpy map doing real work (~3 us/row): 3 transforms per feature, smoothing, row norm."""
    import numpy as np

    x = np.stack([b[f"f{i}"] for i in range(N_FEATURES)], axis=1).astype(np.float32)  # (N, F)
    feats = np.concatenate(
        [np.log1p(np.abs(x)), np.tanh(x), np.sqrt(np.abs(x)) * np.sign(x)], axis=1
    )  # (N, 3F)
    for _ in range(16):  # smoothing passes, like a real per-row feature pipeline
        feats = np.exp(-0.5 * feats**2) + np.cos(feats)
    feats = (feats - feats.mean(axis=1, keepdims=True)) / (feats.std(axis=1, keepdims=True) + 1e-6)
    out = feats.reshape(len(x), 3, N_FEATURES).sum(axis=1)  # (N, F): back to F features
    return {
        **{f"g{i}": np.ascontiguousarray(out[:, i]) for i in range(N_FEATURES)},
        "label": b["label"],
    }


def run_cell(kind: str, path: str, workers: int) -> dict:
    """One epoch in this process; returns rows, seconds and rows/s."""
    from deepfuse.data.streaming import scan_csv, scan_parquet

    ds = scan_csv(path) if kind == "csv" else scan_parquet(path).map(heavy_features)
    ds = ds.shuffle(65_536, seed=0).batch(1024, target="label").prefetch(4, num_workers=workers)
    t0, self0, kids0 = (
        time.perf_counter(),
        _cpu(resource.RUSAGE_SELF),
        _cpu(resource.RUSAGE_CHILDREN),
    )
    rows, first = 0, None
    for batch in ds:  # {"x": (1024, 16) float32, "y": (1024,) int64}
        if first is None:
            first = time.perf_counter() - t0
        rows += len(batch["y"])
    seconds = time.perf_counter() - t0
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "first_batch_s": first,
        "parent_cpu_s": _cpu(resource.RUSAGE_SELF) - self0,  # this process, all its threads
        # workers are joined when the epoch ends, so their CPU time is in RUSAGE_CHILDREN
        "total_cpu_s": _cpu(resource.RUSAGE_SELF) - self0 + _cpu(resource.RUSAGE_CHILDREN) - kids0,
    }


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _tree_mem(proc: psutil.Process) -> tuple[int, int]:
    """(RSS sum, USS sum) over ``proc`` and its descendants, in bytes."""
    rss = uss = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            info = p.memory_full_info()
            rss, uss = rss + info.rss, uss + info.uss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rss, uss


def measure(kind: str, path: Path, workers: int) -> dict:
    """Runs a cell in a fresh process, sampling the summed memory of its process tree."""
    cmd = [sys.executable, __file__, "--cell", kind, str(path), str(workers)]
    load = os.getloadavg()[0]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO)
    proc, peak, done = psutil.Process(child.pid), [0, 0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss, uss = _tree_mem(proc)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], uss)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = child.communicate()
    done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"cell {kind} workers={workers} failed with code {child.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    mem = {"peak_rss_mb": peak[0] / 2**20, "peak_uss_mb": peak[1] / 2**20}
    return {**result, **mem, "load": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="/tmp/deepfuse_stream_workers")
    parser.add_argument("--workers", default="0,1,2", help="comma-separated num_workers values")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the default data")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (interleaved)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "stream_workers.md"))
    parser.add_argument(
        "--cell", nargs=3, metavar=("KIND", "PATH", "WORKERS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.cell:
        kind, path, workers = args.cell
        print(json.dumps(run_cell(kind, path, int(workers))))
        return

    from deepfuse._utils.io import atomic_write_text

    data = make_data(Path(args.data_dir), args.scale)
    sizes = {k: sum(f.stat().st_size for f in p.glob("part-*")) / 2**20 for k, p in data.items()}
    workers = [int(w) for w in args.workers.split(",")]
    runs: dict[tuple[str, int], list[dict]] = {}
    for _ in range(args.repeat):  # interleaved, so load from other processes hits every cell
        for kind in ("csv", "parquet"):
            for k in workers:
                r = measure(kind, data[kind], k)
                runs.setdefault((kind, k), []).append(r)
                print(json.dumps({"kind": kind, "workers": k, **r}), flush=True)
    rows = []
    for (kind, k), rs in runs.items():
        best = min(rs, key=lambda r: r["seconds"])
        base = min(runs[(kind, workers[0])], key=lambda r: r["seconds"])["rows_per_s"]
        rows.append(
            {
                **best,
                "kind": kind,
                "workers": k,
                "median_rows_per_s": statistics.median(r["rows_per_s"] for r in rs),
                "speedup": best["rows_per_s"] / base,
                "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                "peak_uss_mb": max(r["peak_uss_mb"] for r in rs),
                "loads": [r["load"] for r in rs],
            }
        )

    versions = package_versions(["torch", "pyarrow", "numpy"])
    lines = [
        "# Streaming worker processes (`prefetch(4, num_workers=k)`)",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; load average at start {os.getloadavg()[0]:.2f}.",
        f"Data: CSV {sizes['csv']:.0f} MB ({CSV_FILES} files, {N_FEATURES} float columns + label); "
        f"Parquet {sizes['parquet']:.0f} MB (float32, row groups of {PQ_ROW_GROUP} rows) read "
        "through `heavy_features`, a numpy map (log1p/tanh/sqrt, 16 exp+cos passes, row norm; "
        "16 features out).",
        "Pipeline: `shuffle(65_536, seed=0).batch(1024, target='label')"
        ".prefetch(4, num_workers=k)`, one epoch, "
        "one fresh process per cell, cells one at a time. Memory: peak of the sum over the cell "
        "and its workers, sampled every 0.1 s; RSS counts pages shared after fork once per "
        "process (upper bound), USS only private pages (lower bound).",
        "",
        f"Best of {args.repeat} interleaved runs per cell (median rows/s beside it); CPU s: "
        "user+sys during the epoch, parent + workers / parent process alone. Load average "
        "(1 min) at the start of each run shows how busy the shared machine was.",
        "",
        "| source | num_workers | rows | best s | rows/s (best) | rows/s (median) | speed-up | "
        "CPU s total / parent | first batch s | peak RSS sum MB | peak USS sum MB | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['kind']} | {r['workers']} | {r['rows']:,} | {r['seconds']:.1f} | "
            f"{r['rows_per_s']:,.0f} | {r['median_rows_per_s']:,.0f} | {r['speedup']:.2f}x | "
            f"{r['total_cpu_s']:.1f} / {r['parent_cpu_s']:.1f} | {r['first_batch_s']:.2f} | "
            f"{r['peak_rss_mb']:.0f} | {r['peak_uss_mb']:.0f} | "
            f"{', '.join(f'{x:.1f}' for x in r['loads'])} |"
        )
    busiest = max(x for r in rows for x in r["loads"])
    if busiest > (os.cpu_count() or 1):
        lines += [
            "",
            f"**Warning:** the load average reached {busiest:.1f} on {os.cpu_count()} cores during "
            "these runs (other processes were busy): every process got a fraction of a core, so "
            "rows/s and speed-ups here measure the scheduler's share more than the readers; "
            "compare the CPU seconds, and re-run on an idle machine for speed-ups.",
        ]
    lines += ["", f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`", ""]
    atomic_write_text(args.out, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
