"""Registry, MetricSet, config round-trips, reset, and clear errors for bad inputs."""

from __future__ import annotations

import doctest
import importlib
import json

import pytest
import torch

import deepfuse.metrics as M
from deepfuse._utils.errors import ConfigError, DataError


@pytest.mark.parametrize(
    "alias",
    ["acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy", "Accuracy"],
)
def test_accuracy_aliases_keep_their_name(alias):
    metric = M.get(alias)
    assert isinstance(metric, M.Accuracy)
    assert metric.name == alias


def test_get_forms():
    assert isinstance(M.get("sparse_top_k_categorical_accuracy"), M.TopKAccuracy)
    assert M.get({"name": "f1", "average": "micro"}).average == "micro"
    assert M.get("top_k_accuracy", k=3).k == 3
    metric = M.Precision()
    assert M.get(metric) is metric
    assert isinstance(M.get(M.R2Score), M.R2Score)
    fn_metric = M.get(lambda o, t: (o - t).abs().mean())
    assert isinstance(fn_metric, M.MeanMetric)


def test_unknown_name_suggests():
    with pytest.raises(ConfigError, match="Did you mean 'accuracy'"):
        M.get("acuracy")
    with pytest.raises(ConfigError, match="Unknown option for metric 'f1' 'avg'"):
        M.get("f1", avg="macro")
    with pytest.raises(ConfigError, match="average"):
        M.get("f1", average="sample")
    with pytest.raises(ConfigError, match="no 'name' key"):
        M.get({"average": "macro"})
    with pytest.raises(ConfigError):
        M.get(42)


@pytest.mark.parametrize("name", M.names())
def test_serialize_round_trip_is_json(name):
    metric = M.get(name)
    cfg = json.loads(json.dumps(M.serialize(metric)))
    again = M.get(cfg)
    assert type(again) is type(metric)
    assert again.get_config() == metric.get_config()


def test_streaming_equals_whole_and_reset():
    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(100, 3, generator=g), torch.randint(0, 3, (100,), generator=g)
    for name in ["accuracy", "f1", "roc_auc", "top_k_accuracy", "precision"]:
        whole, streamed = M.get(name), M.get(name)
        whole.update(logits, y)
        for i in range(0, 100, 33):
            streamed.update(logits[i : i + 33], y[i : i + 33])
        assert streamed.compute() == pytest.approx(whole.compute(), abs=1e-12)
        streamed.reset()
        streamed.update(logits[:10], y[:10])
        fresh = M.get(name)
        fresh.update(logits[:10], y[:10])
        assert streamed.compute() == pytest.approx(fresh.compute(), abs=1e-12)


def test_compute_before_update_is_nan():
    for name in ["accuracy", "f1", "roc_auc", "mse", "r2", "top_k_accuracy"]:
        assert M.get(name).compute() != M.get(name).compute()  # nan


def test_update_accepts_tensors_requiring_grad():
    logits = torch.randn(8, 3, requires_grad=True)
    metric = M.Accuracy()
    metric.update(logits, torch.randint(0, 3, (8,)))
    assert 0.0 <= metric.compute() <= 1.0


def test_metric_set_flat_dict_and_reset():
    ms = M.MetricSet(
        ["acc", "confusion_matrix", {"name": "f1", "average": "micro"}, "roc_auc"], prefix="val_"
    )
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    y = torch.tensor([0, 0, 1])
    ms.update(logits, y)
    out = ms.compute()
    assert set(out) == {"val_acc", "val_f1", "val_roc_auc"}
    assert all(isinstance(v, float) for v in out.values())
    assert ms.results()["confusion_matrix"].tolist() == [[1, 1], [0, 1]]
    ms.reset()
    assert ms.compute()["val_acc"] != ms.compute()["val_acc"]  # nan after reset
    assert len(ms) == 4 and "acc" in ms and isinstance(ms["acc"], M.Accuracy)


def test_metric_set_clones_metric_objects_and_rejects_duplicates():
    shared = M.Accuracy()
    train, val = M.MetricSet([shared]), M.MetricSet([shared])
    train.update(torch.tensor([1.0]), torch.tensor([1]))
    assert val.compute()["accuracy"] != val.compute()["accuracy"]  # val untouched
    with pytest.raises(ConfigError, match="both named 'f1'"):
        M.MetricSet(["f1", {"name": "f1", "average": "micro"}])
    named = M.MetricSet({"f1_micro": {"name": "f1", "average": "micro"}, "f1": "f1"})
    assert list(named.metrics) == ["f1_micro", "f1"]


def test_bad_inputs_raise_data_errors():
    with pytest.raises(DataError, match="target of shape"):
        M.Accuracy().update(torch.randn(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(DataError, match=r"outputs of shape \(2, 3, 4\)"):
        M.Accuracy().update(torch.randn(2, 3, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(DataError, match=">= 3"):
        M.ConfusionMatrix().update(torch.randn(2, 3), torch.tensor([0, 5]))
    with pytest.raises(DataError, match="negative"):
        M.F1Score().update(torch.randn(2, 3), torch.tensor([0, -1]))
    m = M.Accuracy()
    m.update(torch.randn(2, 3), torch.tensor([0, 1]))
    with pytest.raises(DataError, match="reset"):
        m.update(torch.randn(2, 4), torch.tensor([0, 1]))
    with pytest.raises(DataError, match="set up for 4 classes"):
        M.Accuracy(num_classes=4).update(torch.randn(2, 3), torch.tensor([0, 1]))
    with pytest.raises(DataError, match="same shape"):
        M.get("mse").update(torch.randn(4, 2), torch.randn(4))
    f1 = M.F1Score(average="binary")
    f1.update(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    with pytest.raises(DataError, match="average='binary'"):
        f1.compute()
    with pytest.raises(ConfigError, match="threshold"):
        M.Accuracy(threshold=1.5)
    with pytest.raises(ConfigError, match="'k'"):
        M.TopKAccuracy(k=0)


def test_top_k_binary_outputs():
    m = M.TopKAccuracy(k=1)
    m.update(torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1, 1, 0]))
    assert m.compute() == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    "module",
    [
        "deepfuse.metrics",
        "deepfuse.metrics.base",
        "deepfuse.metrics.classification",
        "deepfuse.metrics.ranking",
        "deepfuse.metrics.regression",
        "deepfuse.metrics.collection",
        "deepfuse.metrics.report",
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
