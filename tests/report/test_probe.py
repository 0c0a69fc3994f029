"""The report's probe feeds the model the sampled rows as ``fit`` does (one tensor rule)."""

from __future__ import annotations

import numpy as np
import torch

import deepfuse as df
from deepfuse.models import feeding
from deepfuse.report.inside import image_key
from deepfuse.report.probe import probe, sample_rows

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(6, 8, 8, 3), dtype=np.uint8)  # (N, H, W, C)
LABELS = np.array([True, False, True, True, False, False])


def _model() -> df.Sequential:
    torch.manual_seed(0)
    model = df.Sequential(
        [df.layers.Conv2D(2, 3, input_shape=(8, 8, 3)), df.layers.Flatten(), df.layers.Dense(2)]
    )
    model.compile(optimizer="adam", loss="cross_entropy")
    return model


def test_probe_rows_are_what_the_model_was_fed():
    """Regression (issue 10): uint8 NHWC test rows stayed uint8, so the report found no image."""
    model = _model()
    p = probe(model, {"x": IMAGES, "y": LABELS})
    want = torch.from_numpy(IMAGES.astype(np.float32) / np.float32(255.0)).permute(0, 3, 1, 2)
    assert p.rows["x"].dtype == torch.float32 and torch.equal(p.rows["x"], want.contiguous())
    assert p.rows["y"].dtype == torch.float32  # bool targets: float32 by the rule
    assert image_key(p.rows, model) == "x"
    np.testing.assert_allclose(p.outputs, model.predict(IMAGES), rtol=1e-6)
    np.testing.assert_array_equal(p.y_true, LABELS.astype(np.float32))


def test_probe_of_batches_equals_probe_of_the_same_rows():
    model = _model()
    whole = probe(model, {"x": IMAGES, "y": LABELS})
    batches = [{"x": IMAGES[i : i + 4], "y": LABELS[i : i + 4]} for i in range(0, 6, 4)]
    streamed = probe(model, batches)
    for key in ("x", "y"):
        assert torch.equal(streamed.rows[key], whole.rows[key])
    np.testing.assert_array_equal(streamed.outputs, whole.outputs)


def test_sample_rows_keeps_row_order_and_dtypes():
    rows = sample_rows({"x": IMAGES, "y": LABELS}, cap=4, seed=1)
    assert rows["x"].dtype == torch.uint8 and rows["y"].dtype == torch.bool
    picked = [int(np.flatnonzero((r.numpy() == IMAGES).all(axis=(1, 2, 3)))[0]) for r in rows["x"]]
    assert picked == sorted(picked) and len(set(picked)) == 4
    assert torch.equal(rows["y"], torch.from_numpy(LABELS[picked]))
    converted = feeding.to_tensors(_model(), rows, None)
    assert converted["x"].shape == (4, 3, 8, 8)
