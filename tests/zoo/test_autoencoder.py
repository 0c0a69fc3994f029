"""Zoo families ``autoencoder`` and ``vae``: shapes, protocols, losses against references,
denoising only in training, save/load round trip."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from deepfuse._utils.errors import ConfigError
from deepfuse.models import build
from deepfuse.models.generative import Generator, Reconstructor
from deepfuse.models.serialization import load_model, save_model
from deepfuse.models.zoo.autoencoder_nets import kl_divergence
from run_helpers import Interrupt

IMAGE = {"input_shape": [1, 28, 28], "hidden": [4, 8], "latent_dim": 3}
TABLE = {"num_numeric": 3, "cardinalities": [4, 2], "hidden": [16], "latent_dim": 2}


def table_batch(n: int, *, shift: float = 0.0, seed: int = 0) -> dict[str, torch.Tensor]:
    """Correlated numeric columns (one latent factor) and categories tied to it."""
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(n, 1, generator=g)
    numeric = torch.cat([f, 2 * f, -f], 1) + 0.1 * torch.randn(n, 3, generator=g) + shift
    cat = torch.stack([(f[:, 0] > 0).long() + 1, torch.ones(n, dtype=torch.long)], 1)
    return {"numeric": numeric, "categorical": cat}


@pytest.mark.parametrize("family", ["autoencoder", "vae"])
def test_shapes_and_protocols(family):
    img = build(family, **IMAGE)
    x = torch.rand(5, 1, 28, 28)
    assert tuple(img.encode(x).shape) == (5, 3)
    out = img.reconstruct(x)
    assert tuple(out.shape) == (5, 1, 28, 28) and 0 <= float(out.min()) <= float(out.max()) <= 1
    assert tuple(img.anomaly_score({"x": x, "y": torch.zeros(5)}).shape) == (5,)
    tab = build(family, **TABLE)
    b = table_batch(6)
    assert tuple(tab.encode(b).shape) == (6, 2)
    assert tuple(tab.reconstruct(b).shape) == (6, 3 + 2)  # numeric values + one code per column
    assert tuple(tab.anomaly_score(b).shape) == (6,)
    assert isinstance(img, Reconstructor) and isinstance(tab, Reconstructor)
    # only an image VAE draws samples: the report shows sample grids for Generators only
    assert isinstance(img, Generator) == (family == "vae")
    assert not isinstance(tab, Generator)


def test_vae_generates_images_from_seeded_noise_without_touching_global_rng():
    model = build("vae", **IMAGE)
    state = torch.random.get_rng_state()
    noise, labels = model.noise(4, seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert labels is None and torch.equal(noise, model.noise(4, seed=7)[0])
    images = model.generate(noise)
    assert tuple(images.shape) == (4, 1, 28, 28) and float(images.min()) >= 0


def test_table_error_is_squared_error_plus_scaled_cross_entropy():
    model = build("autoencoder", **TABLE)
    b = table_batch(8)
    with torch.no_grad():
        mu, _ = model.net.encode(b)
        out = model.net.decode_logits(mu)
    num, logits = out[:, :3], out[:, 3:]
    expected = (num - b["numeric"]).pow(2).sum(1)
    expected = expected + F.cross_entropy(
        logits[:, :5], b["categorical"][:, 0], reduction="none"
    ) / math.log(5)
    expected = expected + F.cross_entropy(
        logits[:, 5:], b["categorical"][:, 1], reduction="none"
    ) / math.log(3)
    torch.testing.assert_close(model.anomaly_score(b), expected)


def test_image_bce_score_is_zero_for_a_perfect_reconstruction():
    model = build("autoencoder", **IMAGE)
    x = torch.rand(3, 1, 28, 28) * 0.98 + 0.01
    logits = torch.log(x) - torch.log1p(-x)  # decodes exactly to x
    err = model.net.row_error(x, logits)
    torch.testing.assert_close(err, torch.zeros(3), atol=1e-3, rtol=0)
    worse = model.net.row_error(x, logits + 1.0)
    assert bool((worse > 1.0).all())


def test_kl_matches_the_closed_form_and_torch_distributions():
    mu = torch.tensor([[0.5, -1.0], [0.0, 2.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [math.log(0.25), 0.3]])
    got = kl_divergence(mu, logvar)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(got, torch.distributions.kl_divergence(q, p).sum(1))
    # by hand, row 0: 0.5 * (0.25 + 1 - 1 - 0) + 0.5 * (1 + 4 - 1 - ln 4)
    assert float(got[0]) == pytest.approx(0.125 + 0.5 * (4 - math.log(4.0)), rel=1e-6)


def test_vae_loss_terms_and_elbo_score():
    model = build("vae", **TABLE, beta=0.5)
    b = table_batch(10)
    model.train(False)
    with torch.no_grad():
        terms = model._terms(b, sample=False)
        mu, logvar = model.net.encode(b)
    torch.testing.assert_close(terms["kl"], kl_divergence(mu, logvar))
    torch.testing.assert_close(terms["loss"], terms["reconstruction"] + 0.5 * terms["kl"])
    torch.testing.assert_close(model.anomaly_score(b), terms["reconstruction"] + terms["kl"])
    model.score = "reconstruction"
    torch.testing.assert_close(model.anomaly_score(b), terms["reconstruction"])


def test_vae_fit_logs_reconstruction_and_kl():
    model = build("vae", **TABLE)
    model.compile(optimizer="adam")
    hist = model.fit(table_batch(64), epochs=2, batch_size=16, verbose=0, seed=0,
                     validation_data=table_batch(16, seed=1))  # fmt: skip
    assert {"loss", "reconstruction", "kl", "val_loss", "val_kl"} <= set(hist.history)
    assert all(math.isfinite(v) for v in hist.history["loss"])


def test_denoising_noise_only_in_training_mode():
    noisy = build("autoencoder", **TABLE, denoising=0.5)
    clean = build("autoencoder", **TABLE)
    clean.load_state_dict(noisy.state_dict())
    b = table_batch(12)
    # eval (scoring, validation): no noise, so the same scores as without denoising
    torch.testing.assert_close(noisy.anomaly_score(b), clean.anomaly_score(b))
    torch.testing.assert_close(noisy.anomaly_score(b), noisy.anomaly_score(b))
    noisy.train(True)
    clean.train(True)
    with torch.no_grad():
        a, c = noisy._terms(b, sample=True)["loss"], clean._terms(b, sample=True)["loss"]
        a2 = noisy._terms(b, sample=True)["loss"]
    assert not torch.allclose(a, c) and not torch.allclose(a, a2)  # noise drawn in training
    torch.testing.assert_close(c, clean._terms(b, sample=True)["loss"])  # none without it


def test_trained_autoencoder_scores_shifted_rows_higher():
    model = build("autoencoder", num_numeric=3, hidden=[16], latent_dim=1)
    model.compile(optimizer={"name": "adam", "lr": 0.01})
    train = {"numeric": table_batch(512)["numeric"]}
    model.fit(train, epochs=30, batch_size=64, verbose=0, seed=0)
    same = model.anomaly_score({"numeric": table_batch(256, seed=5)["numeric"]})
    # the same columns, but off the line the normal rows lie on
    shifted = table_batch(256, seed=5)["numeric"] * torch.tensor([1.0, -1.0, 1.0])
    assert float(model.anomaly_score({"numeric": shifted}).median()) > 5 * float(same.median())


@pytest.mark.parametrize("family", ["autoencoder", "vae"])
def test_save_load_round_trip_gives_identical_scores(tmp_path, family):
    model = build(family, **IMAGE)
    model.compile(optimizer="adam")
    x = torch.rand(32, 1, 28, 28)
    model.fit({"x": x}, epochs=1, batch_size=16, verbose=0, seed=0)
    model.anomaly_threshold = 12.5
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    assert type(loaded) is type(model) and loaded.architecture["name"] == family
    assert loaded.anomaly_threshold == 12.5
    torch.testing.assert_close(loaded.anomaly_score({"x": x}), model.anomaly_score({"x": x}),
                               rtol=0, atol=0)  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "needs inputs"),
        ({"num_numeric": 2, "denoising": 2.0}, "denoising"),
        ({"input_shape": [28, 28]}, "input_shape"),
        ({"num_numeric": 2, "reconstruction": "l1"}, "reconstruction"),
        ({"num_numeric": 2, "latent_dim": 0}, "latent_dim"),
    ],
)
def test_bad_arguments_say_which(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build("autoencoder", **kwargs)
    with pytest.raises(ConfigError, match="score"):
        build("vae", num_numeric=2, score="likelihood")


def _fit_vae(folder, callbacks=(), resume=False):
    torch.manual_seed(0)  # the weights are created when the model is built
    model = build("vae", **TABLE, denoising=0.3)  # draws noise and codes from the global RNG
    model.compile(optimizer="adam")
    history = model.fit(
        table_batch(96), epochs=2, batch_size=16, seed=3, verbose=0,
        validation_data=table_batch(32, seed=1), callbacks=list(callbacks),
        checkpoint_dir=folder, checkpoint_every=2, resume=resume,
    )  # fmt: skip
    return model, history.history


def test_denoising_vae_resumes_bit_identically(tmp_path):
    want, want_hist = _fit_vae(tmp_path / "plain")
    with pytest.raises(KeyboardInterrupt):
        _fit_vae(tmp_path / "ckpt", callbacks=[Interrupt(7)])  # mid-epoch
    got, got_hist = _fit_vae(tmp_path / "ckpt", resume=True)
    assert all(torch.equal(got.state_dict()[k], v) for k, v in want.state_dict().items())
    assert got_hist["kl"] == want_hist["kl"] and got_hist["val_loss"] == want_hist["val_loss"]
