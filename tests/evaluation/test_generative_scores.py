"""Sample-quality scores of generators (classifier-feature Fréchet distance, precision/recall,
class histogram), checked against independent references and with fake generators that
implement only the Generator protocol."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import scipy.linalg
import torch
from generative_fakes import Noise, bank_of, mnist_prep

import deepfuse as df
from deepfuse._utils.errors import DataError
from deepfuse.data.routes import Prepared
from deepfuse.evaluation import scorer as scorer_mod
from deepfuse.evaluation.generative import (
    draw_samples,
    evaluate_generator,
    quality_callbacks,
    reinitialised,
    score_images,
)
from deepfuse.evaluation.sample_scores import (
    class_histogram,
    classifier_fd,
    frechet_distance,
    precision_recall,
)
from deepfuse.evaluation.scorer import load_scorer, scorer_features, scorer_for
from deepfuse.training.callbacks.sample_quality import SampleQuality


# ----------------------------------------------------------------------------- the math
def test_frechet_distance_equals_the_closed_form_of_diagonal_gaussians():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    v1, v2 = rng.uniform(0.1, 3.0, size=6), rng.uniform(0.1, 3.0, size=6)
    # W2^2 of diagonal Gaussians: sum (mu1-mu2)^2 + sum (sqrt(v1) - sqrt(v2))^2
    expected = float(((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum())
    got = frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-10)


def _scipy_fd(mu1, s1, mu2, s2, eps=1e-6):
    """The usual reference: scipy sqrtm of the product, eps offset if singular, real part."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(s1)) * eps
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("rank", [8, 3])  # full rank, and a singular covariance
def test_frechet_distance_matches_scipy_sqrtm(rank):
    rng = np.random.default_rng(rank)
    a = rng.normal(size=(8, rank))
    b = rng.normal(size=(8, 8))
    s1, s2 = a @ a.T, b @ b.T / 4
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        _scipy_fd(mu1, s1, mu2, s2), rel=1e-6, abs=1e-6
    )


def test_classifier_fd_is_near_zero_for_one_distribution_and_grows_with_the_shift():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(3000, 5))
    same = rng.normal(size=(3000, 5))
    assert classifier_fd(real, same) < 0.05
    shifts = [classifier_fd(real, same + s) for s in (0.5, 1.0, 2.0)]
    assert shifts == sorted(shifts)
    assert shifts[-1] == pytest.approx(5 * 2.0**2, rel=0.05)  # ||shift||^2 dominates
    assert frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(3)) == 0.0


def test_frechet_distance_refuses_mismatched_shapes():
    with pytest.raises(DataError, match="two means"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_precision_recall_on_point_clouds():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(600, 3))
    p, r = precision_recall(real, rng.normal(size=(600, 3)))
    assert p > 0.85 and r > 0.85
    p, _ = precision_recall(real, rng.normal(size=(600, 3)) + 20.0)  # far away: unrealistic
    assert p == 0.0
    # every sample near one real point: realistic (precision) but covers nothing (recall)
    p, r = precision_recall(real, real[:1] + rng.normal(scale=1e-3, size=(600, 3)))
    assert p == 1.0 and r < 0.05


def test_class_histogram_warns_on_collapse_only():
    uniform = class_histogram(np.arange(1000) % 10, 10)
    assert uniform["counts"] == [100] * 10 and not uniform["mode_collapse"]
    assert uniform["warning"] is None and uniform["normalised_entropy"] == pytest.approx(1.0)
    one = class_histogram(np.full(100, 3), 10, classes=[f"c{i}" for i in range(10)])
    assert one["mode_collapse"] and "'c3' is 100%" in one["warning"]
    assert one["normalised_entropy"] == 0.0 and "entropy 0.00 " in one["warning"]  # not -0.00
    # seven of ten classes, evenly: entropy log7/log10 = 0.845 < 0.9, three missing modes
    seven = class_histogram(np.arange(700) % 7, 10)
    assert seven["mode_collapse"] and seven["missing"] == ["7", "8", "9"]
    assert "never generated" in seven["warning"]


