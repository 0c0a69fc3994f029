"""Training on a streamed 8 GB Parquet set vs the same model on rows held in memory.

    python bench/streaming.py --sizes 8 --readers pyarrow      # makes bench/_data/stream/8gb once
    python bench/stream_train.py                               # writes bench/results/stream_train.md

Two cells, each in a fresh process: ``stream`` trains an MLP 64-256-256-2 with
``model.fit(scan_parquet(dir).shuffle(100_000).batch(1024, target="label").prefetch(4))`` for one
epoch over every row; ``memory`` loads the first ``--memory-rows`` rows into numpy and runs
``model.fit(x, y, batch_size=1024)`` on them. Reported: samples/s over the timed epoch and the
process's peak RSS (ru_maxrss).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.machine import cpu_model, package_versions  # noqa: E402
from deepfuse._utils.io import atomic_write_text  # noqa: E402


def _model():
    import deepfuse as df

    model = df.Sequential(
        [
            df.layers.Dense(256, activation="relu"),
            df.layers.Dense(256, activation="relu"),
            df.layers.Dense(2),
        ]
    )
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    return model


def cell(kind: str, data: str, memory_rows: int) -> dict:
    """Run one cell in this process; returns its measurements."""
    import numpy as np
    import pyarrow.dataset as pads
    import torch

    import deepfuse as df

    torch.set_flush_denormal(True)
    model = _model()
    if kind == "stream":
        rows = pads.dataset(data, format="parquet").count_rows()
        ds = df.data.scan_parquet(data).shuffle(100_000, seed=0).batch(1024, target="label")
        start = time.perf_counter()
        hist = model.fit(ds.prefetch(4), epochs=1, seed=0, verbose=2)
    else:
        table = pads.dataset(data, format="parquet").head(memory_rows)
        x = np.stack([table.column(f"f{i}").to_numpy() for i in range(64)], axis=1)
        y = table.column("label").to_numpy()
        rows = len(y)
        start = time.perf_counter()
        hist = model.fit(x, y, epochs=1, batch_size=1024, seed=0, verbose=2)
    seconds = time.perf_counter() - start
    return {
        "cell": kind,
        "rows": rows,
        "seconds": seconds,
        "samples_per_s": rows / seconds,
        "accuracy": hist.history["accuracy"][-1],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO / "bench" / "_data" / "stream" / "8gb"))
    parser.add_argument("--memory-rows", type=int, default=2_000_000)
    parser.add_argument("--cell", choices=["stream", "memory"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cell:  # child process: one measurement, printed as JSON on the last line
        print(json.dumps(cell(args.cell, args.data, args.memory_rows)))
        return
    results = []
    for kind in ("memory", "stream"):
        out = subprocess.run(
            [sys.executable, __file__, "--cell", kind, "--data", args.data,
             "--memory-rows", str(args.memory_rows)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    mem, stream = results
    lines = [
        "# Training on a streamed 8 GB Parquet set vs rows held in memory",
        "",
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}; machine: {cpu_model()}",
        f"- versions: {package_versions(('torch', 'pyarrow', 'deepfuse'))}",
        f"- command: `python bench/stream_train.py --memory-rows {args.memory_rows}`",
        "- MLP 64-256-256-2, Adam, batch 1024, one epoch; each cell a fresh process",
        "",
        "| cell | rows | samples/s | seconds | train accuracy | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['cell']} | {r['rows']:,} | {r['samples_per_s']:,.0f} | {r['seconds']:.1f} "
            f"| {r['accuracy']:.4f} | {r['peak_rss_mb']:,.0f} |"
        )
    ratio = stream["samples_per_s"] / mem["samples_per_s"]
    lines += ["", f"Streamed / in-memory samples/s: **{ratio:.2f}x**."]
    text = "\n".join(lines) + "\n"
    atomic_write_text(REPO / "bench" / "results" / "stream_train.md", text)
    print(text)


if __name__ == "__main__":
    main()
