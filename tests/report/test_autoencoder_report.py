"""report.html's "Reconstructions and latent space" section, with hand-made reconstructors:
a PCA autoencoder of MNIST digits (torch Linear layers holding the principal components), the
same with a Gaussian prior (a VAE stand-in: it also generates), and one of table rows.

Every grid is decoded from the page and compared with the grid the test builds itself from the
same rows (the tiles of ``viz.tile_images``), so a wrong row, order or model call fails."""

from __future__ import annotations

import base64
import io
import re
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from report_helpers import RUN_SECTIONS, read_page

from deepfuse.models import Model
from deepfuse.models.generative import Generator, Reconstructor
from deepfuse.report import ReportWarning, write_report
from deepfuse.report.autoencoder import EXTREMES, PAIRS
from deepfuse.report.html import num
from deepfuse.viz import tile_images
from deepfuse.viz.latent import reconstruction_pairs

K = 8  # latent width of the PCA autoencoders


class PCAAutoencoder(torch.nn.Module):
    """``encode`` = projection on the top ``K`` principal components of the fitting images,
    ``decode`` = back to pixels (clipped to [0, 1]); the score is the squared error."""

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        flat = images.reshape(len(images), -1).double()  # (N, 784)
        mean = flat.mean(0)
        _, s, vh = torch.linalg.svd(flat - mean, full_matrices=False)
        self.shape = tuple(images.shape[1:])
        self.latent_dim = K
        self.enc = torch.nn.Linear(flat.shape[1], K)
        self.dec = torch.nn.Linear(K, flat.shape[1])
        with torch.no_grad():
            self.enc.weight.copy_(vh[:K].float())
            self.enc.bias.copy_((-(vh[:K] @ mean)).float())
            self.dec.weight.copy_(vh[:K].T.float())
            self.dec.bias.copy_(mean.float())
        self.std = (s[:K] / (len(flat) - 1) ** 0.5).float()  # (K,) spread of each code

    def encode(self, batch):
        return self.enc(batch["x"].reshape(len(batch["x"]), -1))

    def decode(self, z):
        return self.dec(z).clamp(0, 1).reshape(len(z), *self.shape)

    def reconstruct(self, batch):
        return self.decode(self.encode(batch))

    def anomaly_score(self, batch):
        return ((self.reconstruct(batch) - batch["x"]) ** 2).flatten(1).mean(1)


class PCAVae(PCAAutoencoder):
    """The same with a prior: noise of each code's spread, decoded (a ``Generator`` too)."""

    num_classes = 0

    def noise(self, n, *, seed=0):
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, K, generator=g) * self.std, None

    def generate(self, noise, labels=None):
        return self.decode(noise)


class NoisyEncoder(PCAAutoencoder):
    """Draws from the GLOBAL random stream in encode: the report must leave it as it was."""

    def encode(self, batch):
        return super().encode(batch) + 0.0 * torch.randn(len(batch["x"]), K)


@pytest.fixture(scope="module")
def digits():
    from deepfuse.datasets import load_mnist

    (x, _), (x_test, y_test) = load_mnist()
    train = torch.from_numpy(x[:400]).float().div(255)[:, None]  # (400, 1, 28, 28)
    test = {
        "x": torch.from_numpy(x_test[:120]).float().div(255)[:, None],
        "y": torch.from_numpy(y_test[:120].astype(np.int64)),
    }
    return train, test


def _run_dir(tmp_path, task):
    run = tmp_path / "ae-run"
    run.mkdir()
    (run / "config.yaml").write_text(f"name: ae\ntask: {task}\n")
    (run / "model.json").write_text("{}")
    return run


def _write(run, model, test, metrics):
    """write_report; the other sections may not know these hand-made models: only this
    section's warnings fail the test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ReportWarning)
        write_report(run, model=model, test_data=test, metrics=metrics)
    parts = ("The reconstructions and latent space section", "Reconstructions", "Latent space",
             "Samples from the prior", "Interpolation")  # fmt: skip
    mine = [str(w.message) for w in caught
            if str(w.message).startswith(tuple(f"report.html: {p} could" for p in parts))]  # fmt: skip
    assert not mine, mine
    text, page = read_page(run)
    assert page.section_ids == RUN_SECTIONS and not page.errors
    section = text[text.index('id="reconstruction"') :]
    section = section[: section.index("</section>")]
    assert 'class="failed"' not in section, re.findall(r'<div class="failed">.*?</div>', section)
    return section, page


def _figures(section):
    """``{caption: decoded pixels (2x enlargement undone)}`` of the section's figures."""
    out = {}
    for src, caption in re.findall(
        r'<img src="data:image/png;base64,([^"]+)"[^>]*><figcaption>(.*?)</figcaption>', section
    ):
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(src))))
        out[caption] = pixels
    return out


