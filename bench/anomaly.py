"""The anomaly benchmark: deepfuse ``task: anomaly`` against scikit-learn's IsolationForest on
the same training and test rows, on five datasets that need no download.

Run (from the repository root, nothing else heavy on the machine; about 10 minutes on 2 cores):

    .venv/bin/python bench/anomaly.py                  # every row; bench/results/anomaly.md
    .venv/bin/python bench/anomaly.py --only fashion   # some datasets again (others kept)
    .venv/bin/python bench/anomaly.py --quick          # small sizes: bench/_logs/anomaly.quick.md

The datasets are :mod:`bench._data.anomaly_sets` (Adult, digits, covertype-like, fraud-like,
Fashion-MNIST one class vs the rest). For each row:

- **deepfuse**: ``deepfuse.api.train`` of ``{task: {name: anomaly, normal: [...]}, data:
  {train, test, target} | {dataset: fashion_mnist}, trainer: {epochs, seed: 0}}`` (no model
  section: the task's default model), then the saved model's ``anomaly_score`` on the test
  rows (a table's rows go through the run's own preprocessor).
- **IsolationForest** (``random_state=0``, defaults otherwise) fitted on the normal rows of the
  same training file (deepfuse fits on them less its validation rows), tables one-hot encoded
  (categoricals, missing as its own category) and standardised (numerics, a missing value as
  the median), images as flattened pixels in [0, 1]; the score is ``-score_samples``.

Both are scored on the same test rows: ROC-AUC and PR-AUC (average precision, anomaly = the
positive class). The verdict compares ROC-AUC: "matches" within :data:`TOLERANCE`, else
"above" / "below". Until ``task: anomaly`` is registered the deepfuse half says "pending".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._data.anomaly_sets import SETS, AnomalySet  # noqa: E402  (repo root on sys.path)
from bench.machine import cpu_model, package_versions  # noqa: E402

RESULTS = REPO / "bench" / "results"
LOGS = REPO / "bench" / "_logs"
#: ROC-AUC within this of IsolationForest's "matches".
TOLERANCE = 0.02
PENDING = "pending merge (task: anomaly is not registered in this checkout)"


def table_features(s: AnomalySet) -> tuple[np.ndarray, np.ndarray]:
    """IsolationForest's ``(train, test)`` matrices: the normal training rows and every test
    row, one-hot categoricals + standardised numerics fitted on those training rows."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = pd.read_csv(s.train)
    test = pd.read_csv(s.test)
    train = train[~s.is_anomaly("train")].drop(columns=[s.target])
    test = test.drop(columns=[s.target])
    numeric = [c for c in train.columns if pd.api.types.is_numeric_dtype(train[c])]
    categorical = [c for c in train.columns if c not in numeric]
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                              OneHotEncoder(handle_unknown="ignore")), categorical),
    ], sparse_threshold=0.0)  # fmt: skip
    return prep.fit_transform(train), prep.transform(test)


def image_features(s: AnomalySet) -> tuple[np.ndarray, np.ndarray]:
    """Flattened pixels in [0, 1]: the normal training images and every test image."""
    x, _ = s.train
    x_test, _ = s.test
    x = x[~s.is_anomaly("train")]
    return (x.reshape(len(x), -1) / 255.0).astype(np.float32), (
        x_test.reshape(len(x_test), -1) / 255.0
    ).astype(np.float32)


