"""The facts of metrics.json: dates, timings, data facts and the environment."""

from __future__ import annotations

import re
from types import SimpleNamespace

import torch

from deepfuse.run import data_summary, environment, run_facts, utc_now


def test_run_facts_keys_and_rounding():
    prep = SimpleNamespace(
        train={"y": torch.tensor([0.0, 2.0])}, val=None, test=iter([]), target="y",
        task="regression", classes=None,
    )  # fmt: skip
    facts = run_facts(prep, torch.nn.Linear(1, 1), "2026-01-01 00:00:00 UTC", 1.23456)
    assert facts["eval_time_s"] == 1.235 and facts["started_at"] == "2026-01-01 00:00:00 UTC"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", facts["finished_at"])
    # a streamed split (not a dict of tensors) is left out; statistics are population ones
    assert facts["data"] == {"target": {"train": {"mean": 1.0, "std": 1.0, "min": 0.0, "max": 2.0}}}
    assert facts["environment"]["device"] == "cpu"
    assert facts["environment"]["torch"] == torch.__version__


def test_class_balance_counts_every_class():
    prep = SimpleNamespace(
        train={"y": torch.tensor([2, 2, 0])}, val={"y": torch.tensor([1])}, test={},
        target="y", task="multiclass", classes=["a", "b", "c"],
    )  # fmt: skip
    assert data_summary(prep) == {
        "class_balance": {"train": {"a": 1, "b": 0, "c": 2}, "validation": {"a": 0, "b": 1, "c": 0}}
    }


def test_environment_and_clock():
    assert environment()["cpu_count"] is not None
    assert utc_now().endswith(" UTC")
