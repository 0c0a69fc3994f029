"""Zoo models: shapes, training on synthetic data, determinism, rebuild from kwargs, errors."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.models import zoo


def _images(n=64, c=1, size=12):
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(n, c, size, size, generator=g) * 0.5
    for k in range(3):  # class-dependent bright square
        x[y == k, :, 2 * k : 2 * k + 4, 2 * k : 2 * k + 4] += 2.0
    return x, y


def _tokens(n=64, steps=12, vocab=30):
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randint(3, vocab, (n, steps), generator=g)
    x[:, 0] = torch.where(y == 1, 1, 2)  # the label token
    lengths = torch.randint(4, steps + 1, (n,), generator=g)
    x[torch.arange(steps)[None, :] >= lengths[:, None]] = 0  # right padding
    return x, y


def _table(n=64):
    g = torch.Generator().manual_seed(0)
    numeric = torch.randn(n, 3, generator=g)
    cat = torch.randint(0, 5, (n, 2), generator=g)
    y = (numeric[:, 0] + 2.0 * (cat[:, 1] > 2).float() > 1.0).long()
    return {"numeric": numeric, "categorical": cat}, y


CASES = {
    "mlp": (dict(hidden=[32, 16], out_features=3), _images, (64, 3)),
    "mlp_bn": (dict(hidden=[32], out_features=3, batch_norm=True, dropout=0.1), _images, (64, 3)),
    "cnn": (dict(filters=[8, 16], dense=[], dropout=0.5, out_features=3), _images, (64, 3)),
    "cnn_bn": (
        dict(
            filters=[8],
            dense=[16],
            batch_norm=True,
            conv_per_block=2,
            padding="same",
            out_features=3,
            in_channels=1,
        ),
        _images,
        (64, 3),
    ),
    "text_lstm": (dict(vocab_size=30, embed_dim=16, units=16), _tokens, (64, 2)),
    "text_gru_bi": (
        dict(
            vocab_size=30,
            embed_dim=16,
            encoder="gru",
            units=16,
            bidirectional=True,
            num_layers=2,
            dropout=0.1,
        ),
        _tokens,
        (64, 2),
    ),
    "text_cnn": (
        dict(vocab_size=30, embed_dim=16, encoder="cnn", filters=8, kernel_sizes=[2, 3]),
        _tokens,
        (64, 2),
    ),
    "tabular": (dict(num_numeric=3, cardinalities=[4, 4], hidden=[32, 16]), _table, (64, 2)),
    "tabular_bn": (
        dict(num_numeric=3, cardinalities=[4, 4], hidden=[32], batch_norm=True, embed_dim=3),
        _table,
        (64, 2),
    ),
}


def _name(case: str) -> str:
    return case.split("_")[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_zoo_model_trains_and_has_the_right_shape(case):
    kwargs, data, shape = CASES[case]
    torch.manual_seed(0)
    x, y = data()
    model = zoo.get(_name(case), **kwargs)
    assert isinstance(model, nn.Module)
    model.eval()
    with torch.no_grad():
        assert tuple(model(x).shape) == shape
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_seed_same_weights_and_rebuild_from_kwargs(case):
    kwargs, data, _ = CASES[case]
    x, _ = data()

    def build():
        torch.manual_seed(123)
        model = zoo.get(_name(case), **kwargs).eval()
        with torch.no_grad():
            model(x)  # creates any lazy weights
        return model

    a, b = build(), build()
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and len(sa) > 0
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k])
    # Saving = name + kwargs + state_dict: rebuild from JSON and load into a fresh (unbuilt) model.
    spec = json.loads(json.dumps({"name": a.zoo_name, "kwargs": a.zoo_config}))
    c = zoo.get(spec["name"], **spec["kwargs"]).eval()
    c.load_state_dict(sa)
    with torch.no_grad():
        torch.testing.assert_close(c(x), a(x))


def test_names_and_keras_mnist_convnet():
    assert zoo.names() == [
        "autoencoder",
        "bag",
        "cnn",
        "dcgan",
        "mlp",
        "tabular",
        "text",
        "vae",
        "wgan_gp",
    ]
    model = zoo.get("cnn", filters=[32, 64], dense=[], dropout=0.5, input_shape=[28, 28, 1])
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dropout", "Dense"]
    assert model[-1].weight.shape == (10, 1600)  # 5 x 5 x 64, as in Keras' example
    assert sum(p.numel() for p in model.parameters()) == 34826  # Keras summary: 34,826
    classic = zoo.get("cnn", filters=[32], dense=[128], dropout=0.0, input_shape=[1, 28, 28])
    assert [type(m).__name__ for m in classic] == [
        "Conv2D",
        "MaxPool2D",
        "Flatten",
        "Dense",
        "Dense",
    ]


def test_mlp_flattens_images_and_builds_from_input_shape():
    model = zoo.get("mlp", hidden=[8], input_shape=[28, 28])
    assert model[1].weight.shape == (8, 784)
    assert model(torch.zeros(3, 28, 28)).shape == (3, 10)


@pytest.mark.parametrize("encoder", ["lstm", "gru", "cnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_text_padding_does_not_change_the_answer(encoder, bidirectional):
    torch.manual_seed(0)
    model = zoo.get(
        "text",
        vocab_size=20,
        embed_dim=8,
        units=8,
        filters=4,
        encoder=encoder,
        bidirectional=bidirectional,
        kernel_sizes=[2, 3],
    ).eval()
    tokens = torch.tensor([[5, 6, 7, 8, 9]])
    right = torch.tensor([[5, 6, 7, 8, 9, 0, 0, 0]])
    left = torch.tensor([[0, 0, 0, 5, 6, 7, 8, 9]])
    with torch.no_grad():
        ref = model(tokens)
        torch.testing.assert_close(model(right), ref)
        torch.testing.assert_close(model(left), ref)
        batch = torch.cat([right, left, torch.tensor([[3, 4, 0, 0, 0, 0, 0, 0]])])
        out = model(batch)
        torch.testing.assert_close(out[:2], ref.expand(2, -1))
        torch.testing.assert_close(out[2:], model(torch.tensor([[3, 4]])))
        assert model({"review": right}).shape == (1, 2)


def test_tabular_inputs():
    model = zoo.get("tabular", num_numeric=2, cardinalities=[3, 100], hidden=[8])
    assert [e.output_dim for e in model.embeddings] == [2, 50]
    assert [e.input_dim for e in model.embeddings] == [4, 101]
    batch = {"numeric": torch.randn(4, 2), "categorical": torch.tensor([[0, 100]] * 4)}
    assert model(batch).shape == (4, 2)
    only_cat = zoo.get("tabular", cardinalities=[3], hidden=[4], out_features=1)
    assert only_cat({"categorical": torch.tensor([[1], [2]])}).shape == (2, 1)
    assert only_cat(torch.tensor([[1], [2]])).shape == (2, 1)
    with pytest.raises(DataError, match=r"batch\['numeric'\] of shape \(batch, 2\)"):
        model({"categorical": batch["categorical"]})
    with pytest.raises(DataError, match="categorical"):
        model({"numeric": batch["numeric"], "categorical": torch.zeros(4, 3, dtype=torch.long)})


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        (
            "resnet",
            {},
            "Unknown zoo model 'resnet'. Allowed values: 'autoencoder', 'bag', 'cnn'",
        ),
        ("mlp", {"hiden": [3]}, "Unknown argument 'hiden' for zoo model 'mlp'"),
        ("mlp", {"hidden": [0]}, "The 'hidden' argument of zoo model 'mlp' must be"),
        ("mlp", {"activation": "relo"}, "Unknown activation 'relo'"),
        ("cnn", {"dropout": 1.0}, "The 'dropout' argument of zoo model 'cnn'"),
        ("cnn", {"padding": "full"}, "Unknown 'padding' value for Conv2D"),
        ("text", {}, "needs the argument(s) vocab_size"),
        ("text", {"vocab_size": 10, "encoder": "transformer"}, "Unknown text encoder"),
        ("tabular", {}, "needs features"),
        ("tabular", {"cardinalities": [3, 4], "embed_dim": [2]}, "has 1 sizes"),
    ],
)
def test_bad_zoo_arguments(name, kwargs, message):
    with pytest.raises(ConfigError) as info:
        zoo.get(name, **kwargs)
    assert message in str(info.value)
