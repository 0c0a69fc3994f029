"""Zoo model ``bag`` (fastText-style n-gram bags + table features): shapes, padding, hashing,
table inputs, save/load, learning a bigram task, and the no-config choice for text tables."""

from __future__ import annotations

import json
from types import SimpleNamespace as NS

import numpy as np
import pyarrow as pa
import pytest
import torch
from torch import nn

import deepfuse as df
from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.data.preprocessor import Preprocessor
from deepfuse.models import build, zoo
from deepfuse.models.from_config import default_model_type, model_section
from deepfuse.models.zoo.bag import PRIME, bag_of_ngrams


def _model(**kwargs):
    torch.manual_seed(0)
    return zoo.get("bag", **{"vocab_sizes": 30, "embed_dim": 8, "buckets": 97, **kwargs}).eval()


def test_shapes_bare_tensor_and_dict():
    model = _model(out_features=3)
    x = torch.randint(0, 30, (5, 7))
    assert model(x).shape == (5, 3)
    assert model({"x": x}).shape == (5, 3)
    named = _model(vocab_sizes={"title": 10, "body": 30}, hidden=[16], out_features=1)
    batch = {"title": torch.randint(0, 10, (4, 3)), "body": torch.randint(0, 30, (4, 9))}
    assert named(batch).shape == (4, 1)
    assert named.columns == ["body", "title"]  # canonical order, whatever the mapping's order
    assert model(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 3)  # all padding: no NaN
    assert torch.isfinite(model(torch.zeros(2, 5, dtype=torch.long))).all()


def test_bigram_hash_on_a_hand_example():
    # vocab 10, 100 buckets, P = 116049371: (2P + 3) % 100 = 45, (3P + 4) % 100 = 17,
    # trigram (45P + 4) % 100 = 99; windows touching the padding id 0 are dropped.
    assert PRIME == 116_049_371
    ids = torch.tensor([[0, 2, 3, 4], [5, 0, 0, 0]])
    flat, offsets = bag_of_ngrams(ids, 10, 2, 100)
    assert flat.tolist() == [2, 3, 4, 10 + 45, 10 + 17, 5]
    assert offsets.tolist() == [0, 5]
    flat3, _ = bag_of_ngrams(ids[:1], 10, 3, 100)
    assert flat3.tolist() == [2, 3, 4, 10 + 45, 10 + 17, 10 + 99]
    assert bag_of_ngrams(ids[:1], 10, 1, 100)[0].tolist() == [2, 3, 4]


def test_padding_never_changes_the_output():
    model = _model(ngrams=3, hidden=[8])
    words = [4, 9, 9, 2, 17]
    pre = torch.tensor([[0, 0, 0, *words]])
    post = torch.tensor([[*words, 0, 0, 0]])
    bare = torch.tensor([words])
    longer = torch.tensor([[0] * 11 + words])
    with torch.no_grad():
        ref = model(bare)
        for x in (pre, post, longer):
            torch.testing.assert_close(model(x), ref, rtol=0, atol=1e-6)
        # in a batch with other rows of other lengths, too
        batch = torch.cat([post, torch.tensor([[3, 3, 3, 3, 3, 3, 3, 3]])])
        torch.testing.assert_close(model(batch)[:1], ref, rtol=0, atol=1e-6)


def test_uses_numeric_and_categorical_inputs():
    model = _model(vocab_sizes={"review": 30}, num_numeric=2, cardinalities=[4, 3])
    batch = {
        "review": torch.tensor([[0, 3, 4], [5, 6, 7]]),
        "numeric": torch.zeros(2, 2),
        "categorical": torch.tensor([[1, 2], [0, 3]]),
    }
    with torch.no_grad():
        out = model(batch)
        moved_num = model({**batch, "numeric": torch.ones(2, 2)})
        moved_cat = model({**batch, "categorical": torch.tensor([[4, 1], [2, 0]])})
    assert not torch.allclose(out, moved_num)
    assert not torch.allclose(out, moved_cat)
    with pytest.raises(DataError, match="numeric"):
        model({"review": batch["review"], "categorical": batch["categorical"]})
    with pytest.raises(DataError, match="review"):
        model({"numeric": batch["numeric"], "categorical": batch["categorical"]})
    with pytest.raises(DataError, match="bare tensor"):
        model(batch["review"])


