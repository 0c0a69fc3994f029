"""One streaming-bench cell: one reader, one epoch over one Parquet directory, in a fresh process.

    python bench/stream_cells/cell.py --reader deepfuse --dir bench/_data/stream/1gb \
        --max-seconds 120 --out result.json

Every batch is materialised as ``x`` (N, 64) float32 and ``y`` (N,) int64 torch tensors and
touched (row count, label sum). Readers that pass ``--max-seconds`` stop there and report
rows/s over what they read (``partial``). ``--reader check`` is the untimed exact-coverage cell:
it reads the directory with plain pyarrow and with the shuffled deepfuse reader and compares row
count, label sum and an order-independent fingerprint of every row. The result is written
atomically to ``--out`` as JSON; memory is sampled by the parent (bench/streaming.py).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

FEATURES = 64
BATCH = 1024
BUFFER = 100_000
SEED = 0


def _files(d: str) -> list[str]:
    return sorted(glob.glob(os.path.join(d, "part-*.parquet")))


def _arrow_to_xy(batch):
    """A pyarrow RecordBatch/Table (f0..f63, label) -> (x float32 (N, 64), y int64 (N,))."""
    import torch

    cols = [batch.column(f"f{i}").to_numpy() for i in range(FEATURES)]
    x = torch.from_numpy(np.stack(cols, axis=1))
    y = torch.from_numpy(np.array(batch.column("label").to_numpy(), dtype=np.int64))
    return x, y


# --- readers: each is a generator of (x, y) torch tensors; setup happens inside (timed) -----


def read_pyarrow(d: str):
    import pyarrow.dataset as pads

    for b in pads.dataset(d, format="parquet").to_batches(batch_size=BATCH):
        yield _arrow_to_xy(b)


def _deepfuse(d: str, shuffle: bool):
    from deepfuse.data import scan_parquet

    ds = scan_parquet(d)
    if shuffle:
        ds = ds.shuffle(BUFFER, seed=SEED)
    for b in ds.batch(BATCH, target="label").prefetch(4):
        yield b["x"], b["y"]


def read_deepfuse(d: str):
    yield from _deepfuse(d, True)


def read_deepfuse_noshuffle(d: str):
    yield from _deepfuse(d, False)


def read_ray(d: str):
    import ray
    import torch

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        ds = ray.data.read_parquet(os.path.abspath(d))
        names = [f"f{i}" for i in range(FEATURES)]
        for b in ds.iter_torch_batches(batch_size=BATCH, local_shuffle_buffer_size=BUFFER):
            x = torch.stack([b[n] for n in names], dim=1)
            yield x, b["label"].to(torch.int64)
    finally:
        ray.shutdown()


def read_hf(d: str):
    """HF streaming in Arrow format (its fastest batched path; rows are still shuffled)."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import datasets

    ds = datasets.load_dataset("parquet", data_files=_files(d), split="train", streaming=True)
    ds = ds.shuffle(buffer_size=BUFFER, seed=SEED).with_format("arrow")
    for b in ds.iter(batch_size=BATCH):
        yield _arrow_to_xy(b)


def read_hf_python(d: str):
    """HF streaming with its default (Python) format: ``iter`` yields dicts of lists."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    import datasets

    ds = datasets.load_dataset("parquet", data_files=_files(d), split="train", streaming=True)
    ds = ds.shuffle(buffer_size=BUFFER, seed=SEED)
    names = [f"f{i}" for i in range(FEATURES)]
    for b in ds.iter(batch_size=BATCH):
        x = torch.tensor(np.array([b[n] for n in names], dtype=np.float32).T)
        yield x, torch.tensor(b["label"], dtype=torch.int64)


READERS = {
    "pyarrow": read_pyarrow,
    "deepfuse": read_deepfuse,
    "deepfuse_noshuffle": read_deepfuse_noshuffle,
    "ray": read_ray,
    "hf": read_hf,
    "hf_python": read_hf_python,
}


def run_reader(name: str, d: str, max_seconds: float) -> dict:
    import torch

    t0 = time.perf_counter()
    rows = 0
    label_sum = 0
    batches = 0
    first = None
    partial = False
    sizes_ok = True
    gen = READERS[name](d)
    for x, y in gen:
        if first is None:
            first = time.perf_counter() - t0
        if (
            x.dtype != torch.float32
            or x.ndim != 2
            or x.shape[1] != FEATURES
            or y.dtype != torch.int64
        ):
            raise SystemExit(
                f"bad batch: x {tuple(x.shape)} {x.dtype}, y {tuple(y.shape)} {y.dtype}"
            )
        n = int(y.shape[0])
        if x.shape[0] != n:
            raise SystemExit(f"x has {x.shape[0]} rows, y has {n}")
        if n != BATCH:
            sizes_ok = False  # pyarrow's to_batches may cut at row-group/file ends: recorded only
        rows += n
        label_sum += int(y.sum())
        batches += 1
        if time.perf_counter() - t0 > max_seconds:
            partial = True
            break
    elapsed = time.perf_counter() - t0
    if partial:
        gen.close()  # runs the reader's cleanup (ray.shutdown)
    return {
        "reader": name,
        "rows": rows,
        "batches": batches,
        "label_sum": label_sum,
        "all_batches_full": sizes_ok,
        "seconds": elapsed,
        "rows_per_s": rows / elapsed if elapsed > 0 else 0.0,
        "first_batch_s": first,
        "partial": partial,
    }


def _fingerprint(x, y) -> tuple[int, int]:
    """Order-independent multiset fingerprint: sums (mod 2**64) of a per-row key and its square.

    The key packs the bit patterns of f0 and f1 (random normals: effectively unique per row)
    plus the label, so a duplicated or missing row changes both sums."""
    a = x[:, :2].contiguous().numpy().view(np.uint64).reshape(-1)
    k = a ^ (y.numpy().astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    with np.errstate(over="ignore"):
        return int(k.sum(dtype=np.uint64)), int((k * k).sum(dtype=np.uint64))


def run_check(d: str) -> dict:
    out = {"reader": "check"}
    for name in ("pyarrow", "deepfuse"):
        t0 = time.perf_counter()
        rows = lab = s1 = s2 = 0
        nonfull = 0
        for x, y in READERS[name](d):
            rows += int(y.shape[0])
            lab += int(y.sum())
            f1, f2 = _fingerprint(x, y)
            s1 = (s1 + f1) % (1 << 64)
            s2 = (s2 + f2) % (1 << 64)
            nonfull += int(y.shape[0] != BATCH)
        out[name] = {
            "rows": rows,
            "label_sum": lab,
            "fp_sum": s1,
            "fp_sqsum": s2,
            "short_batches": nonfull,
            "seconds": time.perf_counter() - t0,
        }
    p, q = out["pyarrow"], out["deepfuse"]
    out["ok"] = all(p[k] == q[k] for k in ("rows", "label_sum", "fp_sum", "fp_sqsum")) and (
        q["short_batches"] <= 1
    )
    out["rows"] = q["rows"]
    out["seconds"] = p["seconds"] + q["seconds"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reader", required=True, choices=[*READERS, "check"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.reader == "check":
        res = run_check(args.dir)
    else:
        res = run_reader(args.reader, args.dir, args.max_seconds)
    res["torch_threads"] = torch.get_num_threads()
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_text(json.dumps(res))
    os.replace(tmp, args.out)
    print(json.dumps(res), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
