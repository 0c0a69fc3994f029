"""The no-config text model (zoo ``bag``) on IMDB, trained with ``deepfuse train``, one command.

Questions answered (issue 13, item 3):

1. IMDB as a CSV of your own (columns ``review, sentiment``, the official 25k/25k split), no
   model section and only the ``bag`` recipe's trainer settings: test accuracy and training
   seconds (target: >= 88% in under 3 minutes on 2 cores).
2. A table with text + numeric + categorical columns: the bag model reads all of them (accuracy
   with the extra columns > with the review alone).
3. Context: TF-IDF (1-2 grams) + logistic regression from scikit-learn on the same split, and
   (``--sweep``) what the Preprocessor's text defaults (``max_tokens``, ``max_len``) cost.

Run from the repository root (about 6-10 minutes on 2 idle cores; ``--sweep`` adds ~6)::

    DEEPFUSE_DATA_DIR=../shared/datasets .venv/bin/python bench/text_default.py [--sweep]

Writes ``bench/results/text_default.md`` (``--out`` to change) and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from deepfuse.models.zoo import RECIPES  # noqa: E402

RECIPE = RECIPES["bag"]


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def write_imdb(work: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """IMDB's official split as two plain CSVs (review, sentiment); rating/file_id/split dropped
    (the rating gives the label away). The training rows are shuffled (the file is sorted)."""
    data_dir = Path(os.environ.get("DEEPFUSE_DATA_DIR", ROOT.parent / "shared" / "datasets"))
    df = pd.read_csv(data_dir / "imdb" / "imdb_reviews.csv.gz")
    train = df[df.split == "train"].sample(frac=1.0, random_state=0)[["review", "sentiment"]]
    test = df[df.split == "test"][["review", "sentiment"]]
    train.to_csv(work / "train.csv", index=False)
    test.to_csv(work / "test.csv", index=False)
    return train, test


def with_table_columns(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Add a numeric and a categorical column that each carry some of the label (noisily)."""
    rng = np.random.default_rng(seed)
    y = (frame.sentiment == "positive").to_numpy().astype(float)
    out = frame.copy()
    out["helpful_votes"] = np.round(3.0 * y + rng.normal(0.0, 2.5, len(y)), 2)
    # a source site: mostly random, but "fan_forum" leans positive and "critics" negative
    sites = np.array(["critics", "fan_forum", "blog", "news", "forum"])
    pick = rng.integers(0, 5, len(y))
    lean = rng.random(len(y)) < 0.3
    pick[lean] = np.where(y[lean] == 1, 1, 0)
    out["source"] = sites[pick]
    return out


def trainer_settings(seed: int = 0) -> dict:
    """Only the recipe, spelled as trainer keys."""
    return {
        "epochs": RECIPE["max_epochs"],
        "batch_size": RECIPE["batch_size"],
        "optimizer": dict(RECIPE["optimizer"]),
        "early_stopping": {"monitor": "val_accuracy", "patience": RECIPE["patience"]},
        "seed": seed,
    }


