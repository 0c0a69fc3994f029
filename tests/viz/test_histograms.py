"""HistogramLog + deepfuse.viz.plot_histograms: exact counts, no effect on training, clean resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib", reason="matplotlib (deepfuse[viz]) is not installed")

import deepfuse as df
from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.training import callbacks
from deepfuse.training.callbacks import Callback, HistogramLog
from deepfuse.training.callbacks.histograms import tensor_histogram
from deepfuse.viz import plot_histograms, read_histograms


def test_tensor_histogram_matches_numpy_and_torch_histc():
    x = torch.randn(1000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    h = tensor_histogram(x, bins=30)
    want_counts, want_edges = np.histogram(x.numpy(), bins=30)
    assert h["counts"] == want_counts.astype(float).tolist()
    np.testing.assert_allclose(h["edges"], want_edges, rtol=0, atol=1e-12)
    assert sum(h["counts"]) == x.numel()
    assert h["mean"] == pytest.approx(float(x.mean()))
    assert h["std"] == pytest.approx(float(x.numpy().std()))
    w = torch.randn(7, 5)  # float32 weights: the same as torch.histc over the same range
    h = tensor_histogram(w, bins=8)
    assert h["counts"] == torch.histc(w, 8, float(w.min()), float(w.max())).tolist()
    zeros = tensor_histogram(torch.zeros(4), bins=3)  # a constant tensor (zero biases)
    counts, edges = np.histogram(np.zeros(4), bins=3)
    assert zeros["counts"] == counts.tolist() and zeros["edges"] == pytest.approx(edges.tolist())
    bad = tensor_histogram(torch.tensor([1.0, float("nan"), 3.0, float("inf")]), bins=2)
    assert bad["counts"] == [1.0, 1.0] and bad["nonfinite"] == 2


def _fit(path=None, *, epochs=3, extra=(), checkpoint_dir=None, resume=False, every=None):
    torch.manual_seed(0)
    model = df.Sequential(
        [df.layers.Dense(6, activation="relu"), df.layers.Dropout(0.3), df.layers.Dense(2)]
    )
    model.compile(optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9}, loss="cross_entropy")
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, 4, generator=g)
    y = (x[:, 0] > x[:, 1]).long()
    cbs = [HistogramLog(path, bins=10, every_n_steps=every)] if path is not None else []
    model.fit(
        x, y, epochs=epochs, batch_size=8, seed=3, verbose=0, callbacks=[*cbs, *extra],
        checkpoint_dir=checkpoint_dir, checkpoint_every=3, resume=resume,
    )  # fmt: skip
    return model


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """(model, path): a tiny 3-epoch fit with a HistogramLog, shared by the tests below."""
    path = tmp_path_factory.mktemp("hist") / "histograms.json"
    return _fit(path), path


def test_one_entry_per_epoch_per_parameter_and_training_is_bit_identical(logged):
    with_log, path = logged
    without = _fit()
    for key, value in without.state_dict().items():
        assert torch.equal(with_log.state_dict()[key], value), key
    doc = read_histograms(path)
    names = [n for n, _ in with_log.named_parameters()]
    assert doc["epochs"] == [1, 2, 3] and doc["steps"] == [4, 8, 12] and doc["bins"] == 10
    assert list(doc["weights"]) == names and list(doc["gradients"]) == names
    for name, p in with_log.named_parameters():
        entries = doc["weights"][name]
        assert [e["epoch"] for e in entries] == [1, 2, 3]
        assert all(len(e["counts"]) == 10 and len(e["edges"]) == 11 for e in entries)
        assert all(sum(e["counts"]) == p.numel() for e in entries)
        last = entries[-1]  # the final weights
        assert last["counts"] == tensor_histogram(p, 10)["counts"]
        assert sum(doc["gradients"][name][0]["counts"]) == p.numel()
    assert doc["total_params"] == 4 and doc["note"] is None


def test_every_n_steps_and_the_largest_tensor_cap(tmp_path):
    path = tmp_path / "h.json"
    _fit(path, epochs=2, every=3)
    doc = json.loads(path.read_text())
    assert doc["steps"] == [3, 6] and doc["epochs"] == [1, 2]
    log = HistogramLog(tmp_path / "cap.json", max_params=2)
    model = _fit(None, epochs=1, extra=[log])
    doc = read_histograms(tmp_path / "cap.json")
    sizes = {n: p.numel() for n, p in model.named_parameters()}
    assert list(doc["weights"]) == ["module.0.weight", "module.2.weight"]  # 24 and 12 values
    assert sorted(sizes.values(), reverse=True)[:2] == [24, 12]
    assert "2 largest of 4" in doc["note"]


class _StopAfterEpoch(Callback):
    """Simulates a kill after HistogramLog wrote epoch 2 but before its checkpoint was saved."""

    def on_epoch_end(self, epoch, logs):
        if epoch == 1:
            raise KeyboardInterrupt


def test_resume_keeps_the_checkpointed_epochs_without_duplicates(logged, tmp_path):
    _, plain = logged
    path, ckpt = tmp_path / "resumed.json", tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        _fit(path, extra=[_StopAfterEpoch()], checkpoint_dir=ckpt)
    assert read_histograms(path)["epochs"] == [1, 2]  # epoch 2 is in the file, not in a checkpoint
    _fit(path, checkpoint_dir=ckpt, resume=True)  # resumes from global step 6, mid-epoch 2
    assert read_histograms(path) == read_histograms(plain)  # as if never interrupted


def test_registered_by_name_with_options(tmp_path):
    cb = callbacks.get({"histogram_log": {"path": str(tmp_path / "h.json"), "bins": 12}})
    assert isinstance(cb, HistogramLog) and cb.bins == 12
    with pytest.raises(ConfigError, match=r"'bins' argument of HistogramLog must be a positive"):
        HistogramLog(tmp_path / "h.json", bins=0)
    with pytest.raises(ConfigError, match="path"):
        callbacks.get("histogram_log")  # the file is required


def test_plot_histograms_draws_one_line_per_epoch(logged, tmp_path):
    _, path = logged
    doc = read_histograms(path)
    fig = plot_histograms(path, kind="gradients", max_layers=3)
    panels = fig.axes[:3]
    assert [ax.get_title() for ax in panels] == list(doc["gradients"])[:3]
    assert fig.get_suptitle() == "gradients per epoch (first 3 of 4 parameters)"
    entries = doc["gradients"]["module.0.weight"]
    lines = panels[0].lines
    assert [line.get_ydata().tolist() for line in lines] == [e["counts"] for e in entries]
    assert len({line.get_color() for line in lines}) == 3  # early → late colours
    fig = plot_histograms(doc, max_layers=1, path=tmp_path / "w.png")
    assert fig.axes[0].get_title() == "module.0.weight"
    assert (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"


def test_histogram_errors_name_what_is_expected(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 7}')
    with pytest.raises(DataError, match=r"not a deepfuse histogram file.*version"):
        read_histograms(bad)
    with pytest.raises(DataError, match="missing"):
        read_histograms(tmp_path / "nope.json")
    doc = {"version": 1, "weights": {"w": []}, "gradients": {}}
    with pytest.raises(ConfigError, match=r"Unknown histogram kind 'grads'.*'gradients'"):
        plot_histograms(doc, kind="grads")
    with pytest.raises(DataError, match="hold no gradients"):
        plot_histograms(doc, kind="gradients")


def test_a_configured_histogram_log_replaces_the_default_one(tmp_path):
    # Regression: deepfuse train added its own HistogramLog next to the config's (two logs).
    from deepfuse.api import train
    from synthetic_tables import city_income_csv

    own = tmp_path / "own_histograms.json"
    cfg = {
        "data": {"train": str(city_income_csv(tmp_path / "t.csv", 60)), "target": "label"},
        "trainer": {
            "epochs": 2,
            "verbose": 0,
            "seed": 0,
            "callbacks": [{"name": "histogram_log", "path": str(own), "bins": 5}],
        },
    }
    run = train(cfg, out_dir=tmp_path / "runs").run_dir
    assert read_histograms(own)["epochs"] == [1, 2]
    assert not (run / "histograms.json").exists()
