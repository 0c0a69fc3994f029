"""How much ``import deepfuse`` costs next to ``import torch`` (each in a fresh interpreter).

    .venv/bin/python bench/import_time.py            # 7 alternating rounds, median
    .venv/bin/python bench/import_time.py --rounds 15

Three cells, alternated round by round so machine noise hits them alike:
  * ``torch``: ``import torch``
  * ``deepfuse``: ``import deepfuse`` (lazy: loads nothing heavy)
  * ``deepfuse+api``: ``import deepfuse; deepfuse.Sequential; deepfuse.layers`` — what a script
    that builds a model pays (torch included)
Writes bench/results/import_time.md (atomically).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from deepfuse._utils.io import atomic_write_text  # noqa: E402

CELLS = {
    "torch": "import torch",
    "deepfuse": "import deepfuse",
    "deepfuse+api": "import deepfuse; deepfuse.Sequential; deepfuse.layers.Dense",
}


def time_cell(code: str) -> float:
    """Wall-clock seconds of a fresh ``python -c code`` (interpreter start included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    baseline = time_cell("pass")
    times: dict[str, list[float]] = {name: [] for name in CELLS}
    for _ in range(args.rounds):
        for name, code in CELLS.items():
            times[name].append(time_cell(code))
    med = {name: statistics.median(v) - baseline for name, v in times.items()}
    lines = [
        "# Import time: deepfuse vs torch",
        "",
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"- command: `{Path(sys.executable).name} bench/import_time.py --rounds {args.rounds}`",
        f"- median of {args.rounds} alternating fresh-process rounds, minus the bare interpreter "
        f"start ({baseline * 1000:.0f} ms)",
        "",
        "| cell | seconds | vs import torch |",
        "|---|---:|---:|",
    ]
    for name, value in med.items():
        lines.append(f"| `{CELLS[name]}` | {value:.3f} | {value / med['torch']:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    atomic_write_text(ROOT / "bench" / "results" / "import_time.md", text)


if __name__ == "__main__":
    main()