def test_same_seed_same_weights_and_rebuild_from_json_kwargs():
    a, b = _model(cardinalities=[5], num_numeric=1), _model(cardinalities=[5], num_numeric=1)
    for k, v in a.state_dict().items():
        torch.testing.assert_close(v, b.state_dict()[k])
    spec = json.loads(json.dumps({"name": a.zoo_name, "kwargs": a.zoo_config}))
    c = zoo.get(spec["name"], **spec["kwargs"])
    c.load_state_dict(a.state_dict())
    batch = {
        "x": torch.tensor([[1, 2, 3]]),
        "numeric": torch.ones(1, 1),
        "categorical": torch.ones(1, 1).long(),
    }
    with torch.no_grad():
        torch.testing.assert_close(c.eval()(batch), a(batch))


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build("bag", vocab_sizes={"review": 40}, num_numeric=2, cardinalities=[3], buckets=50)
    batch = {
        "review": torch.randint(0, 40, (6, 10)),
        "numeric": torch.randn(6, 2),
        "categorical": torch.randint(0, 4, (6, 1)),
    }
    model.save(tmp_path / "m")
    loaded = df.load(tmp_path / "m")
    assert loaded.architecture["name"] == "bag"
    model.eval(), loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(batch), model(batch), rtol=0, atol=0)


def _bigram_task(n=400, steps=12):
    """Label 1 iff the row contains the bigram (2, 3); class 0 rows contain (3, 2) instead, so
    both classes hold exactly the same words and no unigram model can beat chance."""
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randint(4, 12, (n, steps), generator=g)
    at = torch.randint(0, steps - 1, (n,), generator=g)
    rows = torch.arange(n)
    x[rows, at] = torch.where(y == 1, 2, 3)
    x[rows, at + 1] = torch.where(y == 1, 3, 2)
    return x, y


@pytest.mark.parametrize("ngrams", [1, 2])
def test_learns_a_bigram_that_no_unigram_decides(ngrams):
    x, y = _bigram_task()
    xt, yt = x[300:], y[300:]
    x, y = x[:300], y[:300]
    torch.manual_seed(0)
    model = zoo.get("bag", vocab_sizes=12, embed_dim=16, ngrams=ngrams, buckets=1000, hidden=[16])
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(150):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    with torch.no_grad():
        acc = (model.eval()(xt).argmax(1) == yt).float().mean().item()
    if ngrams == 2:
        assert acc > 0.95, acc
    else:  # the same bag of words in both classes: chance
        assert acc < 0.65, acc


def test_no_config_picks_bag_for_text_tables_with_all_columns():
    assert default_model_type("table", {"review": "text"}) == "bag"
    assert default_model_type("table", {"review": "text", "age": "numeric"}) == "bag"
    assert default_model_type("table", {"age": "numeric"}) == "tabular"
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(40)]
    words = [" ".join(rng.choice(vocab, size=rng.integers(3, 12))) for _ in range(60)]
    table = pa.table(
        {
            "review": words,
            "stars": rng.normal(size=60),
            "city": rng.choice(["a", "b", "c", "d"], size=60),
            "y": rng.integers(0, 2, size=60),
        }
    )
    pp = Preprocessor().fit(table, "y")
    data = NS(
        kind="table",
        task="binary",
        features={"review": "text", "stars": "numeric", "city": "categorical"},
        num_classes=2,
        preprocessor=pp,
    )
    spec = model_section(None, data)
    vocab = pp.inputs()["review"]["vocab_size"]
    assert spec == {
        "type": "bag",
        "vocab_sizes": {"review": vocab},
        "num_numeric": 1,
        "cardinalities": pp.inputs()["categorical"]["cardinalities"],
        "out_features": 1,
    }
    model = zoo.get("bag", **{k: v for k, v in spec.items() if k != "type"})
    assert model(pp.transform(table)).shape == (60, 1)
    # The recurrent text family stays available, built from the same data context.
    assert model_section({"type": "text"}, data)["vocab_size"] == vocab


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vocab_sizes": {}}, "vocab_sizes"),
        ({"vocab_sizes": {"review": 0}}, "vocab_sizes"),
        ({"vocab_sizes": 10, "ngrams": 0}, "ngrams"),
        ({"vocab_sizes": 10, "buckets": -1}, "buckets"),
        ({"vocab_sizes": 10, "num_numeric": -1}, "num_numeric"),
        ({"vocab_sizes": 10, "cardinalities": [3], "cat_embed_dim": [2, 2]}, "embed_dim"),
        ({"vocab_sizes": 10, "dropout": 1.5}, "dropout"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        zoo.get("bag", **kwargs)


def test_token_id_outside_the_vocabulary_is_reported():
    with pytest.raises(DataError, match="outside"):
        _model()(torch.tensor([[3, 30]]))
