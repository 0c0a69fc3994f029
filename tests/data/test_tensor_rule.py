"""One array -> tensor rule: every entry point turns the same arrays into the same tensors.

Regression test of issue 10: uint8 channels-last images with bool labels used to become NCHW
0-255 int64 labels (``deepfuse.data``), NHWC 0-255 (``fit``) and NCHW 0-1 (the CLI). The rule
(``deepfuse.data.tensors``): uint8 pixels -> float32 in [0, 1], channels-last -> NCHW, bool
targets -> float32.

To add an entry point, add a function ``(images, labels) -> {"x": ..., "y": ...}`` to
``ENTRY_POINTS``. Flattened pixels as columns (a table in memory, a streamed Parquet file, a Ray
Data shard) are checked the same way in ``TABLE_ENTRY_POINTS``; image files (the Preprocessor's
image column, ``scan_images``) decode to the same tensors as the arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import deepfuse as df
from deepfuse._utils.errors import DataError
from deepfuse.data import scan_parquet, to_tensor_dict
from deepfuse.data.tensors import feature_matrix, images_to_tensor, to_tensor
from deepfuse.models import feeding

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(6, 12, 10, 3), dtype=np.uint8)  # (N, H, W, C), H != W
LABELS = np.array([True, False, True, True, False, False])


def _fit_plain(images: np.ndarray, labels: np.ndarray) -> dict[str, torch.Tensor]:
    """What ``Model.fit`` trains on, for any ``nn.Module``."""
    return feeding.to_tensors(df.Model(torch.nn.Flatten()), images, labels)


def _fit_keras_conv(images: np.ndarray, labels: np.ndarray) -> dict[str, torch.Tensor]:
    """What ``fit`` trains on for a Keras-style model declared channels-last: not transposed twice."""
    model = df.Sequential([df.layers.Conv2D(2, 3, input_shape=(12, 10, 3)), df.layers.Flatten()])
    return feeding.to_tensors(model, images, labels)


def _fit_lazy_conv(images: np.ndarray, labels: np.ndarray) -> dict[str, torch.Tensor]:
    """``fit`` with a first Conv2D that infers the layout from the first data it sees."""
    model = df.Sequential([df.layers.Conv2D(2, 3), df.layers.Flatten()])
    return feeding.to_tensors(model, images, labels)


def _images_to_tensor(images: np.ndarray, labels: np.ndarray) -> dict[str, torch.Tensor]:
    return {"x": images_to_tensor(images), "y": to_tensor(labels, label=True)}


def _cli_builtin_route(images: np.ndarray, labels: np.ndarray) -> dict[str, torch.Tensor]:
    """What ``deepfuse train`` feeds for ``data.dataset: <name>``: a built-in image dataset (as
    MNIST is) served by the CLI's data route, both its training and its test tensors."""
    from deepfuse.data.routes import route_for
    from deepfuse.datasets.catalog import BUILTIN_DATASETS, BuiltinDataset

    name = "tensor_rule_probe"
    entry = BuiltinDataset(name, lambda: ((images, labels), (images, labels)), "images")
    BUILTIN_DATASETS.register(name, entry)
    try:
        route = route_for({"dataset": name})
        prepared = route.prepare({"dataset": name}, seed=0, batch_size=32)
        test = route.test_feed({"dataset": name}, seed=0, preprocessor=None)
    finally:
        BUILTIN_DATASETS.unregister(name)
    for key in ("x", "y"):  # no validation split: the training tensors are the arrays, in order
        assert torch.equal(prepared.train[key], test[key]) and torch.equal(
            prepared.test[key], test[key]
        )
    return test


ENTRY_POINTS: dict[str, Callable[[np.ndarray, np.ndarray], dict[str, torch.Tensor]]] = {
    "CLI (data.dataset route)": _cli_builtin_route,
    "deepfuse.data.to_tensor_dict": to_tensor_dict,
    "fit (any module)": _fit_plain,
    "fit (Keras input_shape)": _fit_keras_conv,
    "fit (lazy Conv2D)": _fit_lazy_conv,
    "deepfuse.data.tensors.images_to_tensor": _images_to_tensor,
}


