"""Streaming bench: rows/s, time to first batch and peak memory of Parquet -> torch batch readers.

    .venv/bin/python bench/streaming.py                                   # 1 GB and 8 GB, all readers
    .venv/bin/python bench/streaming.py --sizes 1 --readers pyarrow,deepfuse,ray,hf
    .venv/bin/python bench/streaming.py --sizes 1,8 --readers pyarrow,deepfuse,deepfuse_noshuffle

Generates (once, reused) Parquet data of 64 float32 features + an int64 label at about 1 GB and
8 GB on disk under ``--data-dir`` (``examples/make_synthetic_parquet.py``'s ``write_shards``), then
for each size and reader runs ONE fresh process that produces training batches for one epoch
(batch 1024, shuffle buffer 100k rows where the reader shuffles), one cell at a time. The parent
samples, every 0.2 s, the RSS (and PSS) summed over the cell, all its descendants and any Ray
process (raylet, gcs_server, ``ray::`` workers...) started after the cell began. Results: stdout,
``bench/results/streaming.md`` and ``.json`` (written atomically). See bench/STREAMING.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.machine import cpu_model, package_versions  # noqa: E402  (needs the repo root)

CELL = REPO / "bench" / "stream_cells" / "cell.py"
LOG_DIR = REPO / "bench" / "_logs"
READERS = ["pyarrow", "deepfuse", "deepfuse_noshuffle", "ray", "hf", "hf_python"]
BYTES_PER_ROW = 365  # examples/make_synthetic_parquet.py: measured on-disk size of one row
RAY_WORDS = ("ray::", "raylet", "gcs_server", "ray/_private", "ray/dashboard", "ray/autoscaler")
SAMPLE_S = 0.2


def _csv(choices: list[str] | None):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if choices is not None:
            bad = [t for t in items if t not in choices]
            if bad or not items:
                raise argparse.ArgumentTypeError(
                    f"unknown {', '.join(bad) or 'empty list'}; choose from {', '.join(choices)}"
                )
        return list(dict.fromkeys(items))

    return parse


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600
    os.replace(tmp, path)


# --- data -----------------------------------------------------------------------------------


def ensure_data(data_dir: Path, gigabytes: float) -> dict:
    """``data_dir/<N>gb/part-*.parquet``, generated once; ``_meta.json`` marks a complete set."""
    out = data_dir / f"{gigabytes:g}gb"
    meta_path = out / "_meta.json"
    rows = int(gigabytes * 1e9 / BYTES_PER_ROW)
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("rows") == rows:
            return meta
    spec = importlib.util.spec_from_file_location(
        "make_synthetic_parquet", REPO / "examples" / "make_synthetic_parquet.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPO / "src"))
    spec.loader.exec_module(mod)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.parquet"):
        old.unlink()
    print(f"generating {rows:,} rows (~{gigabytes:g} GB) under {out} ...", flush=True)
    t0 = time.perf_counter()
    shards = mod.write_shards(out, rows, seed=0)
    files = sorted(out.glob("part-*.parquet"))
    meta = {
        "rows": rows,
        "shards": shards,
        "bytes": sum(f.stat().st_size for f in files),
        "seed": 0,
        "generated_in_s": round(time.perf_counter() - t0, 1),
        "dir": str(out),
    }
    _atomic_write(meta_path, json.dumps(meta))
    return meta


# --- memory sampling ------------------------------------------------------------------------


def _is_ray(p: psutil.Process) -> bool:
    try:
        text = p.name() + " " + " ".join(p.cmdline())
    except (psutil.Error, OSError):
        return False
    return any(w in text for w in RAY_WORDS)


class Sampler(threading.Thread):
    """Every 0.2 s: RSS and PSS summed over the cell, its descendants and new Ray processes."""

    def __init__(self, pid: int, started: float, before: set[int], scan_ray: bool) -> None:
        super().__init__(daemon=True)
        self.scan_ray = scan_ray  # only the ray cell looks beyond the cell's own process tree
        self.root = psutil.Process(pid)
        self.started = started
        self.before = before
        self.stop = threading.Event()
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_procs = 0
        self.seen: dict[int, psutil.Process] = {}
        self.samples = 0

    def _members(self) -> list[psutil.Process]:
        procs = {}
        try:
            procs[self.root.pid] = self.root
            for c in self.root.children(recursive=True):
                procs[c.pid] = c
        except psutil.Error:
            pass
        for p in psutil.process_iter() if self.scan_ray else ():
            if p.pid in procs or p.pid in self.before:
                continue
            try:
                if p.create_time() >= self.started - 1 and _is_ray(p):
                    procs[p.pid] = p
                    for c in p.children(recursive=True):
                        procs[c.pid] = c
            except psutil.Error:
                continue
        return list(procs.values())

    def sample(self) -> None:
        rss = pss = 0
        members = self._members()
        for p in members:
            self.seen.setdefault(p.pid, p)
            try:
                mem = p.memory_full_info()
                rss += mem.rss
                pss += getattr(mem, "pss", mem.rss)
            except psutil.Error:
                continue
        self.samples += 1
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_procs = max(self.peak_procs, len(members))

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(SAMPLE_S)


def run_cell(reader: str, size: float, d: Path, args: argparse.Namespace) -> dict:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    out = LOG_DIR / f"stream_{size:g}gb_{reader}.json"
    log = LOG_DIR / f"stream_{size:g}gb_{reader}.log"
    out.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        str(CELL),
        "--reader",
        reader,
        "--dir",
        str(d),
        "--max-seconds",
        str(args.max_seconds),
        "--out",
        str(out),
    ]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    before = set(psutil.pids())
    started = time.time()
    t0 = time.perf_counter()
    with open(log, "w") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, cwd=REPO)
        sampler = Sampler(proc.pid, started, before, scan_ray=reader == "ray")
        sampler.start()
        timeout = args.max_seconds + args.setup_timeout
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            rc = f"timeout after {timeout:g}s"
        sampler.stop.set()
        sampler.join()
    wall = time.perf_counter() - t0
    # Ray may leave its daemons behind: end only the processes this cell started, by pid.
    leftovers = [p for p in sampler.seen.values() if p.is_running() and p.pid != os.getpid()]
    for p in leftovers:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    psutil.wait_procs(leftovers, timeout=5)
    res: dict = {"reader": reader, "size_gb": size}
    if out.exists():
        res.update(json.loads(out.read_text()))
        res["status"] = "partial" if res.get("partial") else "ok"
        if reader == "check":
            res["status"] = "ok" if res.get("ok") else "FAILED"
    else:
        tail = log.read_text()[-600:] if log.exists() else ""
        res["status"] = "failed"
        res["detail"] = f"rc={rc}: {tail.strip().splitlines()[-1] if tail.strip() else ''}"
    res.update(
        peak_rss_bytes=sampler.peak_rss,
        peak_pss_bytes=sampler.peak_pss,
        peak_processes=sampler.peak_procs,
        memory_samples=sampler.samples,
        process_wall_s=wall,
        returncode=rc,
        log=str(log.relative_to(REPO)),
    )
    return res


# --- report ---------------------------------------------------------------------------------


def aggregate(runs: list[dict]) -> list[dict]:
    """One row per (size, reader): median rows/s and first batch, max peak memory, all rates."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["size_gb"], r["reader"]), []).append(r)
    out = []
    for rs in groups.values():
        if len(rs) == 1:
            out.append({**rs[0], "n_runs": 1, "runs_rows_per_s": [rs[0].get("rows_per_s")]})
            continue
        good = [r for r in rs if r["status"] in ("ok", "partial")]
        row = dict(good[len(good) // 2] if good else rs[-1])
        if good:
            row["rows_per_s"] = statistics.median(r["rows_per_s"] for r in good)
            row["first_batch_s"] = statistics.median(r["first_batch_s"] for r in good)
        for k in ("peak_rss_bytes", "peak_pss_bytes", "peak_processes"):
            row[k] = max(r[k] for r in rs)
        if len(good) < len(rs):
            row["status"] = "failed"
            row["detail"] = f"{len(rs) - len(good)} of {len(rs)} runs failed"
        elif any(r["status"] == "partial" for r in good):
            row["status"] = "partial"
        row["n_runs"] = len(rs)
        row["runs_rows_per_s"] = [r.get("rows_per_s") for r in rs]
        out.append(row)
    return out


def machine_info() -> dict:
    cpu = cpu_model()
    versions = package_versions(
        ("torch", "pyarrow", "numpy", "deepfuse", "ray", "datasets", "psutil")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "versions": versions,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _gb(b: float | None) -> str:
    return f"{b / 1e9:.2f}" if b else "-"


def _rate(r: dict) -> str:
    if r.get("status") not in ("ok", "partial"):
        return "-"
    return f"{r['rows_per_s'] / 1e3:,.0f} k"


def summarize(results: list[dict]) -> dict:
    by = {(r["size_gb"], r["reader"]): r for r in results}
    out: dict = {}

    def ok(r):
        return r is not None and r.get("status") in ("ok", "partial") and r.get("rows_per_s")

    for size in sorted({r["size_gb"] for r in results}):
        d, p, ray, hf = (by.get((size, k)) for k in ("deepfuse", "pyarrow", "ray", "hf"))
        s = {}
        if ok(d) and ok(p):
            s["deepfuse_shuffled_over_pyarrow"] = d["rows_per_s"] / p["rows_per_s"]
        if ok(d) and ok(ray):
            s["deepfuse_over_ray"] = d["rows_per_s"] / ray["rows_per_s"]
            s["deepfuse_rss_over_ray_rss"] = d["peak_rss_bytes"] / ray["peak_rss_bytes"]
            s["deepfuse_pss_over_ray_pss"] = d["peak_pss_bytes"] / ray["peak_pss_bytes"]
        if ok(d) and ok(hf):
            s["deepfuse_over_hf_arrow"] = d["rows_per_s"] / hf["rows_per_s"]
        hfp = by.get((size, "hf_python"))
        if ok(d) and ok(hfp):
            s["deepfuse_over_hf_python"] = d["rows_per_s"] / hfp["rows_per_s"]
        if s:
            out[f"{size:g}gb"] = s
    for reader in ("deepfuse", "deepfuse_noshuffle", "pyarrow"):
        a, b = by.get((1.0, reader)), by.get((8.0, reader))
        if ok(a) and ok(b):
            out[f"{reader}_peak_rss_8gb_over_1gb"] = b["peak_rss_bytes"] / a["peak_rss_bytes"]
    return out


def render(report: dict) -> str:
    m = report["machine"]
    v = m["versions"]
    lines = [
        "# Streaming bench: Parquet -> torch training batches, one epoch",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GiB RAM, {m['platform']}",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Date: {m['date']}",
        f"- Command: `{report['command']}`",
        f"- Batch {report['batch']}, shuffle buffer {report['buffer']:,} rows (deepfuse, ray, hf); "
        f"cap --max-seconds {report['max_seconds']:g} s per cell; one fresh process per cell.",
        "- Data: "
        + "; ".join(
            f"{k}: {d['rows']:,} rows, {d['bytes'] / 1e9:.2f} GB on disk, {d['shards']} files"
            for k, d in report["data"].items()
        ),
        "- Peak RSS / PSS: summed over the cell process, all its descendants and any Ray "
        "process started after the cell began, sampled every 0.2 s from the parent. RSS counts "
        "shared pages (e.g. Ray's object store) once per process that maps them; PSS splits them.",
        "- rows/s and the rows count are over the whole cell from the first reader call "
        "(setup, e.g. `ray.init`, included) to the last batch; *partial* = stopped at the cap. "
        f"Readers in --repeat-readers run {report['repeats']} times, alternating: rows/s and first "
        "batch are medians, peak memory the max over runs; every run is in `runs`.",
        "- Readers: `pyarrow` = `pyarrow.dataset(dir).to_batches(batch_size=1024)`, no shuffle "
        "(the baseline); `deepfuse` = `scan_parquet(dir).shuffle(100_000, seed=0)"
        ".batch(1024, target='label').prefetch(4)`; `deepfuse_noshuffle` = the same without "
        "`shuffle`; `ray` = `ray.data.read_parquet(dir).iter_torch_batches(batch_size=1024, "
        "local_shuffle_buffer_size=100_000)` after `ray.init(num_cpus=2)`; `hf` = `datasets` "
        "streaming `.shuffle(buffer_size=100_000, seed=0).with_format('arrow').iter(1024)`; "
        "`hf_python` = the same in its default Python format (dicts of lists). Every batch "
        "becomes x (N, 64) float32 + y int64 torch tensors.",
        "",
        "| size | reader | rows | rows/s | runs (k rows/s) | first batch (s) "
        "| peak RSS sum (GB) | peak PSS sum (GB) | procs | status |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in report["results"]:
        if r["reader"] == "check":
            continue
        status = r["status"]
        if status == "partial":
            status = f"partial ({r['rows']:,} rows)"
        if r.get("detail"):
            status += " " + r["detail"].replace("|", "\\|")
        fb = r.get("first_batch_s")
        fb_s = f"{fb:.2f}" if fb is not None else "-"
        runs_s = ", ".join(f"{v / 1e3:,.0f}" for v in r.get("runs_rows_per_s", []) if v)
        lines.append(
            f"| {r['size_gb']:g} GB | {r['reader']} | {r.get('rows', 0):,} | {_rate(r)} | {runs_s} | {fb_s} | "
            f"{_gb(r.get('peak_rss_bytes'))} | {_gb(r.get('peak_pss_bytes'))} | "
            f"{r.get('peak_processes', '-')} | {status} |"
        )
    checks = [r for r in report["results"] if r["reader"] == "check"]
    if checks:
        lines += ["", "## Exact coverage check (untimed)", ""]
        for c in checks:
            if "pyarrow" in c:
                p, q = c["pyarrow"], c["deepfuse"]
                lines.append(
                    f"- {c['size_gb']:g} GB, shuffled deepfuse vs plain pyarrow: **{c['status']}** "
                    f"- rows {q['rows']:,} vs {p['rows']:,}, label sum {q['label_sum']:,} vs "
                    f"{p['label_sum']:,}, row fingerprint (sum and sum of squares mod 2^64 of a "
                    f"per-row key of f0/f1 bits and the label) "
                    f"{'equal' if (q['fp_sum'], q['fp_sqsum']) == (p['fp_sum'], p['fp_sqsum']) else 'DIFFERENT'}, "
                    f"short batches {q['short_batches']}."
                )
            else:
                lines.append(f"- {c['size_gb']:g} GB: {c['status']} {c.get('detail', '')}")
    s = report["summary"]
    if s:
        lines += ["", "## Ratios", ""]
        for key, val in s.items():
            if isinstance(val, dict):
                for k2, v2 in val.items():
                    lines.append(f"- {key} {k2.replace('_', ' ')}: **{v2:.2f}x**")
            else:
                lines.append(f"- {key.replace('_', ' ')}: **{val:.2f}x**")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=_csv(None), default=["1", "8"], help="GB on disk, e.g. 1,8")
    ap.add_argument("--data-dir", type=Path, default=REPO / "bench" / "_data" / "stream")
    ap.add_argument("--readers", type=_csv(READERS), default=READERS)
    ap.add_argument("--max-seconds", type=float, default=120.0, help="cap per cell")
    ap.add_argument(
        "--setup-timeout",
        type=float,
        default=240.0,
        help="extra seconds past --max-seconds before a cell is killed",
    )
    ap.add_argument(
        "--repeats", type=int, default=1, help="runs of each --repeat-readers cell (median shown)"
    )
    ap.add_argument(
        "--repeat-readers",
        type=_csv(READERS),
        default=["pyarrow", "deepfuse", "deepfuse_noshuffle"],
        help="readers run --repeats times (the others, slow ones, run once)",
    )
    ap.add_argument("--no-check", action="store_true", help="skip the exact-coverage check cell")
    ap.add_argument("--check-size", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default="streaming", help="result stem under bench/results/")
    args = ap.parse_args(argv)
    sizes = [float(s) for s in args.sizes]
    command = "python " + " ".join(shlex.quote(a) for a in ["bench/streaming.py", *sys.argv[1:]])

    data = {}
    for size in sizes:
        data[f"{size:g}gb"] = ensure_data(args.data_dir, size)
    runs: list[dict] = []
    report = {
        "machine": machine_info(),
        "command": command,
        "batch": 1024,
        "buffer": 100_000,
        "max_seconds": args.max_seconds,
        "data": data,
        "repeats": args.repeats,
    }
    stem = REPO / "bench" / "results" / args.out
    cells = [
        (size, reader)
        for size in sizes
        for rep in range(max(args.repeats, 1))
        for reader in args.readers
        if rep == 0 or reader in args.repeat_readers
    ]
    if not args.no_check and args.check_size in sizes:
        cells.append((args.check_size, "check"))
    for size, reader in cells:
        d = args.data_dir / f"{size:g}gb"
        print(f"[{size:g} GB] {reader} ...", flush=True)
        r = run_cell(reader, size, d, args)
        runs.append(r)
        print(
            f"    {r['status']}: {r.get('rows', 0):,} rows, "
            f"{r.get('rows_per_s', 0) / 1e3:,.0f} k rows/s, first batch "
            f"{r.get('first_batch_s') or 0:.2f} s, peak RSS {_gb(r['peak_rss_bytes'])} GB, "
            f"PSS {_gb(r['peak_pss_bytes'])} GB, {r['peak_processes']} procs",
            flush=True,
        )
    results = aggregate(runs)
    report["results"] = results
    report["runs"] = runs
    report["summary"] = summarize(results)
    md = render(report)
    _atomic_write(stem.with_suffix(".json"), json.dumps(report, indent=1) + "\n")
    _atomic_write(stem.with_suffix(".md"), md)
    print()
    print(md)


if __name__ == "__main__":
    main()
