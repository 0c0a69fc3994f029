"""Write a fraud-like card-transactions table (0.2% fraud) for examples/anomaly_fraud.yaml.

Deterministic (a seeded numpy generator), no download: each row is one card payment with a
few numeric columns (amount, hour, distance from home, payments in the last 24 h, eight
anonymised "v" features), two categorical ones (merchant category, channel) and the label
``is_fraud`` (1 for 0.2% of the rows). Frauds differ from normal payments the way the
textbook fraud data sets do: larger amounts at night, far from home, in bursts, card not
present, some merchant categories, and a shifted, correlated pattern in the v features; each
fraud shows only some of these signs, so no single column gives them away.

    python examples/make_fraud.py                      # examples/data/fraud.csv.gz, 100,000 rows
    deepfuse train examples/anomaly_fraud.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from deepfuse._utils.io import atomic_write

HERE = Path(__file__).resolve().parent
MERCHANTS = ["grocery", "fuel", "restaurant", "travel", "online_retail", "electronics",
             "jewelry", "pharmacy", "utilities", "entertainment", "gaming", "cash_advance"]  # fmt: skip
CHANNELS = ["chip", "contactless", "online", "phone"]


def make_fraud(rows: int = 100_000, *, fraud_rate: float = 0.002, seed: int = 0) -> pa.Table:
    """The table (``rows`` rows, ``round(rows * fraud_rate)`` frauds, shuffled).

    Example:
        >>> t = make_fraud(5000, seed=1)
        >>> t.num_rows, sum(t.column("is_fraud").to_pylist())
        (5000, 10)
    """
    rng = np.random.default_rng(seed)
    n_fraud = round(rows * fraud_rate)
    fraud = np.zeros(rows, dtype=np.int64)
    fraud[:n_fraud] = 1
    rng.shuffle(fraud)
    is_f = fraud == 1
    # each fraud shows each sign with probability 0.6: no column alone separates them
    sign = lambda: is_f & (rng.random(rows) < 0.6)  # noqa: E731
    amount = np.exp(rng.normal(3.4, 0.9, rows))
    amount = np.where(sign(), amount * rng.uniform(3, 12, rows), amount)
    hour = rng.normal(14, 4, rows) % 24
    hour = np.where(sign(), rng.uniform(0, 5, rows), hour)
    distance = rng.exponential(8, rows)
    distance = np.where(sign(), distance + rng.uniform(200, 3000, rows), distance)
    burst = rng.poisson(2, rows)
    burst = np.where(sign(), burst + rng.poisson(8, rows), burst)
    mean = np.zeros(8)
    cov = 0.5 * np.eye(8) + 0.5  # correlated normal pattern
    v = rng.multivariate_normal(mean, cov, rows)
    shift = rng.normal(0, 1, 8) * 2.5
    v = np.where(sign()[:, None], rng.normal(0, 1, (rows, 8)) + shift, v)  # breaks the pattern
    p_merchant = np.array([20, 14, 14, 5, 12, 6, 2, 8, 8, 6, 3, 2], dtype=float)
    merchant = rng.choice(len(MERCHANTS), rows, p=p_merchant / p_merchant.sum())
    risky = np.array(
        [MERCHANTS.index(m) for m in ("electronics", "jewelry", "gaming", "cash_advance")]
    )
    merchant = np.where(sign(), rng.choice(risky, rows), merchant)
    channel = rng.choice(len(CHANNELS), rows, p=[0.45, 0.35, 0.15, 0.05])
    channel = np.where(sign(), rng.choice([2, 3], rows), channel)
    columns = {
        "amount": np.round(amount, 2),
        "hour": np.round(hour, 2),
        "distance_km": np.round(distance, 1),
        "payments_24h": burst,
        **{f"v{i + 1}": np.round(v[:, i], 4) for i in range(8)},
        "merchant": np.asarray(MERCHANTS)[merchant],
        "channel": np.asarray(CHANNELS)[channel],
        "is_fraud": fraud,
    }
    return pa.table(columns)


def write_csv(table: pa.Table, path: Path) -> None:
    """Write ``table`` as a gzip CSV, atomically."""

    def write(tmp: str) -> None:
        with pa.CompressedOutputStream(tmp, "gzip") as out:
            pacsv.write_csv(table, out)

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)
    print(f"wrote {path} ({table.num_rows} rows)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "data", help="output folder")
    parser.add_argument("--rows", type=int, default=100_000, help="rows (default 100,000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    write_csv(make_fraud(args.rows, seed=args.seed), args.out / "fraud.csv.gz")


if __name__ == "__main__":
    main()
