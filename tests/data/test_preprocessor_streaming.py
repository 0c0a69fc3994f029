"""Preprocessor.fit on a LazyDataset (one streaming pass) against the in-memory fit."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import torch

from deepfuse._utils.errors import DataError
from deepfuse.data import Preprocessor, scan_parquet
from deepfuse.data.schema import FeatureSpec, Schema
from deepfuse.data.sketches import HeavyHitters, LengthHistogram, Moments
from deepfuse.data.stream_fit import StreamingFit

SHARED_ADULT = "/work/shared/datasets"


def _write_parts(table: pa.Table, folder, parts: int = 3, row_group_size: int = 700) -> str:
    """``table`` as ``parts`` Parquet files with small row groups; returns the glob."""
    step = math.ceil(table.num_rows / parts)
    for i in range(parts):
        pq.write_table(
            table.slice(i * step, step), folder / f"part-{i}.parquet", row_group_size=row_group_size
        )
    return str(folder / "*.parquet")


def _assert_same(a, b, path="config"):
    """Equal JSON trees; floats equal to float64 rounding (streamed means are merged by chunk)."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b and type(a) is type(b), f"{path}: {a!r} != {b!r}"


def _assert_same_batches(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        if a[k].dtype.is_floating_point:  # standardised with means equal to ~1e-16
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
        else:
            assert torch.equal(a[k], b[k]), k


def _concat(batches: list[dict]) -> dict:
    return {k: torch.cat([b[k] for b in batches]) for k in batches[0]}


def _generated(n: int = 3000, seed: int = 0) -> pa.Table:
    """Numeric (float and int, with nulls), binary (bool, strings), categorical, text, target."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(300)]
    p = 1.0 / np.arange(1, 301)
    texts = [
        None
        if rng.random() < 0.05
        else " ".join(rng.choice(words, rng.integers(1, 40), p=p / p.sum()))
        for _ in range(n)
    ]
    num = rng.normal(1e6, 3.0, n)  # large offset: a naive sum-of-squares variance would fail
    num_null = rng.random(n) < 0.1
    ints = rng.integers(0, 1000, n)
    return pa.table(
        {
            "num": pa.array(num, mask=num_null),
            "count": pa.array(ints, mask=rng.random(n) < 0.05),
            "flag": pa.array(rng.random(n) < 0.3, mask=rng.random(n) < 0.05),
            "yes_no": pa.array(rng.choice(["yes", "no"], n)),
            "city": pa.array(rng.choice([f"c{i}" for i in range(40)], n), mask=rng.random(n) < 0.1),
            "review": pa.array(texts, pa.string()),
            "label": pa.array(rng.choice(["a", "b", "c"], n)),
        }
    )


@pytest.fixture(scope="module")
def adult_train():
    from deepfuse.datasets import load_adult

    try:
        train, test = load_adult(data_dir=SHARED_ADULT)
    except (DataError, FileNotFoundError, OSError) as e:
        pytest.skip(f"Adult data not available under {SHARED_ADULT}: {e}")
    return train, test.slice(0, 2000)


def test_adult_stream_fit_equals_in_memory_fit(adult_train, tmp_path):
    train, test = adult_train
    ds = scan_parquet(_write_parts(train, tmp_path, parts=3, row_group_size=2000))
    streamed = Preprocessor().fit(ds, "income")
    memory = Preprocessor().fit(train, "income")
    _assert_same(streamed.get_config(), memory.get_config())
    _assert_same_batches(streamed.transform(test), memory.transform(test))
    # the stream itself, batched through collate, gives transform() of the whole table
    batches = list(streamed.stream(ds, 4096))
    assert len(batches) == math.ceil(train.num_rows / 4096)
    _assert_same_batches(_concat(batches), memory.transform(train))


def test_generated_stream_fit_equals_in_memory_fit(tmp_path):
    table = _generated()
    ds = scan_parquet(_write_parts(table, tmp_path, parts=3, row_group_size=250))
    pre = Preprocessor(max_tokens=100)
    # a sample of 1000 rows types the columns; the stats still come from all 3000 rows
    streamed = pre.fit_stream(ds, "label", sample_rows=1000)
    memory = Preprocessor(max_tokens=100).fit(table, "label")
    assert [f.type for f in memory.schema.features] == [
        "numeric", "numeric", "binary", "binary", "categorical", "text",
    ]  # fmt: skip
    assert memory.schema["num"].stats["missing"] > 0 and memory.schema["city"].stats["missing"] > 0
    assert len(memory._encoders["review"].vocab) == 98  # truncated to max_tokens: ranking matters
    # reasons are worded from the sample ("N distinct values"); everything else is equal
    cs, cm = streamed.get_config(), memory.get_config()
    for c in (cs, cm):
        for f in c["schema"]["features"]:
            f.pop("reason")
    _assert_same(cs, cm)
    _assert_same_batches(streamed.transform(table), memory.transform(table))
    _assert_same_batches(_concat(list(streamed.stream(ds, 512))), memory.transform(table))
    with pytest.raises(DataError, match="collate"):
        ds.batch(512, target="label", collate=streamed.collate)


def test_stream_fit_applies_filter_and_map_like_collect(tmp_path):
    table = _generated(1500, seed=1)
    ds = (
        scan_parquet(_write_parts(table, tmp_path))
        .filter(pc.field("yes_no") == "yes")
        .map(lambda b: {**b, "num": b["num"] * 2.0})
    )
    streamed = Preprocessor().fit(ds, "label")
    memory = Preprocessor().fit(ds.collect(), "label")
    _assert_same(streamed.get_config(), memory.get_config())
    assert streamed.schema["yes_no"].type == "ignored"  # the filter left a constant column


def _rank_top(vc: pa.StructArray, k: int) -> list[str]:
    """The ``k`` most frequent values of a ``value_counts`` result (ground truth)."""
    counts = vc.field("counts").to_numpy()
    values = vc.field("values").to_pylist()
    return [values[i] for i in np.argsort(-counts, kind="stable")[:k]]


def test_approximate_categories_keep_the_true_heavy_hitters(tmp_path):
    rng = np.random.default_rng(0)
    n = 40_000
    heavy = rng.choice([f"top{i}" for i in range(10)], n // 2)  # 10 values share half the rows
    tail = pc.cast(pa.array(rng.integers(0, 5000, n - n // 2)), pa.string()).to_numpy(False)
    values = np.concatenate([heavy, tail])
    rng.shuffle(values)
    table = pa.table({"cat": values.astype(str), "y": rng.integers(0, 2, n)})
    ds = scan_parquet(_write_parts(table, tmp_path, row_group_size=3000))
    pre = Preprocessor().fit_stream(ds, "y", max_categories=50)
    stats = pre.schema["cat"].stats
    assert stats["approximate"] is True and "Misra-Gries" in stats["approximation"]
    cats = pre._encoders["cat"].categories
    vc = pc.value_counts(pa.array(values))
    true_top = set(_rank_top(vc, 10))
    assert set(cats[:10]) == true_top and len(cats) <= 50
    # the flag and its reason survive JSON; exact fits never carry the key
    again = Preprocessor.from_config(json.loads(json.dumps(pre.get_config())))
    assert again.schema["cat"].stats["approximate"] is True
    assert again._encoders["cat"].approximate == pre._encoders["cat"].approximate
    assert torch.equal(again.transform(table)["categorical"], pre.transform(table)["categorical"])
    assert "approximate" not in Preprocessor().fit(table, "y").get_config()["encoders"]["cat"]


def test_text_vocabulary_is_flagged_approximate_when_words_are_evicted(tmp_path):
    rng = np.random.default_rng(1)
    texts = [
        " ".join(f"common{i % 3} rare{rng.integers(0, 10**6)}" for i in range(3))
        for _ in range(2000)
    ]
    table = pa.table({"review": texts, "y": rng.integers(0, 2, 2000)})
    ds = scan_parquet(_write_parts(table, tmp_path, row_group_size=300))
    pre = Preprocessor(max_tokens=5, overrides={"review": "text"}).fit(ds, "y")
    stats = pre.schema["review"].stats
    assert stats["approximate"] is True and "distinct words" in stats["approximation"]
    assert pre._encoders["review"].vocab == ["common0", "common1", "common2"]
    exact = Preprocessor(max_tokens=5, overrides={"review": "text"}).fit(table, "y")
    assert stats["max_len"] == exact.schema["review"].stats["max_len"]  # length quantile is exact


def test_memory_is_bounded_by_the_cap_not_the_rows():
    rows, chunk, cap = 200_000, 10_000, 1000
    schema = Schema([FeatureSpec("id", "categorical"), FeatureSpec("x", "numeric")])
    fit = StreamingFit(schema, {}, "y", None, max_categories=cap, max_classes=10)
    # 100k distinct ids, each once, interleaved with 20 frequent ones (a quarter of the rows each)
    ids = np.arange(rows) % 100_000
    ids[1::2] = 100_000 + np.arange(rows // 2) % 20
    peak = 0
    for start in range(0, rows, chunk):
        part = ids[start : start + chunk]
        rb = pa.record_batch(
            {
                "id": pc.cast(pa.array(part), pa.string()),
                "x": pa.array(part.astype(np.float64)),
                "y": pa.array(part % 2),
            }
        )
        fit.update(rb)
        sizes = fit.sizes()
        assert sizes["id"] <= cap and sizes["y"] == 2 and sizes["x"] == 1
        peak = max(peak, sizes["id"])
    schema, encoders = fit.finish()
    assert peak >= 20 and fit.rows == rows
    assert encoders["id"].approximate and len(encoders["id"].categories) <= cap
    assert set(encoders["id"].categories[:20]) == {str(100_000 + i) for i in range(20)}
    assert encoders["x"].mean == pytest.approx(ids.mean(), rel=1e-12)
    assert encoders["x"].std == pytest.approx(ids.std(), rel=1e-12)
    assert schema.target.classes == [0, 1] and schema.target.task == "binary"


def test_heavy_hitters_counts_are_bounded_underestimates():
    rng = np.random.default_rng(2)
    data = rng.zipf(1.3, 50_000) % 3000
    hh = HeavyHitters(capacity=100)
    for part in np.array_split(data, 17):
        hh.update(pc.cast(pa.array(part), pa.string()))
        assert len(hh) <= 100
    true = dict(zip(*np.unique(data, return_counts=True)))
    keys, counts = hh.counts()
    assert hh.approximate and 0 < hh.error <= len(data) / 101  # the Misra-Gries guarantee
    for k, c in zip(keys.to_pylist(), counts.tolist()):
        assert true[int(k)] - hh.error <= c <= true[int(k)]
    # every value more frequent than the error bound is kept
    kept = {int(k) for k in keys.to_pylist()}
    assert {v for v, c in true.items() if c > hh.error} <= kept


def test_exact_sketches_match_numpy():
    rng = np.random.default_rng(3)
    x = rng.normal(1e8, 1e-3, 10_000)  # catastrophic for sum/sum-of-squares
    x[rng.random(10_000) < 0.1] = np.nan
    m = Moments()
    for part in np.array_split(x, 7):
        m.update(part)
    ok = x[~np.isnan(x)]
    assert m.missing == 10_000 - ok.size and m.count == ok.size
    assert m.mean == pytest.approx(ok.mean(), rel=1e-15) and m.std == pytest.approx(
        ok.std(), rel=1e-12
    )
    for trial in range(30):
        lengths = rng.integers(0, 60 if trial % 2 else 300, rng.integers(1, 500))
        h = LengthHistogram(bound=100)
        for part in np.array_split(lengths, 3):
            h.update(part)
        for q in (0.0, 0.1, 0.5, 0.9, 0.97, 1.0):
            want = float(np.quantile(lengths, q))
            if want <= 100:
                assert h.quantile(q) == want
            else:
                assert h.quantile(q) > 100


def test_target_errors_name_the_problem(tmp_path):
    rng = np.random.default_rng(4)
    labels = [f"label{i}" for i in rng.integers(0, 40, 400)]
    table = pa.table({"x": rng.normal(size=400), "y": labels})
    ds = scan_parquet(_write_parts(table, tmp_path, row_group_size=50))
    with pytest.raises(DataError, match="more than 10 distinct labels"):
        Preprocessor().fit_stream(ds, "y", max_classes=10)
    assert Preprocessor().fit(ds, "y").num_classes == 40
    # a numeric target with many values is a regression target whatever the cap
    reg = pa.table({"x": rng.normal(size=400), "y": rng.normal(size=400)})
    (tmp_path / "reg").mkdir()
    ds2 = scan_parquet(_write_parts(reg, tmp_path / "reg"))
    pre = Preprocessor().fit_stream(ds2, "y", max_classes=10)
    assert pre.task == "regression" and "more than 10" in pre.schema.target.reason
    # a missing label is reported with its row in the whole dataset
    holes = pa.table(
        {"x": np.arange(400.0), "y": pa.array([0, 1] * 200, mask=np.arange(400) == 321)}
    )
    (tmp_path / "holes").mkdir()
    ds3 = scan_parquet(_write_parts(holes, tmp_path / "holes", row_group_size=50))
    with pytest.raises(DataError, match="missing in row 322"):
        Preprocessor().fit(ds3, "y")


def test_tabular_zoo_model_trains_on_streamed_batches(tmp_path):
    from deepfuse.models import Model, zoo

    table = _generated(2000, seed=5).drop_columns(["review"])
    ds = scan_parquet(_write_parts(table, tmp_path)).shuffle(1000, seed=0)
    pre = Preprocessor().fit(ds, "label")
    info = pre.inputs()
    net = zoo.get(
        "tabular",
        num_numeric=info["numeric"]["shape"][0],
        cardinalities=[c - 1 for c in info["categorical"]["cardinalities"]],
        hidden=[16],
        out_features=pre.num_classes,
    )
    model = Model(net)
    model.target_key = pre.target
    model.compile("adam", "cross_entropy")
    history = model.fit(pre.stream(ds, 256), epochs=2, verbose=0, seed=0)
    losses = history.history["loss"]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
