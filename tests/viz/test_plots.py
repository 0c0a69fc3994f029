"""deepfuse.viz: the figures hold the run's numbers; plot_run writes real image files."""

from __future__ import annotations

import builtins
import sys
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="matplotlib (deepfuse[viz]) is not installed")

from deepfuse._utils.errors import DataError, MissingDependencyError
from deepfuse.viz import (
    plot_confusion_matrix,
    plot_curves,
    plot_pr,
    plot_roc,
    plot_run,
    read_history,
)


def test_curves_draw_train_and_validation_values_per_metric(tmp_path):
    history = {"loss": [0.9, 0.5], "accuracy": [0.6, 0.8], "val_loss": [1.0, 0.7]}
    fig = plot_curves(history, tmp_path / "curves.svg")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    loss_lines = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].lines}
    assert loss_lines == {"train": [0.9, 0.5], "validation": [1.0, 0.7]}
    assert (tmp_path / "curves.svg").read_text().lstrip().startswith("<?xml")


def test_confusion_matrix_colours_row_shares_and_writes_counts(tmp_path):
    counts = [[8, 2], [1, 9]]
    fig = plot_confusion_matrix(counts, ["cat", "dog"], tmp_path / "cm.png")
    shown = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_allclose(shown, [[0.8, 0.2], [0.1, 0.9]])
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["1", "2", "8", "9"]
    assert (tmp_path / "cm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(DataError, match="square"):
        plot_confusion_matrix([[1, 2, 3]])


def test_roc_and_pr_curves_plot_each_class():
    roc = {"a": {"fpr": [0, 0.5, 1], "tpr": [0, 0.9, 1]}, "b": {"fpr": [0, 1], "tpr": [0, 1]}}
    fig = plot_roc(roc)
    assert [line.get_label() for line in fig.axes[0].lines][:2] == ["a", "b"]
    assert list(fig.axes[0].lines[0].get_ydata()) == [0, 0.9, 1]
    fig = plot_pr({"a": {"recall": [1, 0.5, 0], "precision": [0.5, 0.8, 1]}})
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 0.5, 0]


def test_plot_run_draws_what_a_trained_run_holds(tmp_path):
    from deepfuse.api import train

    cfg = {
        "data": {"dataset": "mnist", "limit": 600, "validation_split": 0.1},
        "model": {"type": "sequential", "layers": [{"Flatten": {}}, {"Dense": {"units": 10}}]},
        "trainer": {"epochs": 2, "batch_size": 64, "seed": 0, "verbose": 0},
    }
    run = train(cfg, out_dir=tmp_path / "runs").run_dir
    files = plot_run(run)
    assert [p.name for p in files] == ["curves.png", "confusion_matrix.png", "roc.png", "pr.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in files)
    history = read_history(run / "history.csv")
    assert len(history["loss"]) == 2 and len(history["val_accuracy"]) == 2  # one value per epoch


def test_missing_matplotlib_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_mpl(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", no_mpl)
    with pytest.raises(MissingDependencyError, match=r"deepfuse\[viz\]"):
        plot_curves({"loss": [1.0]})


def test_cli_plot_writes_the_files_and_refuses_a_non_run(tmp_path, capsys):
    from deepfuse.cli.main import main

    assert main(["plot", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_curves_of_one_epoch_have_one_whole_epoch_tick():
    fig = plot_curves({"loss": [0.5], "val_loss": [0.6]})
    assert list(fig.axes[0].get_xticks()) == [1]