def _grid_of(images, ncols):
    return tile_images(images, ncols=ncols)


def _find(figures, start):
    hits = [v for k, v in figures.items() if k.startswith(start)]
    assert len(hits) == 1, (start, list(figures))
    return hits[0]


def test_images_run_shows_test_images_above_their_reconstructions(tmp_path, digits):
    train, test = digits
    model = PCAAutoencoder(train)
    assert isinstance(model, Reconstructor) and not isinstance(model, Generator)
    section, _ = _write(_run_dir(tmp_path, "auto"), model, test,
                        {"task": "multiclass", "classes": list(range(10))})  # fmt: skip
    figures = _figures(section)
    assert len(figures) == 2  # reconstructions, latent space: no prior samples (not a Generator)
    with torch.no_grad():
        recon = model.reconstruct({"x": test["x"][:PAIRS]})
    want = _grid_of(reconstruction_pairs(test["x"][:PAIRS], recon), 8)
    got = _find(figures, f"{PAIRS} sampled test images")[::2, ::2]  # undo the 2x enlargement
    np.testing.assert_array_equal(got, want)
    mse = float(((recon - test["x"][:PAIRS]) ** 2).mean())
    assert f"mean squared error {mse:.4g}" in section
    latent = _find(figures, "latent codes of sampled test rows")
    assert latent.ndim == 3 and "coloured by true class" in section
    assert "Samples from the prior" not in section and "most anomalous" not in section


def test_reconstructions_are_of_the_right_rows_a_shifted_model_fails(tmp_path, digits):
    """The comparison above can fail: a model whose reconstructions are off by one row."""
    train, test = digits
    model = PCAAutoencoder(train)
    section, _ = _write(_run_dir(tmp_path, "auto"), model, test, {"task": "multiclass"})
    with torch.no_grad():
        recon = model.reconstruct({"x": test["x"][1 : PAIRS + 1]})
    wrong = _grid_of(reconstruction_pairs(test["x"][:PAIRS], recon), 8)
    got = _find(_figures(section), f"{PAIRS} sampled test images")[::2, ::2]
    assert not np.array_equal(got, wrong)


def test_anomaly_run_shows_most_and_least_anomalous_and_normal_vs_anomaly(tmp_path, digits):
    train, test = digits
    model = PCAAutoencoder(train[:200])
    metrics = {"task": "anomaly", "classes": list(range(10))}
    section, _ = _write(_run_dir(tmp_path, "{name: anomaly, normal: [1]}"), model, test, metrics)
    figures = _figures(section)
    with torch.no_grad():
        scores = model.anomaly_score(test).numpy()
    order = np.argsort(-scores, kind="stable")
    for which, rows in (("most", order[:EXTREMES]), ("least", order[::-1][:EXTREMES])):
        idx = torch.as_tensor(rows.copy())
        with torch.no_grad():
            recon = model.reconstruct({"x": test["x"][idx]})
        want = _grid_of(reconstruction_pairs(test["x"][idx], recon), 8)
        got = _find(figures, f"the {EXTREMES} {which} anomalous")[::2, ::2]
        np.testing.assert_array_equal(got, want)
    assert "coloured by normal / anomaly (normal = 1)" in section
    _, page = read_page(tmp_path / "ae-run")
    rows = page.rows("reconstruction")
    summary = [float(scores.min()), float(np.median(scores)), float(scores.max())]
    assert ["sampled test rows", *(num(v) for v in summary)] in rows


def test_a_vae_also_shows_prior_samples_and_interpolations(tmp_path, digits):
    train, test = digits
    model = PCAVae(train)
    assert isinstance(model, Generator) and isinstance(model, Reconstructor)
    section, _ = _write(_run_dir(tmp_path, "auto"), model, test, {"task": "multiclass"})
    figures = _figures(section)
    assert len(figures) == 4
    with torch.no_grad():
        samples = model.generate(*model.noise(32, seed=0))
    np.testing.assert_array_equal(_find(figures, "32 samples decoded from the")[::2, ::2],
                                  _grid_of(samples, 8))  # fmt: skip
    # pairs: each of the first rows with the next unused row of another class
    y = test["y"].tolist()
    starts, ends, used = [], [], set()
    for i in range(len(y)):
        if len(starts) == 6:
            break
        if i in used:
            continue
        j = next(j for j in range(i + 1, len(y)) if j not in used and y[j] != y[i])
        starts.append(i)
        ends.append(j)
        used.update((i, j))
    with torch.no_grad():
        za = model.encode({"x": test["x"][starts]})
        zb = model.encode({"x": test["x"][ends]})
        t = torch.linspace(0, 1, 8)
        walks = torch.cat([model.decode(a * (1 - t[:, None]) + b * t[:, None])
                           for a, b in zip(za, zb)])  # fmt: skip
    got = _find(figures, "6 pairs of sampled test images")[::2, ::2]
    np.testing.assert_array_equal(got, _grid_of(walks, 8))
    assert [y[i] != y[j] for i, j in zip(starts, ends)] == [True] * 6


