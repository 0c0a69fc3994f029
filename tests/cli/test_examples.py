"""Every examples/*.yaml is a valid config (checked against the real signatures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfuse.api import resolve_config
from deepfuse.config import load_config

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


def test_examples_exist():
    names = {p.name for p in EXAMPLES}
    assert {
        "mnist_mlp.yaml",
        "mnist_cnn.yaml",
        "mnist_convnet.yaml",
        "imdb_lstm.yaml",
        "adult.yaml",
        "adult_minimal.yaml",
    } <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_resolves(path):
    resolved = resolve_config(load_config(path))
    assert resolved["data"] and resolved["trainer"]["epochs"] >= 1


def test_adult_example_files_exist():
    root = Path(__file__).resolve().parents[2]
    for name in ("adult.yaml", "adult_minimal.yaml"):
        data = load_config(root / "examples" / name)["data"]
        for key in ("train", "test"):
            if key in data:
                assert (root / data[key]).is_file(), data[key]


@pytest.mark.slow
def test_mnist_cnn_example_reaches_99_percent(tmp_path):
    zoo = pytest.importorskip("deepfuse.models.zoo")
    if not hasattr(zoo, "get"):
        pytest.skip("the model zoo has not landed")
    import torch

    from deepfuse.api import train

    torch.set_flush_denormal(True)
    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "examples" / "mnist_cnn.yaml")
    cfg["trainer"]["verbose"] = 0
    result = train(cfg, out_dir=tmp_path)
    assert result.metrics["test"]["accuracy"] >= 0.99