def _reference() -> dict[str, torch.Tensor]:
    """Written out by hand: NCHW float32 pixels / 255, float32 0/1 labels."""
    x = torch.from_numpy(IMAGES.astype(np.float32) / np.float32(255.0)).permute(0, 3, 1, 2)
    return {"x": x.contiguous(), "y": torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_entry_points_give_identical_tensors(entry):
    got = ENTRY_POINTS[entry](IMAGES, LABELS)
    want = _reference()
    assert sorted(got) == ["x", "y"]
    for key in ("x", "y"):
        assert got[key].dtype == want[key].dtype, key
        assert got[key].shape == want[key].shape, key
        assert torch.equal(got[key], want[key]), key


def test_the_rule_table():
    assert to_tensor(np.array([1.5], np.float64)).dtype == torch.float32
    assert to_tensor(np.array([3], np.int32)).dtype == torch.int64  # token ids stay integers
    assert to_tensor(np.array([7], np.uint8), label=True).tolist() == [7]  # uint8 class labels
    assert to_tensor(np.array([0, 51, 255], np.uint8)).tolist() == pytest.approx([0.0, 0.2, 1.0])
    assert to_tensor(np.array([True])).dtype == torch.float32
    # channels-last only when the array alone says so
    assert to_tensor(np.zeros((2, 8, 8, 1))).shape == (2, 1, 8, 8)
    assert to_tensor(np.zeros((2, 3, 8, 8))).shape == (2, 3, 8, 8)  # already NCHW
    assert to_tensor(np.zeros((2, 8, 8))).shape == (2, 8, 8)  # the model adds the channel
    assert to_tensor(np.zeros((2, 8, 8, 1)), label=True).shape == (2, 8, 8, 1)  # masks as given
    assert images_to_tensor(np.zeros((2, 8, 8), np.uint8)).shape == (2, 1, 8, 8)


def test_image_files_decode_to_the_rule_s_tensors(tmp_path):
    """The same pixels saved as PNG files: the Preprocessor's image column (the CLI's table
    route) and ``scan_images`` (streamed) give what the rule gives for the arrays."""
    from PIL import Image

    from deepfuse.data import Preprocessor, scan_images

    paths = []
    for i, image in enumerate(IMAGES):  # PNG is lossless: the files hold exactly these pixels
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(image).save(paths[-1])
    want = _reference()["x"]
    table = pa.table({"img": paths, "label": LABELS})
    assert torch.equal(Preprocessor().fit(table, "label").transform(table)["img"], want)
    (batch,) = list(scan_images(tmp_path, labels=None).batch(len(IMAGES)))
    assert torch.equal(batch["x"], want)


def test_keras_style_model_trains_on_uint8_channels_last_images():
    model = df.Sequential(
        [
            df.layers.Conv2D(4, 3, activation="relu", input_shape=(12, 10, 3)),
            df.layers.Flatten(),
            df.layers.Dense(2),
        ]
    )
    model.compile(optimizer="adam", loss="cross_entropy")
    y = LABELS.astype(np.int64)
    model.fit(IMAGES, y, epochs=1, batch_size=3, verbose=0, seed=0)
    assert model.predict(IMAGES).shape == (6, 2)
    # NHWC uint8 and the same images already converted give the same predictions
    np.testing.assert_array_equal(model.predict(IMAGES), model.predict(_reference()["x"]))


# --- flattened pixels as columns: a table in memory and a streamed Parquet file ---------------

PIXELS = (np.arange(40 * 16) % 256).astype(np.uint8).reshape(40, 16)  # every uint8 value, (N, F)
FLAT_LABELS = np.arange(40) % 3 == 0  # bool


def _pixel_table() -> pa.Table:
    columns = {f"p{i}": PIXELS[:, i] for i in range(PIXELS.shape[1])}
    return pa.table({**columns, "label": FLAT_LABELS})


def _streamed(tmp_path) -> dict[str, torch.Tensor]:
    pq.write_table(_pixel_table(), tmp_path / "pixels.parquet", row_group_size=16)
    ds = scan_parquet(tmp_path / "pixels.parquet").batch(len(PIXELS), target="label")
    (batch,) = list(ds)
    return batch


class _FakeRayShard:
    """What ``ray.train.get_dataset_shard`` yields: the columns as CPU tensors of their dtype."""

    def iter_torch_batches(self, batch_size: int, drop_last: bool) -> Any:
        table = _pixel_table()
        yield {
            name: torch.from_numpy(table.column(name).to_numpy().copy())
            for name in table.column_names
        }


def _ray(_) -> dict[str, torch.Tensor]:
    from deepfuse.distributed.raydata import RayDataShard

    (batch,) = list(RayDataShard(_FakeRayShard(), batch_size=len(PIXELS), target="label"))
    return batch


TABLE_ENTRY_POINTS: dict[str, Callable[[Any], dict[str, torch.Tensor]]] = {
    "RayDataShard(target=...)": _ray,
    "fit (arrays)": lambda _: _fit_plain(PIXELS, FLAT_LABELS),
    "deepfuse.data.to_tensor_dict (arrays)": lambda _: to_tensor_dict(PIXELS, FLAT_LABELS),
    "deepfuse.data.to_tensor_dict (pyarrow table)": lambda _: to_tensor_dict(
        _pixel_table().drop(["label"]), FLAT_LABELS
    ),
    "fit (pandas DataFrame)": lambda _: _fit_plain(
        _pixel_table().drop(["label"]).to_pandas(), FLAT_LABELS
    ),
    "scan_parquet(...).batch(n, target=...)": _streamed,
}


@pytest.mark.parametrize("entry", sorted(TABLE_ENTRY_POINTS))
def test_pixel_columns_give_identical_tensors(entry, tmp_path):
    """uint8 pixel columns + a bool label: streamed, as a table or as arrays, the same tensors."""
    got = TABLE_ENTRY_POINTS[entry](tmp_path)
    want = {
        "x": torch.from_numpy(PIXELS.astype(np.float32) / np.float32(255.0)),  # (N, F) in [0, 1]
        "y": torch.from_numpy(FLAT_LABELS.astype(np.float32)),  # binary targets: float32
    }
    assert sorted(got) == ["x", "y"]
    for key in ("x", "y"):
        assert got[key].dtype == want[key].dtype, key
        assert got[key].shape == want[key].shape, key
        assert torch.equal(got[key], want[key]), key


def test_streamed_columns_without_target_keep_their_values(tmp_path):
    """Without target= a column's role is unknown: uint8 stays integer, bool becomes float32."""
    pq.write_table(_pixel_table(), tmp_path / "pixels.parquet")
    (batch,) = list(scan_parquet(tmp_path / "pixels.parquet").batch(len(PIXELS)))
    assert batch["p0"].dtype == torch.int64
    assert torch.equal(batch["p0"], torch.from_numpy(PIXELS[:, 0].astype(np.int64)))
    assert batch["label"].dtype == torch.float32  # was bool: the rule says float32 0/1
    assert torch.equal(batch["label"], torch.from_numpy(FLAT_LABELS.astype(np.float32)))


def test_feature_matrix_refuses_a_multi_value_column():
    with pytest.raises(DataError, match="Feature column 'img' has shape"):
        feature_matrix([np.zeros((4, 2, 2), np.uint8)], names=["img"])
