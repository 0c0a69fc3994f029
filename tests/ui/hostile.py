"""Hostile run folders for the dashboard (issue 11, findings 4 and 5), written the way a careless
or malicious user could leave them in a runs folder. Used by tests/ui/test_hostile.py and by
bench/ui_hostile.py (one command: the dashboard under load with one of each among normal runs).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .conftest import write_partial, write_run

#: A billion-laughs config: 500 bytes that expand to 10^8 strings under a valid key.
BOMB_CONFIG = "".join(
    f"{k}: &{k} [{', '.join([f'*{p}'] * 10)}]\n" for p, k in zip("abcdefg", "bcdefgh")
).join(["a: &a [x, x, x, x, x, x, x, x, x, x]\n", "name: bomb\ntrainer: {epochs: *h}\n"])

#: A metrics.json nested far deeper than any JSON parser's recursion limit.
DEEP_JSON = "[" * 200_000 + "]" * 200_000

STEP_HEADER = "epoch,step,global_step,loss,lr\n"


def write_steps(path: Path, rows: int, *, start: int = 0, per_epoch: int = 1000) -> None:
    """``rows`` step rows after global step ``start`` (what StepLog writes), appended fast."""
    lines = []
    for g in range(start, start + rows):
        epoch, step = divmod(g, per_epoch)
        lines.append(f"{epoch + 1},{step + 1},{g + 1},{1.0 / (1 + g * 1e-4):.6f},0.001\n")
    with open(path, "a" if start else "w") as fh:
        if not start:
            fh.write(STEP_HEADER)
        fh.write("".join(lines))


def write_hostile_runs(root: Path, *, huge_steps: int = 3_000_000) -> dict[str, str]:
    """One run per hostile case in ``root``; returns ``{case: run name}``.

    - ``bomb``: a finished run whose config.yaml is an alias bomb;
    - ``fifo``: a ``.partial`` run with a FIFO as a checkpoint's state.json and manifest.json;
    - ``deep``: a finished run whose metrics.json is nested 200,000 levels deep;
    - ``counts``: a finished run whose confusion counts are not integers;
    - ``huge``: a ``.partial`` run whose steps.csv has ``huge_steps`` rows.
    """
    names = {
        "bomb": "bomb-20250101-000001",
        "fifo": "fifo-20250101-000002",
        "deep": "deep-20250101-000003",
        "counts": "counts-20250101-000004",
        "huge": "huge-20250101-000005",
    }
    (write_run(root, names["bomb"]) / "config.yaml").write_text(BOMB_CONFIG)
    fifo = write_partial(root, names["fifo"], done_steps=8)
    step = fifo / "checkpoints" / "step-00000012"
    step.mkdir(parents=True)
    os.mkfifo(step / "state.json")
    os.mkfifo(step / "manifest.json")
    os.mkfifo(fifo / "history.csv")
    (write_run(root, names["deep"]) / "metrics.json").write_text(DEEP_JSON)
    counts = write_run(root, names["counts"])
    evaluation = json.loads((counts / "evaluation.json").read_text())
    evaluation["confusion_matrix"]["counts"] = [["a", 1.5, None], [2, "x", {}], [0, 0, 1e400]]
    (counts / "evaluation.json").write_text(json.dumps(evaluation).replace("Infinity", "1e400"))
    huge = write_partial(root, names["huge"], done_steps=4)
    write_steps(huge / "steps.csv", huge_steps)
    return names