# ----------------------------------------------------------------------------- with a scorer
@pytest.fixture(scope="module")
def prep():
    return mnist_prep()


@pytest.fixture(scope="module")
def scored(prep, tmp_path_factory):
    """(run folder, scorer, features of the real test images)."""
    run = tmp_path_factory.mktemp("gen-run")
    scorer = scorer_for(run, prep, seed=0)
    return run, scorer, scorer_features(scorer, prep.test["x"])


def _score(generator, scored, prep, n=800):
    _, scorer, real = scored
    images, labels = draw_samples(generator, n, seed=1)
    return score_images(scorer, images, real, classes=prep.classes, labels=labels)


def test_real_images_score_high_precision_and_recall(prep, scored):
    s = _score(bank_of(prep), scored, prep)
    assert s["precision"] > 0.8 and s["recall"] > 0.75
    assert s["classifier_fd"] < 3.0 and not s["histogram"]["mode_collapse"]


def test_one_class_generator_has_low_recall_and_the_warning_fires(prep, scored):
    real = _score(bank_of(prep), scored, prep)
    s = _score(bank_of(prep, only=1), scored, prep)
    assert s["recall"] < 0.3 and s["classifier_fd"] > 10 * real["classifier_fd"]
    assert s["histogram"]["mode_collapse"] and "Mode collapse" in s["histogram"]["warning"]


def test_noise_generator_has_no_precision(prep, scored):
    s = _score(Noise(), scored, prep)
    assert s["precision"] < 0.02 and s["classifier_fd"] > 50


def test_conditional_generator_label_accuracy(prep, scored):
    honest = _score(bank_of(prep, conditional=True), scored, prep)
    liar = bank_of(prep, conditional=True)
    generate = liar.generate
    liar.generate = lambda noise, labels=None: generate(noise, (labels + 1) % 10)
    lying = _score(liar, scored, prep)
    assert honest["label_accuracy"] > 0.6 and lying["label_accuracy"] < 0.2


def test_scorer_is_saved_and_reloaded_identically(prep, scored, monkeypatch):
    run, _, real = scored
    monkeypatch.setattr(scorer_mod, "train_scorer", lambda *a, **k: pytest.fail("retrained"))
    again = scorer_for(run, prep, seed=0)  # loaded from run/scorer/, not trained again
    assert torch.equal(scorer_features(again, prep.test["x"][:50]), real[:50])
    facts = load_scorer(run / "scorer")[1]
    assert facts["rows"] == 3000 and 0.5 < facts["val_accuracy"] <= 1.0


def test_scorer_needs_labels(tmp_path):
    images = {"x": torch.rand(8, 1, 8, 8)}
    prep = Prepared("image", images, None, images, target="y", task="generate", classes=[0, 1])
    with pytest.raises(DataError, match="has no labels"):
        scorer_for(tmp_path, prep)


def test_evaluate_generator_writes_final_floor_and_ceiling(prep, scored):
    run = scored[0]
    generator = bank_of(prep)
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    out = evaluate_generator(generator, prep, run, {"seed": 0}, n=600)
    doc = json.loads((run / "evaluation.json").read_text())
    final, floor, ceiling = (
        doc["rows"][k]["classifier_fd"] for k in ("final", "real_train", "untrained")
    )
    assert final < 3.0 and floor < 3.0 and ceiling > 20 * final  # untrained: noise pictures
    assert out["test"]["classifier_fd"] == final and out["test"]["precision"] > 0.8
    assert out["generation"]["classifier_fd_untrained"] == ceiling
    assert "not Inception FID" in doc["feature_space"] and doc["scorer"]["test_accuracy"] > 0.5
    assert all(torch.equal(before[k], v) for k, v in generator.state_dict().items())


