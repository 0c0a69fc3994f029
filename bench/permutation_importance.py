"""Permutation importance of the raw Adult columns for the examples/adult.yaml model.

One command (about a minute on 2 cores):

    DEEPFUSE_DATA_DIR=/work/shared/datasets python examples/make_csvs.py   # once: the CSVs
    OMP_NUM_THREADS=2 python bench/permutation_importance.py

Trains the tabular model of examples/adult.yaml (5 epochs, seed 0), then shuffles each raw column
of the held-out test CSV (examples/data/adult_test.csv.gz) 5 times, re-runs the saved
preprocessing and the model, and ranks the columns by the mean drop of test accuracy (and of
AUC). Writes bench/results/permutation_importance_adult.md (and .json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_model, package_versions  # noqa: E402
from deepfuse._utils.io import atomic_write_json, atomic_write_text  # noqa: E402
from deepfuse.api import train  # noqa: E402
from deepfuse.api.use import load_run as _load  # noqa: E402
from deepfuse.config import load_config  # noqa: E402
from deepfuse.data.routes import read_input  # noqa: E402
from deepfuse.interpret import permutation_importance  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--out", default=str(ROOT / "bench/results/permutation_importance_adult.md")
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.set_flush_denormal(True)

    cfg = load_config(ROOT / "examples" / "adult.yaml")
    for key in ("train", "test"):
        cfg["data"][key] = str(ROOT / cfg["data"][key])
    cfg["trainer"]["verbose"] = 0
    start = time.perf_counter()
    result = train(cfg, out_dir=tempfile.mkdtemp(prefix="deepfuse-adult-"))
    train_s = time.perf_counter() - start
    _, _, model = _load(result.run_dir)  # what `deepfuse explain RUN` sees
    table = read_input(cfg["data"]["test"])
    start = time.perf_counter()
    acc = permutation_importance(model, table, "income", "accuracy", args.repeats, seed=0)
    auc = permutation_importance(model, table, "income", "auc", args.repeats, seed=0)
    perm_s = time.perf_counter() - start
    auc_by_name = {row["column"]: row for row in auc.ranking}

    out = Path(args.out)
    atomic_write_json(
        out.with_suffix(".json"),
        {"accuracy": acc.to_dict(), "auc": auc.to_dict(), "test_metrics": result.metrics["test"]},
    )
    lines = [
        "# Permutation importance of the raw Adult columns (examples/adult.yaml model)",
        "",
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}; machine: {cpu_model()}",
        f"- versions: {package_versions(['torch', 'pyarrow', 'deepfuse'])}",
        "- command: `OMP_NUM_THREADS=2 python bench/permutation_importance.py` "
        "(same as `deepfuse explain RUN --data examples/data/adult_test.csv.gz`)",
        f"- model: examples/adult.yaml (tabular MLP 64-32, 5 epochs, seed 0), trained in "
        f"{train_s:.0f} s; test accuracy {result.metrics['test']['accuracy']:.4f}",
        f"- data: {acc.rows} rows of the held-out test CSV; each raw column shuffled "
        f"{acc.n_repeats} times (seed 0), then the run's own preprocessing and the model; "
        f"{perm_s:.0f} s for both metrics",
        f"- baseline: accuracy {acc.baseline:.4f}, AUC {auc.baseline:.4f}",
        "",
        f"| rank | raw column | accuracy drop (mean ± std, {acc.n_repeats} shuffles) | AUC drop |",
        "|---:|---|---:|---:|",
    ]
    for i, row in enumerate(acc.ranking, 1):
        a = auc_by_name[row["column"]]
        lines.append(
            f"| {i} | {row['column']} | {row['mean']:+.4f} ± {row['std']:.4f} | "
            f"{a['mean']:+.4f} ± {a['std']:.4f} |"
        )
    lines.append("")
    atomic_write_text(out, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
