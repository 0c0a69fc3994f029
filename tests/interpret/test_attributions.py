"""Saliency, integrated gradients (completeness, exact linear case, Captum), token attributions
and permutation importance on raw column names."""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import pytest
import torch
from torch import nn

import deepfuse as df
from deepfuse._utils.errors import DataError, MissingDependencyError, UserError
from deepfuse.data import Preprocessor
from deepfuse.data.text import TextEncoder
from deepfuse.interpret import (
    attribute,
    integrated_gradients,
    permutation_importance,
    saliency,
    token_attributions,
)


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.Softplus(), nn.Linear(16, 3)
    )
    with torch.no_grad():
        net[-1].weight.mul_(10)  # logits that move by whole units, so the checks are not about ~0
    return net


def test_ig_completeness_on_small_model() -> None:
    net = _mlp()
    x, base = torch.randn(4, 5) * 3, torch.randn(4, 5) * 0.1
    target = torch.tensor([0, 1, 2, 1])
    attr, delta = integrated_gradients(
        net, x, baseline=base, steps=64, target=target, internal_batch_size=20, return_delta=True
    )
    with torch.no_grad():
        rows = torch.arange(4)
        gap = net(x)[rows, target] - net(base)[rows, target]
    torch.testing.assert_close(attr.sum(1), gap, atol=2e-3, rtol=0)
    torch.testing.assert_close(delta, attr.sum(1) - gap, atol=1e-5, rtol=0)
    assert gap.abs().min() > 0.1  # the check is not trivially about zeros


def test_ig_is_exact_for_a_linear_model() -> None:
    net = nn.Linear(5, 3)
    x = torch.randn(2, 5)
    attr = integrated_gradients(net, x, steps=3, target=2)
    torch.testing.assert_close(attr, x * net.weight[2].detach())


def test_saliency_shape_and_zero_for_an_ignored_pixel() -> None:
    torch.manual_seed(0)
    conv = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 2)
    )
    mask = torch.ones(1, 3, 6, 6)
    mask[..., 2, 3] = 0.0  # the model never sees pixel (2, 3), in any channel

    class Masked(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return conv(x * mask)

    x = torch.rand(5, 3, 6, 6)
    maps = saliency(Masked(), x)
    assert maps.shape == (5, 6, 6)
    assert torch.all(maps[:, 2, 3] == 0)
    assert torch.all(maps.flatten(1).sum(1) > 0)
    # (B, F) rows: |d logit_t / d x| is |W[t]| for a linear model
    lin = nn.Linear(4, 2)
    torch.testing.assert_close(
        saliency(lin, torch.rand(3, 4), target=1), lin.weight[1].abs().detach().expand(3, 4)
    )


def test_ig_matches_captum_when_installed() -> None:
    captum_attr = pytest.importorskip("captum.attr")
    net = _mlp(1)
    x = torch.randn(3, 5) * 2
    captum_ig = captum_attr.IntegratedGradients(net)
    # Same 50 path points; Captum's trapezoid step sizes are 1/n (they sum to (n-1)/n), ours
    # 1/(n-1) (summing to 1), so the two differ by exactly that factor.
    ours = integrated_gradients(net, x, steps=49, target=1)
    theirs = captum_ig.attribute(x, target=1, n_steps=50, method="riemann_trapezoid")
    torch.testing.assert_close(ours, theirs.float() * 50 / 49, atol=1e-5, rtol=1e-4)
    # and both approximate the same integral: against Captum's Gauss-Legendre default
    legendre = captum_ig.attribute(x, target=1, n_steps=64)
    fine = integrated_gradients(net, x, steps=400, target=1)
    torch.testing.assert_close(fine, legendre.float(), atol=1e-4, rtol=1e-3)
    via_attribute = attribute(net, x, method="captum:IntegratedGradients", target=1, n_steps=50)
    assert via_attribute.shape == x.shape
    with pytest.raises(UserError, match="no attribution class"):
        attribute(net, x, method="captum:NoSuchMethod")


class _BagOfWords(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(6, 4, padding_idx=0)
        self.out = nn.Linear(4, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.emb(ids)).sum(1))


def test_token_attributions_complete_and_named() -> None:
    net = _BagOfWords()
    enc = TextEncoder(max_len=4, padding="pre").fit(["good film", "bad film", "good plot"])
    ids = torch.from_numpy(enc.transform(["good film", "bad plot film"]))  # (2, 4), pads first
    rows = token_attributions(net, ids, target=1, vocab=enc, steps=100)
    assert [t for t, _ in rows[0]] == ["good", "film"]
    assert [t for t, _ in rows[1]] == ["bad", "plot", "film"]
    # completeness over the tokens: sum of scores = f(ids)[1] - f(all-zero embeddings)[1]
    with torch.no_grad():
        gap = net(ids)[:, 1] - net.out.bias[1]
    for row, expected in zip(rows, gap.tolist()):
        assert sum(score for _, score in row) == pytest.approx(expected, abs=1e-3)
    sal = token_attributions(net, ids, method="saliency", vocab=enc)
    assert all(score >= 0 for _, score in sal[1])
    with pytest.raises(UserError, match=r"nn\.Embedding"):
        token_attributions(nn.Linear(3, 2), ids)


def test_token_attributions_of_one_row_of_small_integer_ids() -> None:
    """Regression: a 1-D row of ids kept its dtype (uint8 ids failed in nn.Embedding)."""
    net = _BagOfWords()
    ids = np.array([0, 2, 3, 5], dtype=np.uint8)
    got = token_attributions(net, ids, target=1, steps=20)
    want = token_attributions(net, torch.from_numpy(ids.astype(np.int64))[None], target=1, steps=20)
    assert got == want and len(got) == 1


def _tabular_model(table: pa.Table) -> df.Model:
    pre = Preprocessor().fit(table, "y")

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(pre.inputs()["categorical"]["cardinalities"][0], 2)
            self.fc = nn.Linear(2 + 2, 2)

        def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
            return self.fc(torch.cat([x["numeric"], self.emb(x["categorical"][:, 0])], dim=1))

    model = df.Model(Net())
    model.compile(
        optimizer={"name": "adam", "lr": 0.05}, loss="cross_entropy", metrics=["accuracy"]
    )
    model.preprocessor, model.target_key = pre, "y"
    model.fit(pre.transform(table), epochs=15, batch_size=64, seed=0, verbose=0)
    return model


def test_permutation_importance_ranks_raw_columns() -> None:
    rng = np.random.default_rng(0)
    n = 600
    signal, noise = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "blue", "green"], size=n)
    y = ((signal + 1.5 * (colour == "red") - 0.75) > 0).astype(int)
    table = pa.table({"signal": signal, "noise": noise, "colour": colour, "y": y})
    model = _tabular_model(table)
    result = permutation_importance(model, table, "y", n_repeats=3, seed=0)
    names = [row["column"] for row in result.ranking]
    assert sorted(names) == ["colour", "noise", "signal"]  # raw names, not "numeric"/"categorical"
    assert names[-1] == "noise"
    by_name = {row["column"]: row for row in result.ranking}
    assert by_name["signal"]["mean"] > 0.1 and by_name["colour"]["mean"] > 0.1
    assert abs(by_name["noise"]["mean"]) < 0.03
    assert result.baseline > 0.85
    assert len(by_name["signal"]["drops"]) == 3
    assert "| 1 |" in result.to_markdown()
    # same seed, same shuffles; loss is "lower is better": importance is its increase
    again = permutation_importance(model, table.to_pandas(), "y", n_repeats=3, seed=0)
    assert again.ranking == result.ranking
    loss_based = permutation_importance(model, table, "y", metric="loss", n_repeats=2)
    assert loss_based.ranking[-1]["column"] == "noise" and loss_based.ranking[0]["mean"] > 0


