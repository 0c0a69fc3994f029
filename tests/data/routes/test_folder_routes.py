"""The folder routes (image_folder, text_folder): picked by data.kind, splits that agree with
each other, tensors equal to a Pillow reference, bad files left out with their reason, and the
config keys they take."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.api import resolve_config
from deepfuse.data.routes import ImageFolder, TableInMemory, TextFolder, read_input, route_for


def _images(train, test=None, **extra):
    data = {"kind": "image_folder", "train": str(train), "validation_split": 0.25, **extra}
    return {**data, "test": str(test)} if test else {**data, "test_split": 0.25}


def _texts(train, test=None, **extra):
    data = {"kind": "text_folder", "train": str(train), "validation_split": 0.25, **extra}
    return {**data, "test": str(test)} if test else {**data, "test_split": 0.25}


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_data_kind_picks_the_folder_routes(image_folders, text_folders):
    assert isinstance(route_for(_images(image_folders[0])), ImageFolder)
    assert isinstance(route_for(_texts(text_folders[0])), TextFolder)
    # a folder of CSV files without data.kind stays a table
    assert type(route_for({"train": "x/", "target": "y", "streaming": False})) is TableInMemory
    with pytest.raises(ConfigError, match=r"data\.kind 'image_foldr'.*Did you mean 'image_folder'"):
        route_for({"kind": "image_foldr", "train": str(image_folders[0])})


def test_image_folder_tensors_are_the_decoded_files(image_folders):
    train, test = image_folders
    prep = ImageFolder().prepare(_images(train, test), seed=0, batch_size=16)
    assert prep.kind == "image" and prep.task == "multiclass" and prep.target == "y"
    assert prep.classes == ["blue", "green", "red"]  # sorted subfolder names
    assert len(prep.train["y"]) == 54 and len(prep.val["y"]) == 18 and len(prep.test["y"]) == 24
    x = prep.test["x"]
    assert x.dtype == torch.float32 and tuple(x.shape) == (24, 3, 16, 16)
    # reference: Pillow's decode of the test files in name order, scaled to [0, 1], NCHW
    files = sorted(p for p in test.rglob("*") if p.is_file())
    want = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]) / 255.0
    torch.testing.assert_close(x, torch.from_numpy(want.transpose(0, 3, 1, 2)).float())
    assert prep.test["y"].tolist() == [["blue", "green", "red"].index(f.parent.name) for f in files]


def test_image_folder_resizes_and_converts(image_folders):
    data = _images(image_folders[0], image_size=[8, 12], mode="L")
    prep = route_for(data).prepare(data, seed=0, batch_size=16)
    assert tuple(prep.train["x"].shape[1:]) == (1, 8, 12)
    assert float(prep.train["x"].min()) >= 0.0 and float(prep.train["x"].max()) <= 1.0


@pytest.mark.parametrize("kind", ["image", "text"])
def test_test_feed_and_folds_agree_with_prepare(image_folders, text_folders, kind):
    data = _images(image_folders[0]) if kind == "image" else _texts(text_folders[0])
    route = route_for(data)
    prep = route.prepare(data, seed=3, batch_size=16)
    assert _equal(prep.test, route.test_feed(data, seed=3, preprocessor=prep.preprocessor))
    assert len(prep.test[prep.target]) == 18  # test_split 0.25 of 72, stratified
    folds = route.fold_rows(data)
    assert folds.num_rows == 72 and folds.stratified
    fold = folds.prepared(np.arange(54), np.arange(54, 72), seed=0)
    assert fold.classes == prep.classes and fold.features == prep.features
    assert len(fold.test[fold.target]) == 18


def test_text_folder_is_a_text_column_through_the_preprocessor(text_folders):
    train, test = text_folders
    prep = route_for(_texts(train, test)).prepare(_texts(train, test), seed=0, batch_size=16)
    assert prep.kind == "table" and prep.features == {"text": "text"}
    assert prep.target == "label" and prep.classes == ["cooking", "space", "sports"]
    assert prep.task == "multiclass" and len(prep.test["label"]) == 24
    # the same words give the same ids as the Preprocessor fitted on the same table
    vocab = prep.preprocessor.inputs()["text"]["vocab_size"]
    assert prep.train["text"].dtype == torch.int64 and int(prep.train["text"].max()) < vocab


def test_text_folder_gives_the_tensors_of_the_same_rows_as_a_csv(text_folders, tmp_path):
    """Reference: the table route on a CSV of the same files (in listing order, the class as
    the label column) gives the same tensors, so a folder trains like the IMDB CSV example."""
    files = sorted(str(p) for p in text_folders[0].rglob("*.txt"))
    with open(tmp_path / "docs.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for f in files:
            writer.writerow([Path(f).read_text(), Path(f).parent.name])
    folder = _texts(text_folders[0])
    table = {**folder, "train": str(tmp_path / "docs.csv"), "target": "label",
             "features": {"text": "text"}}  # fmt: skip
    del table["kind"]
    a = TextFolder().prepare(folder, seed=5, batch_size=16)
    b = TableInMemory().prepare(table, seed=5, batch_size=16)
    assert a.classes == b.classes and a.features == b.features
    for split in ("train", "val", "test"):
        assert _equal(getattr(a, split), getattr(b, split)), split


def test_bad_files_are_left_out_with_their_reason(image_folders, text_folders, tmp_path):
    (image_folders[0] / "red" / "broken.png").write_bytes(b"not a png")
    (text_folders[0] / "space" / "latin1.txt").write_bytes(b"caf\xe9 orbit\n")
    log = tmp_path / "bad.jsonl"
    with pytest.warns(UserWarning, match=r"image_folder: 1 file.*red/broken\.png.*corrupt_image"):
        prep = route_for(_images(image_folders[0], quarantine=str(log))).prepare(
            _images(image_folders[0], quarantine=str(log)), seed=0, batch_size=16
        )
    assert sum(len(s["y"]) for s in (prep.train, prep.val, prep.test)) == 72
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["reason"], r["file"].endswith("broken.png")) for r in records] == [
        ("corrupt_image", True)
    ]
    with pytest.warns(UserWarning, match=r"text_folder: 1 file.*space/latin1\.txt.*invalid_utf8"):
        prep = route_for(_texts(text_folders[0])).prepare(
            _texts(text_folders[0]), seed=0, batch_size=16
        )
    assert sum(len(s["label"]) for s in (prep.train, prep.val, prep.test)) == 72


def test_a_test_folder_with_other_classes_is_an_error(image_folders, tmp_path):
    (image_folders[1] / "purple").mkdir()
    Image.new("RGB", (16, 16), (128, 0, 128)).save(image_folders[1] / "purple" / "0.png")
    with pytest.raises(DataError, match=r"class subfolders of data\.test.*purple"):
        route_for(_images(*image_folders)).prepare(_images(*image_folders), seed=0, batch_size=8)


def test_no_readable_image_is_an_error(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"nope")
    with pytest.raises(DataError, match=r"No image of .* could be read.*corrupt_image"):
        route_for(_images(tmp_path)).prepare(_images(tmp_path), seed=0, batch_size=8)


def test_a_folder_of_files_is_read_as_a_path_table(image_folders, tmp_path):
    table = read_input(str(image_folders[1]))
    assert table.column_names == ["path", "label"] and table.num_rows == 24
    assert table["label"].to_pylist() == ["blue"] * 8 + ["green"] * 8 + ["red"] * 8
    flat = read_input(str(image_folders[1] / "red"))  # no class subfolders: no label
    assert flat.column_names == ["path"] and flat.num_rows == 8
    docs = sorted((image_folders[1] / "red").glob("*"))[:2]
    for i, f in enumerate(docs):  # text files: their content, as a table with a text column
        (tmp_path / "docs" / "pos").mkdir(parents=True, exist_ok=True)
        (tmp_path / "docs" / "pos" / f"{i}.txt").write_text(f"doc {f.name}")
    texts = read_input(str(tmp_path / "docs"))
    assert texts.to_pydict() == {"text": [f"doc {f.name}" for f in docs], "label": ["pos"] * 2}
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.csv").write_text("x,y\n1,2\n")  # a folder of tables is not listed
    with pytest.raises(DataError, match="it is a folder"):  # as before
        read_input(str(tmp_path / "t"))


# ----------------------------------------------------------------------------- config keys


def _resolve(data):
    return resolve_config({"data": data, "trainer": {"epochs": 1}})["data"]


def test_config_takes_the_folder_keys(tmp_path):
    data = _resolve({"kind": "image_folder", "train": str(tmp_path), "image_size": 32, "mode": "L"})
    assert data["kind"] == "image_folder" and data["test_split"] == 0.2
    assert _resolve({"kind": "text_folder", "train": str(tmp_path)})["validation_split"] == 0.1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "image_foldr"}, r"'data\.kind': 'image_foldr'.*Did you mean 'image_folder'"),
        ({"kind": "image_folder", "target": "y"}, r"'data\.target' does not apply.*subfolders"),
        ({"kind": "image_folder", "features": {"x": "numeric"}}, r"'data\.features' does not"),
        ({"kind": "text_folder", "image_size": 32}, r"'data\.image_size' applies to .*image_f"),
        ({"target": "y", "mode": "L"}, r"'data\.mode' applies to data\.kind=image_folder"),
        ({}, r"'data\.target' is missing.*data\.kind \(image_folder, text_folder\)"),
    ],
)
def test_config_errors_name_the_key_and_the_fix(tmp_path, data, message):
    with pytest.raises(ConfigError, match=message):
        _resolve({"train": str(tmp_path), **data})


def test_a_builtin_dataset_takes_no_kind():
    with pytest.raises(ConfigError, match=r"'data\.kind' applies to your own files"):
        _resolve({"dataset": "mnist", "kind": "image_folder"})


def test_folder_routes_do_not_stream(image_folders, text_folders):
    for data in (_images(image_folders[0]), _texts(text_folders[0])):
        with pytest.raises(ConfigError, match=r"'data\.streaming: true' is not supported"):
            route_for(data).prepare({**data, "streaming": True}, seed=0, batch_size=8)