def scores_of(y_anomaly: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {
        "roc_auc": float(roc_auc_score(y_anomaly, scores)),
        "pr_auc": float(average_precision_score(y_anomaly, scores)),
    }


def isolation_forest(s: AnomalySet) -> dict[str, Any]:
    from sklearn.ensemble import IsolationForest

    start = time.perf_counter()
    train, test = table_features(s) if s.kind == "table" else image_features(s)
    forest = IsolationForest(random_state=0).fit(train)
    scores = -forest.score_samples(test)  # higher = more anomalous
    out = scores_of(s.is_anomaly("test"), scores)
    out["seconds"] = round(time.perf_counter() - start, 1)
    out["train_rows"] = len(train)
    return out


def anomaly_registered() -> bool:
    from deepfuse.api.tasks import TASKS

    return "anomaly" in TASKS


def deepfuse_cell(s: AnomalySet, out: Path) -> dict[str, Any]:
    """Train the ``task: anomaly`` run of ``s``; its model's scores on the test rows."""
    import torch

    from deepfuse.api import train
    from deepfuse.models.serialization import load_model

    if not anomaly_registered():
        return {"pending": PENDING}
    cfg = {
        "name": s.name.replace("/", "_"),
        "task": s.task,
        "data": s.data,
        "trainer": {"epochs": s.epochs, "seed": 0, "verbose": 0},
    }
    start = time.perf_counter()
    try:
        run = train(cfg, out_dir=out).run_dir
    except Exception as exc:  # one failing row must not cost the others
        return {"error": f"training failed: {type(exc).__name__}: {str(exc)[:300]}"}
    seconds = round(time.perf_counter() - start, 1)
    metrics = json.loads((run / "metrics.json").read_text())
    facts = {"seconds": seconds, "run": str(run), "train_time_s": metrics.get("train_time_s"),
             "run_test": metrics.get("test")}  # fmt: skip
    try:
        model = load_model(run)
        rows = _test_tensors(s, model)
        n = len(next(iter(rows.values())))
        parts = []
        with torch.no_grad():
            for i in range(0, n, 1024):  # bounded memory: 1,024 rows at a time
                batch = {k: v[i : i + 1024] for k, v in rows.items()}
                parts.append(model.anomaly_score(batch).reshape(-1).float().cpu())
        return scores_of(s.is_anomaly("test"), torch.cat(parts).numpy()) | facts
    except Exception as exc:
        # the run scored the same test rows itself: its numbers, saying where they come from
        test = metrics.get("test") or {}
        roc = next((v for k, v in test.items() if "roc_auc" in k), None)
        pr = next((v for k, v in test.items() if "pr_auc" in k or "average_precision" in k), None)
        if roc is None or pr is None:
            return {"error": f"scoring failed: {type(exc).__name__}: {str(exc)[:300]}"} | facts
        why = f"scores from the run's metrics.json (rescoring failed: {type(exc).__name__})"
        return {"roc_auc": float(roc), "pr_auc": float(pr), "note": why} | facts


def _test_tensors(s: AnomalySet, model: Any) -> dict[str, Any]:
    """The test rows as the model takes them: images ``{"x": (N, 1, 28, 28) in [0, 1]}``, a
    table through the run's preprocessor (the label dropped: it is never an input)."""
    import torch

    if s.kind == "images":
        x_test, y_test = s.test
        x = torch.from_numpy(np.asarray(x_test, dtype=np.float32) / 255.0)[:, None]
        return {"x": x, "y": torch.as_tensor(np.asarray(y_test), dtype=torch.int64)}
    from deepfuse.data.io import read_table  # as the run read its files (empty = missing)

    table = read_table(s.test)
    return dict(model.preprocessor.transform(table.drop_columns([s.target])))


def verdict(row: dict[str, Any]) -> str:
    deep, forest = row.get("deepfuse") or {}, row.get("iforest") or {}
    if "pending" in deep:
        return "pending merge"
    if "error" in deep:
        return f"failed: {deep['error']}"
    gap = deep["roc_auc"] - forest["roc_auc"]
    if abs(gap) <= TOLERANCE:
        return "matches"
    return f"{'above' if gap > 0 else 'below'} ({gap:+.3f})"


def where_it_falls_short(rows: list[dict[str, Any]]) -> list[str]:
    """The honest part, computed from the rows: where deepfuse is below IsolationForest, and
    where neither detector separates the anomalies (ROC-AUC under 0.6: not a detector at all)."""
    below = [f"{r['dataset']} ({r['verdict'].split('(')[1].rstrip(')')})" for r in rows
             if r["verdict"].startswith("below")]  # fmt: skip
    out = ["Where deepfuse does not match IsolationForest: " + (", ".join(below) or "none") + "."]
    weak = [
        r["dataset"] for r in rows
        if (r.get("deepfuse") or {}).get("roc_auc", 1.0) < 0.6
        and (r.get("iforest") or {}).get("roc_auc", 1.0) < 0.6
    ]  # fmt: skip
    if weak:
        out += ["", "Where neither separates the anomalies (both ROC-AUC below 0.6: these anomalies "
                "do not differ from the normal rows in a way an unsupervised detector sees; a "
                "supervised model is the tool there): " + ", ".join(weak) + "."]  # fmt: skip
    return out


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    return f"{v:.{digits}f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)


def markdown(rows: list[dict[str, Any]], header: dict[str, str], walls: dict[str, float]) -> str:
    cols = ["dataset", "train rows (normal)", "test rows", "anomaly rate (test)",
            "IForest ROC-AUC", "IForest PR-AUC", "deepfuse ROC-AUC", "deepfuse PR-AUC",
            "verdict"]  # fmt: skip
    lines = ["| " + " | ".join(cols) + " |", "|---|" + "---:|" * (len(cols) - 2) + "---|"]
    for r in rows:
        deep, forest = r.get("deepfuse") or {}, r.get("iforest") or {}
        cells = [r["dataset"], _fmt(r["train_rows"]), _fmt(r["test_rows"]),
                 f"{100 * r['anomaly_rate']:.2f}%", _fmt(forest.get("roc_auc")),
                 _fmt(forest.get("pr_auc")),
                 _fmt(deep.get("roc_auc"), 3) if "roc_auc" in deep else "pending",
                 _fmt(deep.get("pr_auc"), 3) if "pr_auc" in deep else "pending",
                 r["verdict"]]  # fmt: skip
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    for group in ("digits", "fashion"):  # one-class rows: the mean over the normal classes
        mine = [r for r in rows if r["dataset"].startswith(group + "/")]
        if len(mine) > 1:
            mean = {}
            for side in ("iforest", "deepfuse"):
                for k in ("roc_auc", "pr_auc"):
                    vals = [(r.get(side) or {}).get(k) for r in mine]
                    ok = all(v is not None for v in vals)
                    mean[(side, k)] = _fmt(float(np.mean(vals))) if ok else "pending"
            lines.append(
                f"| **{group} (mean of {len(mine)})** | | | | {mean[('iforest', 'roc_auc')]} | "
                f"{mean[('iforest', 'pr_auc')]} | {mean[('deepfuse', 'roc_auc')]} | "
                f"{mean[('deepfuse', 'pr_auc')]} | |"
            )
    out = ["# Anomaly detection: deepfuse `task: anomaly` against IsolationForest", ""]
    out += [f"- {k}: {v}" for k, v in header.items()]
    out += ["", *lines, "", *where_it_falls_short(rows)]
    out += ["", "How each dataset was made (and subsampled):", ""]
    notes = {}
    for r in rows:
        notes.setdefault(r["dataset"].split("/")[0], r["note"])
    for name, note in notes.items():
        wall = walls.get(name)
        out.append(f"- **{name}**: {note}" + (f" (wall time {wall:.1f} s)" if wall else ""))
    errors = [f"- {r['dataset']}: {r['deepfuse']['error']}" for r in rows
              if "error" in (r.get("deepfuse") or {})]  # fmt: skip
    if errors:
        out += ["", "deepfuse rows that failed:", "", *errors]
    noted = [f"- {r['dataset']}: {r['deepfuse']['note']}" for r in rows
             if "note" in (r.get("deepfuse") or {})]  # fmt: skip
    if noted:
        out += ["", "Notes on deepfuse rows:", "", *noted]
    out += [
        "",
        "Train rows: the normal rows of the training file, on which IsolationForest is fitted "
        "(deepfuse fits on them less its validation rows, which choose its threshold). Both "
        "are scored on every test row; anomaly = the positive class of ROC-AUC and PR-AUC "
        f"(average precision). Verdict: deepfuse's ROC-AUC against IsolationForest's, "
        f'"matches" within ±{TOLERANCE}. Wall time per dataset: writing the data, both '
        "detectors, and deepfuse's whole run (its report included).",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help=f"comma list of datasets: {', '.join(SETS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke check)")
    parser.add_argument("--runs", default=None, help="keep the data and runs in this folder")
    args = parser.parse_args(argv)
    names = list(SETS) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        parser.error(f"unknown datasets {', '.join(unknown)}; choose from {', '.join(SETS)}")
    folder, stem = (LOGS, "anomaly.quick") if args.quick else (RESULTS, "anomaly")
    json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
    kept: dict[str, Any] = json.loads(json_path.read_text()) if json_path.is_file() else {}
    out = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="anomaly-"))
    rows = [r for r in kept.get("rows", []) if r["dataset"].split("/")[0] not in names]
    walls = {k: v for k, v in (kept.get("walls") or {}).items() if k not in names}
    registered = anomaly_registered()
    for name in names:
        start = time.perf_counter()
        print(f"[{name}] writing the data ...", flush=True)
        for s in SETS[name](out / "data", quick=args.quick):
            row = {"dataset": s.name, "note": s.note, "test_rows": len(s.labels("test")),
                   "anomaly_rate": s.anomaly_rate("test")}  # fmt: skip
            row["iforest"] = isolation_forest(s)
            row["train_rows"] = row["iforest"]["train_rows"]
            row["deepfuse"] = deepfuse_cell(s, out / "runs")
            row["verdict"] = verdict(row)
            print(f"[{s.name}] IForest {row['iforest']['roc_auc']:.3f}; {row['verdict']}",
                  flush=True)  # fmt: skip
            rows.append(row)
        walls[name] = round(time.perf_counter() - start, 1)
    order = {n: i for i, n in enumerate(SETS)}
    rows.sort(key=lambda r: order[r["dataset"].split("/")[0]])  # stable: classes stay in order
    versions = package_versions(["torch", "scikit-learn", "deepfuse"])
    header = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{cpu_model()} ({os.cpu_count()} cores visible)",
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "command": " ".join(["python bench/anomaly.py", *(sys.argv[1:] if argv is None else argv)]),
        "deepfuse": "task: anomaly, its default model" if registered else PENDING,
    }
    header["wall time"] = f"{sum(walls.values()):.0f} s for every dataset" + (
        "" if registered else " (IsolationForest half only)"
    )
    if args.quick:
        header["note"] = "--quick: small sizes, the numbers mean nothing"
    folder.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({"header": header, "rows": rows, "walls": walls}, indent=1)
                         + "\n")  # fmt: skip
    md_path.write_text(markdown(rows, header, walls))
    print(md_path.read_text())
    failed = [r for r in rows if "error" in (r.get("deepfuse") or {})]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