def test_permutation_importance_errors() -> None:
    table = pa.table({"a": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]})
    model = df.Model(nn.Linear(1, 2))
    with pytest.raises(UserError, match="preprocessor"):
        permutation_importance(model, table, "y")
    model.preprocessor = Preprocessor().fit(table, "y")
    with pytest.raises(DataError, match="no target column 'label'"):
        permutation_importance(model, table, "label")


def test_captum_method_without_captum_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "captum", None)  # None in sys.modules: ImportError on import
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    with pytest.raises(MissingDependencyError, match=r"deepfuse\[interpret\]"):
        attribute(nn.Linear(2, 2), torch.ones(1, 2), method="captum:Saliency")
    with pytest.raises(UserError, match="Unknown attribution method 'gradcam'"):
        attribute(nn.Linear(2, 2), torch.ones(1, 2), method="gradcam")


def test_token_attributions_from_raw_text_use_the_models_vocabulary() -> None:
    table = pa.table({"review": ["a great film", "a bad film", "great plot"], "y": [1, 0, 1]})
    pre = Preprocessor(overrides={"review": "text"}, max_len=4, max_tokens=6).fit(table, "y")
    model = df.Model(_BagOfWords())
    model.preprocessor = pre
    rows = token_attributions(model, ["great unseenword film"], target=0)
    assert [t for t, _ in rows[0]] == ["great", "<oov>", "film"]


def test_token_attributions_refuse_a_bag_model_instead_of_scoring_a_categorical_column():
    """Regression: a zoo ``bag`` model with a categorical column has an nn.Embedding (the
    category's), which the token hook used to pick: scores for the wrong input, silently."""
    from deepfuse.interpret import token_attributions
    from deepfuse.models import zoo

    model = zoo.get("bag", vocab_sizes={"review": 50}, cardinalities=[3], out_features=2)
    with pytest.raises(UserError, match="bag-of-n-grams"):
        token_attributions(model, torch.tensor([[5, 6, 7]]))