def test_reinitialised_redraws_deepfuse_layers_and_restores_them():
    model = df.Sequential([df.layers.Dense(4, input_shape=(3,)), df.layers.Dense(2)])
    model(torch.zeros(1, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with reinitialised(model, seed=5) as missed:
        inside = {k: v.clone() for k, v in model.state_dict().items()}
    assert missed == 0
    assert not torch.equal(inside["module.0.weight"], before["module.0.weight"])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# ----------------------------------------------------------------------------- per epoch
def _rng_states():
    return (random.getstate(), np.random.get_state()[1].tolist(), torch.get_rng_state())


def test_quality_callback_scores_each_epoch_without_touching_random_streams(prep, scored):
    run = scored[0]
    (cb,) = quality_callbacks(run, prep, {"seed": 0}, n=300)
    cb.set_model(bank_of(prep))
    torch.manual_seed(7), random.seed(7), np.random.seed(7)
    before = _rng_states()
    cb.on_train_begin({})
    logs = {"loss": 1.0}
    cb.on_epoch_end(0, logs)
    after = _rng_states()
    assert before[:2] == after[:2] and torch.equal(before[2], after[2])
    assert 0 < logs["classifier_fd"] < 5 and len(cb.seconds) == 1


def test_sample_quality_in_fit_keeps_training_bit_identical():
    def prepare():  # a score that draws from every global stream, as training a scorer would
        torch.randn(100), random.random(), np.random.rand()

        def score(model):
            torch.randn(10), random.random(), np.random.rand()
            return {"weight_norm": float(model.module[0].weight.detach().norm())}

        return score

    def train(callbacks):
        model = df.Sequential([df.layers.Dense(8, activation="relu"), df.layers.Dropout(0.5),
                               df.layers.Dense(1)])  # fmt: skip
        model.compile(optimizer="adam", loss="mse")
        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(64, 3, generator=g), torch.randn(64, 1, generator=g)
        h = model.fit(x, y, batch_size=8, epochs=3, seed=0, verbose=0, callbacks=callbacks)
        return model, h

    plain, _ = train([])
    scored_model, history = train([SampleQuality(prepare)])
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(),
                                                  scored_model.state_dict().values()))  # fmt: skip
    assert len(history.history["weight_norm"]) == 3


def test_quality_callbacks_inside_fit_reach_the_history(prep, scored):
    from generative_fakes import Bank

    class Trainable(Bank):  # a generator that fit() can train (a toy regression head)
        def __init__(self, *args):
            super().__init__(*args)
            self.head = torch.nn.Linear(2, 1)

        def forward(self, x):
            return self.head(x)

    net = Trainable(prep.train["x"][:500], prep.train["y"][:500])
    model = df.Model(net)
    model.compile(optimizer="adam", loss="mse")
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 2, generator=g), torch.randn(32, 1, generator=g)
    callbacks = quality_callbacks(scored[0], prep, {"seed": 0}, n=300)
    history = model.fit(x, y, epochs=2, batch_size=8, seed=0, verbose=0, callbacks=callbacks)
    fd = history.history["classifier_fd"]
    assert len(fd) == 2 and all(0 < v < 5 for v in fd)
    assert history.history["loss"][0] > 0 and len(callbacks[0].seconds) == 2


def test_with_validation_data_the_score_is_there_for_earlier_callbacks():
    seen = []
    watcher = df.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(dict(logs)))
    calls = []

    def prepare():
        def score(model):
            calls.append(1)
            return {"quality": float(len(calls))}

        return score

    model = df.Sequential([df.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = torch.randn(16, 2), torch.randn(16, 1)
    history = model.fit(x, y, validation_data=(x, y), epochs=2, batch_size=8, verbose=0,
                        callbacks=[watcher, SampleQuality(prepare)])  # fmt: skip
    assert [s["quality"] for s in seen] == [1.0, 2.0]  # the watcher runs first and sees it
    assert history.history["quality"] == [1.0, 2.0] and len(calls) == 2  # once per epoch
