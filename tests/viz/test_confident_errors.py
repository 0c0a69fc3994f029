"""deepfuse.viz confident errors: the same rows as a numpy argsort reference, captions with labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib", reason="matplotlib (deepfuse[viz]) is not installed")

from deepfuse._utils.errors import DataError
from deepfuse.viz import confident_errors, plot_confident_errors


def _reference(probs: np.ndarray, y: np.ndarray, k: int) -> list[dict]:
    if probs.ndim == 1:
        predicted = (probs >= 0.5).astype(int)
        confidence = np.where(predicted == 1, probs, 1 - probs)
    else:
        predicted = probs.argmax(1)
        confidence = probs.max(1)
    wrong = np.where(predicted != y)[0]
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:k]
    return [
        {
            "index": int(i),
            "true": int(y[i]),
            "predicted": int(predicted[i]),
            "confidence": float(confidence[i]),
        }
        for i in order
    ]


def test_multiclass_matches_the_numpy_reference():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 4)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = rng.integers(0, 4, size=200)
    got = confident_errors(torch.from_numpy(probs), torch.from_numpy(y), k=10)
    assert got == _reference(probs, y, 10)
    assert len(got) == 10 and got[0]["confidence"] >= got[-1]["confidence"]
    assert all(e["true"] != e["predicted"] for e in got)


def test_binary_probabilities_and_k_larger_than_the_mistakes():
    probs = np.array([0.95, 0.2, 0.7, 0.1, 0.55, 0.9])
    y = np.array([0, 0, 1, 1, 0, 1])  # wrong: rows 0 (p=.95 -> 1), 3 (p=.1 -> 0), 4 (p=.55 -> 1)
    got = confident_errors(probs, y, k=50)
    assert got == _reference(probs, y, 50)
    assert [e["index"] for e in got] == [0, 3, 4]
    assert got[1] == {"index": 3, "true": 1, "predicted": 0, "confidence": pytest.approx(0.9)}
    assert confident_errors(probs[:, None], y, k=50) == got  # (N, 1) is binary too
    assert confident_errors(probs, y, k=0) == []


def test_logits_are_turned_into_probabilities():
    logits = np.array([[2.0, -1.0, 0.0], [0.5, 0.1, 3.0], [-2.0, 1.0, 0.0]])
    y = np.array([1, 0, 1])
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    want = _reference(probs, y, 5)
    assert [e["index"] for e in want] == [1, 0]
    for got in (
        confident_errors(logits, y, k=5),
        confident_errors(logits, y, k=5, from_logits=True),
    ):
        assert [e["index"] for e in got] == [1, 0]
        assert [e["confidence"] for e in got] == pytest.approx([e["confidence"] for e in want])
    binary = np.array([3.0, -2.0, 0.4])  # one sigmoid unit's logits
    got = confident_errors(binary, [0, 0, 1], k=5)
    assert got == [
        {"index": 0, "true": 0, "predicted": 1, "confidence": pytest.approx(1 / (1 + np.exp(-3)))}
    ]


def test_confident_errors_refuses_bad_input():
    with pytest.raises(DataError, match=r"one label per row.*\(3,\)"):
        confident_errors(np.full((3, 2), 0.5), [0, 1])
    with pytest.raises(DataError, match=r"\(2, 2\).*argmax\(1\) for one-hot"):
        confident_errors(np.full((2, 2), 0.5), [[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(DataError, match="integer class labels"):
        confident_errors(np.full((2, 2), 0.5), [0.5, 1.0])
    with pytest.raises(DataError, match=r"shape \(N, C\).*model.predict"):
        confident_errors(np.zeros((2, 2, 2)), [0, 1])
    with pytest.raises(DataError, match="'k' must be an int >= 0"):
        confident_errors(np.full((2, 2), 0.5), [0, 1], k=-1)


def test_plot_confident_errors_captions_and_images(tmp_path):
    images = torch.rand(6, 1, 5, 5)
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5], [0.99, 0.01]])
    y = np.array([1, 0, 1, 0, 1, 1])
    errors = confident_errors(probs, y)  # rows 5 (0.99), 0 (0.9), 1 (0.7), 4 (0.5)
    fig = plot_confident_errors(images, errors, class_names=["cat", "dog"], path=tmp_path / "e.png")
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == [
        "true dog / pred cat (0.99)",
        "true dog / pred cat (0.90)",
        "true cat / pred dog (0.70)",
        "true dog / pred cat (0.50)",
    ]
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), images[5, 0].numpy())
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    long = plot_confident_errors(images, errors[:1], class_names=["T-shirt/top", "Ankle boot"])
    assert long.axes[0].get_title() == "true Ankle boot\npred T-shirt/top (0.99)"
    empty = plot_confident_errors(images, [])
    assert empty.axes[0].texts[0].get_text() == "no misclassified examples"
    with pytest.raises(DataError, match=r"indices \[9\] are outside the 6 images"):
        plot_confident_errors(images, [{"index": 9, "true": 0, "predicted": 1, "confidence": 0.9}])
