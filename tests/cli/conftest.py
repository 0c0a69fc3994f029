"""Small tables for CLI tests, written fresh into tmp_path."""

from __future__ import annotations

import random

import pytest

from deepfuse.cli.main import main


@pytest.fixture
def run_cli(capsys):
    """Call ``deepfuse <args>`` in-process; return ``(exit_code, stdout, stderr)``."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def write_tabular(path, rows=200, seed=0):
    """numeric + categorical features; the label depends on both (learnable in one epoch)."""
    rng = random.Random(seed)
    lines = ["age,income_k,city,owns_car,label"]
    for _ in range(rows):
        age = rng.randint(18, 80)
        income = round(rng.uniform(10, 150), 1)
        city = rng.choice(["paris", "lyon", "nice", "lille"])
        car = rng.choice(["yes", "no"])
        label = "rich" if income + (20 if city == "paris" else 0) > 90 else "poor"
        lines.append(f"{age},{income},{city},{car},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_text(path, rows=120, seed=0):
    """A free-text column and a sentiment label."""
    rng = random.Random(seed)
    good = ["great", "wonderful", "loved", "excellent", "fun", "brilliant"]
    bad = ["awful", "boring", "hated", "terrible", "dull", "waste"]
    filler = ["the", "movie", "was", "a", "plot", "actors", "really", "and", "story"]
    lines = ["review,sentiment"]
    for i in range(rows):
        positive = i % 2 == 0
        words = rng.sample(filler, 5) + rng.sample(good if positive else bad, 2)
        rng.shuffle(words)
        lines.append(f'"{" ".join(words)}",{"pos" if positive else "neg"}')
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def make_tabular():
    """The table writer, for tests that need a second file."""
    return write_tabular


@pytest.fixture
def make_text():
    """The text-table writer, for tests that need a second file."""
    return write_text


@pytest.fixture
def tabular_csv(tmp_path):
    return write_tabular(tmp_path / "table.csv")


@pytest.fixture
def text_csv(tmp_path):
    return write_text(tmp_path / "reviews.csv")
