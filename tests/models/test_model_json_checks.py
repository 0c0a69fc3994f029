"""Issue 11 finding 7: model.json content is validated before use (one DataError, no traceback).

``format_version: "abc"`` was an int() ValueError, an architecture without ``layers`` a KeyError,
``input_spec`` dtypes went through ``getattr(torch, ...)`` (any torch attribute) and shapes
straight into ``torch.zeros`` (a negative size, or 8 TB).
"""

from __future__ import annotations

import json

import pytest
import torch

import deepfuse as df
from deepfuse._utils.errors import DataError
from deepfuse.models.serialization import INPUT_DTYPES, input_dtype, load_model


def _saved(tmp_path):
    model = df.Sequential([df.layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "m")
    return tmp_path / "m", json.loads((tmp_path / "m" / "model.json").read_text())


def _spec(meta):
    return next(iter(meta["input_spec"].values()))


EDITS = {
    "version-string": (lambda m: m.update(format_version="abc"), "'format_version'.*got 'abc'"),
    "version-bool": (lambda m: m.update(format_version=True), "'format_version'"),
    "version-newer": (lambda m: m.update(format_version=99), "newer deepfuse"),
    "no-layers": (lambda m: m["architecture"].pop("layers"), "needs 'layers'"),
    "layers-not-objects": (lambda m: m["architecture"].update(layers=[1]), "needs 'layers'"),
    "unknown-kind": (lambda m: m["architecture"].update(kind="pickle"), "'kind' must be one of"),
    "dtype-attribute": (lambda m: _spec(m).update(dtype="nn"), r"Bad dtype.*got 'nn'"),
    "dtype-not-a-string": (lambda m: _spec(m).update(dtype=7), "Bad dtype"),
    "shape-negative": (lambda m: _spec(m).update(shape=[-1]), "Bad shape"),
    "shape-bool": (lambda m: _spec(m).update(shape=[True]), "Bad shape"),
    "shape-huge": (lambda m: _spec(m).update(shape=[2**20, 2**20]), "at most 33,554,432"),
    "spec-entry-not-object": (lambda m: m["input_spec"].update(x=3), "Bad shape"),
}


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_bad_model_json_content_is_one_data_error(edit, tmp_path):
    folder, meta = _saved(tmp_path)
    change, words = EDITS[edit]
    change(meta)
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=words) as info:
        load_model(folder)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def test_the_saved_file_still_loads(tmp_path):
    folder, _ = _saved(tmp_path)
    assert load_model(folder).input_spec == {"x": {"shape": [3], "dtype": "float32"}}


def test_input_dtypes_are_an_explicit_allow_list():
    assert all(isinstance(d, torch.dtype) for d in INPUT_DTYPES.values())
    assert input_dtype("int64") is torch.int64
    for name in ("Tensor", "load", "nn", "__class__", "float"):  # torch attributes, not dtypes
        with pytest.raises(DataError, match="Bad dtype"):
            input_dtype(name)
