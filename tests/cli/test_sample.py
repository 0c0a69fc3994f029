"""``deepfuse sample RUN --n 64 --out grid.png`` on run folders written by hand around a tiny
fake generator (a zoo builder registered for the test: it implements only the Generator
protocol, no GAN code)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import deepfuse as df
from deepfuse.models import zoo

CLASSES = ["circle", "square", "cross"]
SIZE = 8


class Shapes(nn.Module):
    """Class c -> a picture of shape c (rows of pixels), brightness from the noise."""

    def __init__(self, conditional: bool = False) -> None:
        super().__init__()
        self.latent_dim = 2
        self.num_classes = len(CLASSES) if conditional else 0
        pics = torch.zeros(len(CLASSES), 1, SIZE, SIZE)
        for c in range(len(CLASSES)):
            pics[c, 0, c * 2 : c * 2 + 3] = 1.0  # a band whose place says the class
        self.pictures = nn.Parameter(pics)

    def noise(self, n, *, seed=0):
        z = torch.rand(n, self.latent_dim, generator=torch.Generator().manual_seed(seed))
        labels = torch.arange(n) % self.num_classes if self.num_classes else None
        return z, labels

    @torch.no_grad()
    def generate(self, noise, labels=None):
        if labels is None:
            labels = (noise[:, 1] * len(CLASSES)).long().clamp(max=len(CLASSES) - 1)
        return self.pictures[labels] * (0.5 + 0.5 * noise[:, :1, None, None])


def shapes(conditional: bool = False) -> nn.Module:
    return Shapes(conditional)


@pytest.fixture(autouse=True)
def fake_zoo_model():
    zoo.register("test_shapes", shapes)
    yield
    zoo.MODELS.unregister("test_shapes")


def write_run(root, name, model, *, task="generate", classes=CLASSES):
    """A finished run folder, as 'deepfuse train' lays it out."""
    run = root / name
    model.save(run)
    (run / "config.yaml").write_text(f"name: {name}\ndata: {{dataset: mnist}}\ntask: {task}\n")
    (run / "history.csv").write_text("epoch,d_loss,g_loss\n1,0.5,0.9\n")
    metrics = {"task": task, "classes": classes, "epochs": 1, "test": {}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


@pytest.fixture
def gan_run(tmp_path):
    return write_run(tmp_path, "gan", df.models.build("test_shapes"))


@pytest.fixture
def cgan_run(tmp_path):
    return write_run(tmp_path, "cgan", df.models.build("test_shapes", conditional=True))


def _grid(path):
    return np.asarray(Image.open(path))


def test_sample_writes_the_grid_and_prints_its_path(run_cli, gan_run, tmp_path):
    out = tmp_path / "grid.png"
    code, stdout, stderr = run_cli("sample", gan_run, "--n", "64", "--out", out)
    assert code == 0, stderr
    assert stdout.strip().splitlines()[-1] == f"samples: {out}"
    # 8 x 8 tiles of 8 px with 2 px gaps, each pixel doubled: (8*(8+2)+2)*2 = 164
    assert _grid(out).shape == (164, 164)
    again = tmp_path / "again.png"
    assert run_cli("sample", gan_run, "--n", "64", "--out", again)[0] == 0
    assert np.array_equal(_grid(out), _grid(again))  # same seed, same grid
    other = tmp_path / "other.png"
    assert run_cli("sample", gan_run, "--n", "64", "--out", other, "--seed", "5")[0] == 0
    assert not np.array_equal(_grid(out), _grid(other))


def test_label_picks_one_class_by_name_or_index(run_cli, cgan_run, tmp_path):
    by_name, by_index = tmp_path / "a.png", tmp_path / "b.png"
    assert run_cli("sample", cgan_run, "--n", "4", "--label", "cross", "--out", by_name)[0] == 0
    assert run_cli("sample", cgan_run, "--n", "4", "--label", "2", "--out", by_index)[0] == 0
    grid = _grid(by_name)
    assert np.array_equal(grid, _grid(by_index))
    # every tile shows the band of class 2 (rows 4-6 of each 8px tile): the top rows stay dark
    tile = grid[4:20, 4:20]  # first tile, after the 2px (x2) border
    assert tile[:8].max() == 0 and tile[8:14].max() > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n", "0"], "--n must be an integer from 1 to 1024"),
        (["--n", "1025"], "--n must be an integer from 1 to 1024"),
        (["--label", "triangle"], "--label 'triangle' is not a class of this run"),
        (["--label", "3"], "index from 0 to 2"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_bad_arguments_are_one_line_user_errors(run_cli, cgan_run, tmp_path, args, message):
    code, _, stderr = run_cli("sample", cgan_run, "--out", tmp_path / "g.png", *args)
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "g.png").exists()


def test_label_on_an_unconditional_generator_is_refused(run_cli, gan_run, tmp_path):
    code, _, stderr = run_cli("sample", gan_run, "--label", "0", "--out", tmp_path / "g.png")
    assert code == 2 and "unconditional" in stderr


def test_out_must_be_a_png(run_cli, gan_run, tmp_path):
    code, _, stderr = run_cli("sample", gan_run, "--out", tmp_path / "g.jpg")
    assert code == 2 and ".png" in stderr


def test_a_classifier_run_is_refused_naming_its_kind(run_cli, tmp_path):
    model = df.models.build("mlp", hidden=[4], out_features=3, input_shape=[4])
    run = write_run(tmp_path, "clf", model, task="multiclass")
    code, stdout, stderr = run_cli("sample", run, "--out", tmp_path / "g.png")
    assert code == 2 and stdout == ""
    assert "is a 'multiclass' run (model mlp)" in stderr and "task: generate" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_missing_run_is_a_user_error(run_cli, tmp_path):
    code, _, stderr = run_cli("sample", tmp_path / "nope", "--out", tmp_path / "g.png")
    assert code == 2 and "does not exist" in stderr


def test_with_the_runs_scorer_it_prints_the_class_histogram_and_warns(run_cli, cgan_run, tmp_path):
    from deepfuse.evaluation.scorer import save_scorer, train_scorer

    gen = Shapes(conditional=True)
    noise, labels = gen.noise(300, seed=1)
    scorer = train_scorer(gen.generate(noise, labels), labels, seed=0, epochs=3, num_classes=3)
    save_scorer(scorer, cgan_run / "scorer", {"rows": 300})
    code, stdout, stderr = run_cli("sample", cgan_run, "--n", "30", "--out", tmp_path / "a.png")
    assert code == 0 and "circle: 10, square: 10, cross: 10" in stdout and stderr == ""
    code, stdout, stderr = run_cli(
        "sample", cgan_run, "--n", "30", "--label", "square", "--out", tmp_path / "b.png"
    )
    assert code == 0 and "circle: 0, square: 30, cross: 0" in stdout
    assert "warning: Mode collapse suspected" in stderr
