"""deepfuse.viz projections: penultimate features by hand, PCA against scikit-learn."""

from __future__ import annotations

import builtins
import sys
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

pytest.importorskip("matplotlib", reason="matplotlib (deepfuse[viz]) is not installed")

import deepfuse as df
from deepfuse._utils.errors import ConfigError, DataError, MissingDependencyError, UserError
from deepfuse.viz import penultimate_features, plot_projection, project_2d


def test_penultimate_features_are_the_input_of_the_last_linear():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.5), nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)
    )
    net.train()
    x = torch.randn(11, 4)
    feats = penultimate_features(net, x, batch_size=4)  # 3 batches: 4 + 4 + 3 rows
    want = torch.tanh(net[3](F.relu(net[0](x))))  # eval mode: no dropout
    torch.testing.assert_close(feats, want)
    assert net.training and all(not m._forward_pre_hooks for m in net.modules())
    named = penultimate_features(net, x, layer="3")  # the input of another module
    torch.testing.assert_close(named, F.relu(net[0](x)))


def test_penultimate_features_of_a_deepfuse_cnn_are_flattened_per_row():
    torch.manual_seed(0)
    model = df.Sequential(
        [
            df.layers.Conv2D(2, (3, 3), activation="relu", input_shape=(6, 6, 1)),
            df.layers.Flatten(),
            df.layers.Dense(4, activation="relu"),
            df.layers.Dense(3, activation="softmax"),
        ]
    )
    x = torch.randn(5, 1, 6, 6)
    conv, dense = model.layers[0], model.layers[2]
    maps = F.relu(F.conv2d(x, conv.weight, conv.bias)).permute(0, 2, 3, 1)  # Keras' Flatten order
    hidden = F.relu(dense(maps.flatten(1)))  # (5, 4)
    torch.testing.assert_close(penultimate_features(model, x), hidden)


def test_penultimate_features_errors():
    with pytest.raises(DataError, match=r"no Linear layer.*layer="):
        penultimate_features(nn.Sequential(nn.Conv2d(1, 1, 1)), torch.zeros(1, 1, 2, 2))
    with pytest.raises(UserError, match=r"no module named 'head'.*'0'"):
        penultimate_features(nn.Sequential(nn.Linear(2, 2)), torch.zeros(1, 2), layer="head")
    with pytest.raises(DataError, match="batch_size"):
        penultimate_features(nn.Linear(2, 2), torch.zeros(1, 2), batch_size=0)


def _up_to_sign(a: np.ndarray, b: np.ndarray) -> None:
    for j in range(a.shape[1]):
        sign = np.sign(a[:, j] @ b[:, j])
        np.testing.assert_allclose(a[:, j], sign * b[:, j], rtol=1e-7, atol=1e-9)


def test_pca_matches_scikit_learn_up_to_sign():
    decomposition = pytest.importorskip("sklearn.decomposition")
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))  # correlated columns
    points = project_2d(torch.from_numpy(features))
    assert points.shape == (40, 2) and points.dtype == np.float64
    want = decomposition.PCA(n_components=2, svd_solver="full").fit_transform(features)
    _up_to_sign(points, want)
    np.testing.assert_array_equal(project_2d(features), points)  # deterministic


def test_tsne_runs_with_scikit_learn_and_names_it_when_missing(monkeypatch):
    pytest.importorskip("sklearn.manifold")
    features = np.random.default_rng(0).normal(size=(12, 3))
    points = project_2d(features, method="tsne", seed=1)
    assert points.shape == (12, 2) and np.isfinite(points).all()
    real_import = builtins.__import__

    def no_sklearn(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "sklearn" or name.startswith("sklearn."):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(MissingDependencyError, match=r"pip install scikit-learn.*method='pca'"):
        project_2d(features, method="tsne")


def test_project_2d_errors():
    with pytest.raises(ConfigError, match=r"Unknown projection method 'umap'.*'pca', 'tsne'"):
        project_2d(np.zeros((3, 2)), method="umap")
    with pytest.raises(DataError, match=r"N >= 2.*\(1, 4\)"):
        project_2d(np.zeros((1, 4)))
    with pytest.raises(DataError, match="NaN"):
        project_2d(np.array([[0.0, np.nan], [1.0, 2.0]]))


def test_plot_projection_colours_each_class(tmp_path):
    points = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    labels = np.array([2, 0, 2, 1])
    fig = plot_projection(
        points, labels, class_names=["cat", "dog", "eel"], path=tmp_path / "p.svg"
    )
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["cat", "dog", "eel"]
    np.testing.assert_array_equal(ax.collections[2].get_offsets(), points[labels == 2])
    assert ax.get_title() == "4 points, 3 classes"
    assert (tmp_path / "p.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(DataError, match=r"shape \(N, 2\).*project_2d"):
        plot_projection(np.zeros((3, 5)), [0, 1, 2])
    with pytest.raises(DataError, match="3 points but 2 labels"):
        plot_projection(np.zeros((3, 2)), [0, 1])
