"""Generate a large synthetic tabular Parquet dataset for out-of-core training.

64 float32 features + an int64 label (a noisy linear rule, so a model can learn it), written in
shards of 1M rows with 64k-row row groups, in bounded memory (one shard at a time):

    python examples/make_synthetic_parquet.py --gigabytes 8 --out data/synthetic
    python examples/train_streaming.py data/synthetic

Size on disk is about 365 bytes a row (random float32 barely compresses), so 1 GB is about 2.7M rows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from deepfuse._utils.io import atomic_write

FEATURES = 64
ROWS_PER_SHARD = 1 << 20
BYTES_PER_ROW = 365  # measured: random float32 barely compresses, plus Parquet overhead


def write_shards(out: Path, rows: int, seed: int = 0) -> int:
    """Write ``rows`` rows into ``out/part-NNNNN.parquet``; returns the number of shards."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=FEATURES).astype(np.float32)
    shards = 0
    for start in range(0, rows, ROWS_PER_SHARD):
        n = min(ROWS_PER_SHARD, rows - start)
        x = rng.normal(size=(n, FEATURES)).astype(np.float32)
        y = ((x @ weights + rng.normal(scale=2.0, size=n)) > 0).astype(np.int64)
        table = pa.table({**{f"f{i}": x[:, i] for i in range(FEATURES)}, "label": y})
        path = out / f"part-{shards:05d}.parquet"
        atomic_write(path, lambda tmp, t=table: pq.write_table(t, tmp, row_group_size=1 << 16))
        shards += 1
        print(f"wrote {path} ({n} rows)", flush=True)
    return shards


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.0, help="approximate size on disk")
    parser.add_argument("--out", type=Path, default=Path("data/synthetic"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = int(args.gigabytes * 1e9 / BYTES_PER_ROW)
    args.out.mkdir(parents=True, exist_ok=True)
    shards = write_shards(args.out, rows, seed=args.seed)
    print(f"{rows} rows in {shards} shards under {args.out}")


if __name__ == "__main__":
    main()
