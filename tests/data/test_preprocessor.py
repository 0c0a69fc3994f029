from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
import torch
from PIL import Image

from deepfuse._utils.errors import DataError
from deepfuse.data import Preprocessor, read_table


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a
    )


def test_adult_fit_transform_and_round_trip(adult):
    train, test = adult
    pre = Preprocessor().fit(train, "income")
    batch = pre.transform(test)
    assert batch["numeric"].shape == (1000, 7) and batch["numeric"].dtype == torch.float32
    assert batch["categorical"].shape == (1000, 7) and batch["categorical"].dtype == torch.int64
    assert batch["income"].dtype == torch.int64 and pre.task == "binary" and pre.num_classes == 2
    assert pre.schema["workclass"].stats["missing"] > 0
    assert (
        "filled with the training mean" in pre.schema["age"].stats["fill"]
        or pre.schema["age"].stats["missing"] == 0
    )
    cfg = json.loads(json.dumps(pre.get_config()))  # JSON only
    assert _same(Preprocessor.from_config(cfg).transform(test), batch)
    x = pre.transform(train)["numeric"][:, :6]
    assert torch.allclose(x.mean(0), torch.zeros(6), atol=1e-4)


def test_imdb_text_round_trip(imdb):
    train, test = imdb
    pre = Preprocessor(max_tokens=2000, overrides={"rating": "ignored"}).fit(train, "sentiment")
    batch = pre.transform(test)
    assert set(batch) == {"review", "sentiment"}
    info = pre.inputs()["review"]
    assert info["vocab_size"] == 2000 and batch["review"].shape == (500, info["shape"][0])
    assert int(batch["review"].max()) < 2000
    cfg = json.loads(json.dumps(pre.get_config()))
    assert _same(Preprocessor.from_config(cfg).transform(test), batch)
    assert (
        pre.inverse_transform_target(batch["sentiment"][:3]).tolist()
        == test["sentiment"][:3].to_pylist()
    )


def test_missing_numeric_filled_and_unseen_category():
    t = pa.table({"x": [1.0, None, 3.0, 5.0], "c": ["a", "b", "a", "c"], "y": [0, 1, 0, 1]})
    pre = Preprocessor().fit(t, "y")
    assert pre.schema["x"].stats["missing"] == 1 and "mean" in pre.schema["x"].stats["fill"]
    out = pre.transform(pa.table({"x": [None], "c": ["zzz"]}))
    assert out["numeric"].tolist() == [[0.0]] and out["categorical"].tolist() == [[0]]
    assert "y" not in out  # predict: no target column


def test_numeric_text_at_predict_names_row():
    pre = Preprocessor().fit(pa.table({"x": [1.0, 2.0, 4.0], "y": ["a", "b", "a"]}), "y")
    with pytest.raises(DataError, match="Column 'x' is numeric but row 2 holds 'oops'"):
        pre.transform(pa.table({"x": ["1", "oops", "3"]}))


def test_missing_column_and_unseen_label():
    pre = Preprocessor().fit(pa.table({"age": [1.0, 2.0, 4.0], "y": ["a", "b", "a"]}), "y")
    with pytest.raises(DataError, match=r"Column 'age' is missing.*Columns given: agee"):
        pre.transform(pa.table({"agee": [1.0]}))
    with pytest.raises(DataError, match="label 'zz' in row 2"):
        pre.transform(pa.table({"age": [1.0, 2.0], "y": ["a", "zz"]}))


def test_multiclass_inverse_and_regression():
    t = pa.table({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "y": [3, 1, 2, 3, 1, 2]})
    pre = Preprocessor().fit(t, "y")
    assert pre.task == "multiclass" and pre.classes == [1, 2, 3]
    assert pre.transform(t)["y"].tolist() == [2, 0, 1, 2, 0, 1]
    assert pre.inverse_transform_target(torch.tensor([[0.1, 0.2, 0.7]])).tolist() == [3]
    rng = np.random.default_rng(0)
    r = pa.table({"x": rng.normal(size=100), "y": rng.normal(size=100)})
    pre = Preprocessor().fit(r, "y")
    assert pre.task == "regression" and pre.num_classes is None
    assert pre.transform(r)["y"].dtype == torch.float32


def test_bool_target_is_encoded_also_after_a_config_round_trip():
    """Regression: a true/false label column failed in transform ("label True ... not seen")."""
    t = pa.table({"x": [0.0, 1.0, 2.0, 3.0], "y": [True, False, True, True]})
    pre = Preprocessor().fit(t, "y")
    assert pre.classes == [False, True]
    assert pre.transform(t)["y"].tolist() == [1, 0, 1, 1]
    again = Preprocessor.from_config(json.loads(json.dumps(pre.get_config())))
    assert again.transform(t)["y"].tolist() == [1, 0, 1, 1]
    assert pre.inverse_transform_target([1, 0]).tolist() == [True, False]


def test_image_column(tmp_path):
    for i in range(4):
        Image.new("RGB", (10, 8), color=(i * 60, 0, 0)).save(tmp_path / f"img{i}.png")
    (tmp_path / "t.csv").write_text("img,y\n" + "".join(f"img{i}.png,{i % 2}\n" for i in range(4)))
    table = read_table(tmp_path / "t.csv")  # relative paths resolve against the file's folder
    pre = Preprocessor(image_size=[6, 6]).fit(table, "y")
    assert pre.schema["img"].type == "image"
    x = pre.transform(table)["img"]
    assert x.shape == (4, 3, 6, 6) and x.dtype == torch.float32
    assert abs(float(x[3, 0].mean()) - 180 / 255) < 1e-3 and float(x.max()) <= 1.0
    again = Preprocessor.from_config(json.loads(json.dumps(pre.get_config()))).transform(table)
    assert torch.equal(again["img"], x)


def test_pandas_input_and_bad_config():
    import pandas as pd

    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "flag": [True, False, True], "y": ["a", "b", "a"]})
    batch = Preprocessor().fit_transform(df, "y")
    assert batch["numeric"][:, 1].tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(Exception, match="Not a preprocessor config"):
        Preprocessor.from_config({"format": "other"})


@pytest.mark.parametrize(
    ("kind", "key", "value"),
    [("numeric", "mean", None), ("numeric", "std", 0.0), ("numeric", "missing", -1)],
)
def test_a_damaged_saved_state_is_refused_at_load(kind, key, value):
    """Regression (issue 11): a model.json whose preprocessing said mean=null loaded, then
    transform raised TypeError (exit 1)."""
    import pyarrow as pa

    from deepfuse._utils.errors import DataError
    from deepfuse.data import Preprocessor

    table = pa.table({"age": [1.0, 2.0, 3.0, 4.0], "y": ["a", "b", "a", "b"]})
    config = Preprocessor().fit(table, "y").get_config()
    Preprocessor.from_config(config)  # the sound state loads
    config["encoders"]["age"][key] = value
    with pytest.raises(DataError, match=rf"column 'age' is damaged: '{key}' must be"):
        Preprocessor.from_config(config)
