"""Every examples/*.yaml is a valid config (checked against the real signatures)."""

from __future__ import annotations

import os
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
    cfg = load_config(path)
    resolved = resolve_config(cfg)
    epochs = resolved["trainer"]["epochs"]
    assert resolved["data"]
    # epochs the example leaves out are chosen from the data size when it runs
    assert epochs == "auto" if "epochs" not in (cfg.get("trainer") or {}) else epochs >= 1


@pytest.mark.skipif(
    not os.environ.get("DEEPFUSE_DATA_DIR"),
    reason="needs DEEPFUSE_DATA_DIR with adult/ and imdb/ (e.g. ../shared/datasets)",
)
def test_make_csvs_writes_what_the_csv_examples_read(tmp_path):
    """examples/make_csvs.py writes exactly the files the CSV example configs point at."""
    import runpy

    root = Path(__file__).resolve().parents[2]
    script = runpy.run_path(str(root / "examples" / "make_csvs.py"))
    script["main"](["--out", str(tmp_path)])
    for name in ("adult.yaml", "adult_minimal.yaml", "imdb_csv.yaml"):
        data = load_config(root / "examples" / name)["data"]
        for key in ("train", "test"):
            if key in data:
                assert (tmp_path / Path(data[key]).name).is_file(), data[key]
                assert Path(data[key]).parent == Path("examples/data")


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
