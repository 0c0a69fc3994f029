"""A generator run's page on the dashboard: its latest sample grid and the strip over the epochs,
the grids served only from the run's own samples/ folder."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from deepfuse.ui import create_app
from deepfuse.viz.tiles import save_image_grid

from .conftest import TestClient, write_run

GAN = "gan-20260106-100000"
EPOCHS = 12


@pytest.fixture
def gan_run(runs_dir):
    run = write_run(runs_dir, GAN)
    rng = np.random.default_rng(0)
    for e in range(1, EPOCHS + 1):
        save_image_grid(rng.random((4, 1, 8, 8)), run / "samples" / f"epoch-{e:04d}.png")
    return run


@pytest.fixture
def client(runs_dir):
    return TestClient(create_app(runs_dir, allowed_hosts=None))


def test_run_detail_lists_the_epochs_with_a_grid(client, gan_run):
    assert client.get(f"/api/runs/{GAN}").json()["samples"] == list(range(1, EPOCHS + 1))
    assert client.get("/api/runs/alpha-20260101-100000").json()["samples"] == []


def test_run_page_shows_the_latest_grid_and_the_strip(client, gan_run):
    page = client.get(f"/runs/{GAN}").text
    section = page[page.index('<section id="samples">') :]
    section = section[: section.index("</section>")]
    latest = re.search(r'<div class="latest">.*?src="([^"]+)"', section).group(1)
    assert latest == f"/runs/{GAN}/samples/epoch-{EPOCHS:04d}.png"
    strip = section[section.index('class="strip"') :]
    shown = re.findall(r"epoch-(\d{4})\.png", strip)
    assert len(shown) == 8 and shown[0] == "0001" and shown[-1] == f"{EPOCHS:04d}"
    for src in re.findall(r'src="([^"]+)"', section):  # every image is served
        response = client.get(src)
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert 'id="samples"' not in client.get("/runs/alpha-20260101-100000").text


def test_a_grid_is_served_byte_for_byte(client, gan_run):
    response = client.get(f"/runs/{GAN}/samples/epoch-0003.png")
    assert response.content == (gan_run / "samples" / "epoch-0003.png").read_bytes()
    assert "default-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    "file",
    [
        "epoch-0099.png",
        "notes.txt",
        "epoch-1.png",
        "..%2Fmetrics.json",
        "outside.png",
        "epoch-0013.png",
    ],
)
def test_only_the_runs_own_grids_are_served(client, gan_run, tmp_path, file):
    (gan_run / "samples" / "notes.txt").write_text("secret")
    (gan_run / "samples" / "outside.png").write_text("no grid name")
    target = tmp_path / "secret.png"
    target.write_bytes((gan_run / "samples" / "epoch-0001.png").read_bytes())
    os.symlink(target, gan_run / "samples" / "epoch-0013.png")  # leads out of the run
    response = client.get(f"/runs/{GAN}/samples/{file}")
    assert response.status_code == 404, file
    assert b"secret" not in response.content


def test_an_oversized_grid_is_not_served(client, gan_run):
    (gan_run / "samples" / "epoch-0020.png").write_bytes(b"\x89PNG" + b"0" * 2_000_001)
    assert client.get(f"/runs/{GAN}/samples/epoch-0020.png").status_code == 404


def test_unknown_run_is_404(client, gan_run):
    assert client.get("/runs/nope-20260101-000000/samples/epoch-0001.png").status_code == 404
