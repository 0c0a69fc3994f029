"""Small labelled CSV tables for CLI tests (importable from any test: tests/ is on sys.path
because of tests/conftest.py)."""

from __future__ import annotations

import random
from pathlib import Path


def city_income_csv(path: Path, rows: int, seed: int = 0) -> Path:
    """Write ``age,income_k,city,label`` rows whose label a small model can learn; return ``path``.

    ``label`` is ``rich`` when ``income_k`` (+20 in paris) exceeds 90, else ``poor``.
    """
    rng = random.Random(seed)
    lines = ["age,income_k,city,label"]
    for _ in range(rows):
        income = round(rng.uniform(10, 150), 1)
        city = rng.choice(["paris", "lyon", "nice"])
        label = "rich" if income + (20 if city == "paris" else 0) > 90 else "poor"
        lines.append(f"{rng.randint(18, 80)},{income},{city},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path