def test_the_report_leaves_the_global_random_state_as_it_was(tmp_path, digits):
    train, test = digits
    model = NoisyEncoder(train)  # (its Linear layers draw their initial weights)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    _write(_run_dir(tmp_path, "auto"), model, test, {"task": "multiclass"})
    assert torch.equal(torch.get_rng_state(), before)


class TableAutoencoder(torch.nn.Module):
    """A PCA autoencoder of a table's encoded numeric block ``{"numeric": (N, D)}``."""

    latent_dim = 2

    def __init__(self, rows: torch.Tensor) -> None:
        super().__init__()
        self.mean = rows.mean(0)
        _, _, vh = torch.linalg.svd(rows - self.mean, full_matrices=False)
        self.v = vh[:2]  # (2, D)

    def encode(self, batch):
        return (batch["numeric"] - self.mean) @ self.v.T

    def decode(self, z):
        return z @ self.v + self.mean

    def reconstruct(self, batch):
        return self.decode(self.encode(batch))

    def anomaly_score(self, batch):
        return ((self.reconstruct(batch) - batch["numeric"]) ** 2).sum(1)


def test_table_anomaly_run_shows_latent_space_and_a_table_of_extremes(tmp_path):
    g = torch.Generator().manual_seed(0)
    normal = torch.randn(60, 2, generator=g) @ torch.tensor([[2.0, 1, 0, 0], [0, 1, 1, 0]])
    odd = torch.randn(6, 4, generator=g) * 3  # off the plane of the normal rows
    rows = torch.cat([normal, odd])
    test = {"numeric": rows, "label": torch.tensor([0] * 60 + [1] * 6)}
    model = TableAutoencoder(normal)
    model.target_key = "label"
    metrics = {"task": "anomaly", "classes": ["ok", "fraud"]}
    section, page = _write(_run_dir(tmp_path, "{name: anomaly, normal: [ok]}"), model, test,
                           metrics)  # fmt: skip
    assert "The inputs are not images" in section
    assert len(_figures(section)) == 1  # the latent space only
    assert "coloured by normal / anomaly (normal = ok)" in section
    scores = model.anomaly_score(test).numpy()
    order = np.argsort(-scores, kind="stable")
    shown = [r for r in page.rows("reconstruction") if r and r[0] in ("most", "least")]
    assert [r[1] for r in shown[:EXTREMES]] == [num(float(scores[i])) for i in order[:EXTREMES]]
    assert [r[1] for r in shown[EXTREMES:]] == [num(float(scores[i]))
                                                for i in order[::-1][:EXTREMES]]  # fmt: skip
    assert shown[0][2] == "fraud (anomaly)" and shown[-1][2] == "ok (normal)"


def test_a_model_that_does_not_reconstruct_gets_a_note(cnn_run):
    text, _ = read_page(cnn_run)
    section = text[text.index('id="reconstruction"') : text.index('id="data"')]
    assert "does not reconstruct its inputs" in section and "<img" not in section


class PCAModel(Model):
    """The PCA autoencoder as a deepfuse ``Model`` (what the zoo's autoencoders are): the
    report converts its rows by the model's own rule (uint8 (N, H, W) -> float NCHW)."""

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__(name="pca")
        self.pca = PCAAutoencoder(images)
        self.latent_dim = K

    def forward(self, x):
        return self.pca.reconstruct({"x": x})

    def encode(self, batch):
        return self.pca.encode(batch)

    def decode(self, z):
        return self.pca.decode(z)

    def reconstruct(self, batch):
        return self.pca.reconstruct(batch)

    def anomaly_score(self, batch):
        return self.pca.anomaly_score(batch)


def test_a_deepfuse_model_gets_its_rows_converted_by_its_own_rule(tmp_path, digits):
    from deepfuse.datasets import load_mnist

    train, _ = digits
    _, (x_test, y_test) = load_mnist()
    raw = {"x": x_test[:40], "y": y_test[:40].astype(np.int64)}  # uint8 (N, 28, 28)
    model = PCAModel(train)
    section, _ = _write(_run_dir(tmp_path, "auto"), model, raw, {"task": "multiclass"})
    x = torch.from_numpy(x_test[:PAIRS]).float().div(255)[:, None]  # what fit would feed
    with torch.no_grad():
        recon = model.reconstruct({"x": x})
    got = _find(_figures(section), f"{PAIRS} sampled test images")[::2, ::2]
    np.testing.assert_array_equal(got, _grid_of(reconstruction_pairs(x, recon), 8))
