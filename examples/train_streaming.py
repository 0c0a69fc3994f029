"""Train an MLP on a Parquet dataset larger than memory, streaming it batch by batch.

    python examples/make_synthetic_parquet.py --gigabytes 8 --out data/synthetic
    python examples/train_streaming.py data/synthetic --epochs 1

Memory stays bounded by the shuffle buffer (100k rows) plus one read chunk, whatever the
dataset's size; the script prints rows/s and the process's peak RSS at the end.
"""

from __future__ import annotations

import argparse
import resource
import time

import pyarrow.dataset as pads
import torch

import deepfuse as df
from deepfuse.data.streaming import resolve_paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a Parquet file, folder or glob")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--shuffle-buffer", type=int, default=100_000)
    args = parser.parse_args(argv)
    torch.set_flush_denormal(True)

    ds = (
        df.data.scan_parquet(args.source)
        .shuffle(args.shuffle_buffer, seed=0)
        .batch(args.batch_size, target="label")
        .prefetch(4)
    )
    model = df.Sequential(
        [
            df.layers.Dense(256, activation="relu"),
            df.layers.Dense(256, activation="relu"),
            df.layers.Dense(2),
        ]
    )
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    start = time.perf_counter()
    hist = model.fit(ds, epochs=args.epochs, seed=0)
    seconds = time.perf_counter() - start
    # Row count from the Parquet footers (no data read).
    rows = pads.dataset(resolve_paths(args.source, "parquet"), format="parquet").count_rows()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"final accuracy {hist.history['accuracy'][-1]:.4f}; {seconds:.1f} s", end="")
    print(f"; {rows * args.epochs / seconds:,.0f} rows/s", end="")
    print(f"; peak RSS {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