def deepfuse_train(work: Path, name: str, data: dict, runs: Path) -> dict:
    """``deepfuse train`` a config; returns metrics.json plus the model section it recorded."""
    cfg = {"name": name, "data": data, "trainer": trainer_settings()}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "deepfuse.cli.main", "train", str(path), "--out", str(runs)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(
            f"{name}: deepfuse train failed\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    run_dir = max(
        (p for p in runs.iterdir() if p.is_dir() and p.name.startswith(name)),
        key=lambda p: p.stat().st_mtime,
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    recorded = yaml.safe_load((run_dir / "config.yaml").read_text())
    return {
        "metrics": metrics,
        "model": recorded.get("model", {}),
        "wall_s": wall,
        "load": os.getloadavg()[0],  # other processes on a shared machine slow a run down
        "config": cfg,
        "run_dir": str(run_dir),
    }


def test_accuracy(metrics: dict) -> float:
    for key in ("test.accuracy", "test_accuracy"):
        if key in metrics:
            return float(metrics[key])
    test = metrics.get("test", {})
    return float(test["accuracy"])


def sklearn_baseline(train: pd.DataFrame, test: pd.DataFrame) -> tuple[float, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    xtr, xte = vec.fit_transform(train.review), vec.transform(test.review)
    clf = LogisticRegression(C=4.0, max_iter=1000).fit(xtr, train.sentiment)
    return float((clf.predict(xte) == test.sentiment).mean()), time.perf_counter() - t0


def text_stats(train: pd.DataFrame) -> str:
    """What the defaults cut from IMDB: reviews truncated at 400 words, words out of vocabulary."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from deepfuse.data.text import tokenize_array

    lists = tokenize_array(pa.array(train.review))
    n = pc.list_value_length(lists).to_numpy()
    counts = np.sort(pc.value_counts(pc.list_flatten(lists)).field("counts").to_numpy())[::-1]
    return (
        f"Training reviews: median {np.median(n):.0f} words, p90 {np.quantile(n, 0.9):.0f}, "
        f"max {n.max()}; at max_len 400, {(n > 400).mean():.1%} of reviews are truncated and "
        f"{np.maximum(n - 400, 0).sum() / n.sum():.1%} of all words dropped. {len(counts)} "
        f"distinct words; outside the 19,998 most frequent (max_tokens 20000): "
        f"{counts[19998:].sum() / counts.sum():.1%} of word occurrences (49,998: "
        f"{counts[49998:].sum() / counts.sum():.1%})."
    )


def row(label: str, res: dict) -> str:
    m = res["metrics"]
    return (
        f"| {label} | {test_accuracy(m):.4f} | {m.get('train_time_s', float('nan')):.1f} | "
        f"{res['wall_s']:.0f} | {m.get('epochs', '')} | {res['load']:.1f} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "text_default.md")
    parser.add_argument(
        "--work", type=Path, default=None, help="scratch folder (default: a temp dir)"
    )
    parser.add_argument("--sweep", action="store_true", help="also vary max_tokens / max_len")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="deepfuse_text_default_"))
    work.mkdir(parents=True, exist_ok=True)
    runs = work / "runs"
    train, test = write_imdb(work)
    base = {"train": str(work / "train.csv"), "test": str(work / "test.csv"), "target": "sentiment"}

    results = {"imdb": deepfuse_train(work, "imdb_bag", base, runs)}
    with_table_columns(train, 1).to_csv(work / "train_table.csv", index=False)
    with_table_columns(test, 2).to_csv(work / "test_table.csv", index=False)
    table = {
        "train": str(work / "train_table.csv"),
        "test": str(work / "test_table.csv"),
        "target": "sentiment",
    }
    results["table_all"] = deepfuse_train(work, "imdb_table_all", table, runs)
    only_text = {**table, "features": {"helpful_votes": "ignore", "source": "ignore"}}
    results["table_text_only"] = deepfuse_train(work, "imdb_table_text_only", only_text, runs)
    table_extra = {**table, "features": {"review": "ignore"}}
    results["table_no_text"] = deepfuse_train(work, "imdb_table_no_text", table_extra, runs)
    sweep = []
    if args.sweep:
        for pre in (
            {"max_tokens": 50000},
            {"max_len_cap": 1000},  # automatic max_len = p90 of IMDB's lengths: 457 words
            {"max_len": 1000},
            {"max_tokens": 50000, "max_len": 1000},
        ):
            name = "imdb_bag_" + "_".join(f"{k}{v}" for k, v in pre.items())
            sweep.append((pre, deepfuse_train(work, name, {**base, "preprocessing": pre}, runs)))
    sk_acc, sk_s = sklearn_baseline(train, test)

    head = (
        "| run | test accuracy | train_time_s | wall s (incl. reading, preprocessing) | epochs "
        "| load avg (1 min) after |"
    )
    sep = "|---|---:|---:|---:|---:|---:|"
    model = results["imdb"]["model"]
    lines = [
        "# The no-config text model (zoo `bag`) on IMDB",
        "",
        f"`bench/text_default.py`{' --sweep' if args.sweep else ''}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. CPU: {cpu_name()}, "
        f"{os.cpu_count()} cores (shared machine: other processes may have run).",
        "",
        f"Recipe (`deepfuse.models.zoo.RECIPES['bag']`): `{json.dumps(RECIPE)}`; each run's "
        f"config is only `data:` plus these trainer keys: `{json.dumps(trainer_settings())}`.",
        f"Model recorded by the no-config run: `{json.dumps(model)}`.",
        "",
        "## IMDB (25k train incl. 10% validation / 25k test), review + sentiment only",
        "",
        head,
        sep,
        row("deepfuse, no model section (`bag`)", results["imdb"]),
        f"| TF-IDF 1-2 grams + LogisticRegression (scikit-learn) | {sk_acc:.4f} | {sk_s:.1f} | | | |",
        "",
        "## Text + numeric + categorical (IMDB + `helpful_votes` + `source`, both noisy with the label)",
        "",
        head,
        sep,
        row("all columns (no config)", results["table_all"]),
        row("review only (others `ignore`)", results["table_text_only"]),
        row("numeric + categorical only (review `ignore`)", results["table_no_text"]),
    ]
    if sweep:
        lines += [
            "",
            "## Preprocessor text defaults (max_tokens=20000, max_len = p90 capped at 400)",
            "",
            text_stats(train),
            "",
            head,
            sep,
            row("defaults", results["imdb"]),
        ]
        lines += [row(f"`{json.dumps(pre)}`", res) for pre, res in sweep]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"runs in {runs}")


if __name__ == "__main__":
    main()
