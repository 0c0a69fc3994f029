"""``task: generate`` end to end: the two example configs train (tiny), the run holds its
sample grids, report and info; the grid callback is RNG-neutral; a killed GAN run resumes to the
same bits (slow)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from deepfuse._utils.errors import UserError
from deepfuse._utils.safefiles import load_safetensors
from deepfuse.api import training
from deepfuse.api.tasks import task_for
from deepfuse.api.training import resolve_config, train
from deepfuse.api.use import evaluate_run, info, predict
from deepfuse.config import load_config
from deepfuse.config.loader import apply_overrides
from deepfuse.models.zoo import get
from deepfuse.report import ReportWarning
from deepfuse.run import RunReader
from deepfuse.training.callbacks.samples import SampleGrid
from deepfuse.ui.runs import list_runs
from deepfuse.viz.tiles import save_image_grid
from run_helpers import Interrupt, needs_dataset

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TINY = [
    "data.limit=256", "trainer.epochs=1", "trainer.batch_size=64", "trainer.verbose=0",
    "model.latent_dim=16", "model.g_widths=[16,8,8]", "model.d_widths=[8,16]",
]  # fmt: skip
needs_fashion = needs_dataset("fashion-mnist")


def _config(name: str, *overrides: str) -> dict:
    return apply_overrides(load_config(EXAMPLES / name), [*TINY, *overrides])


def _train_quietly(cfg, out):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReportWarning)  # every report section copes
        return train(cfg, out_dir=out)


def test_examples_validate_with_the_documented_shapes():
    gan = resolve_config(EXAMPLES / "mnist_gan.yaml")
    assert gan["task"] == "generate" and gan["model"]["type"] == "dcgan"
    wgan = resolve_config(EXAMPLES / "fashion_wgan.yaml")
    assert wgan["model"] == {
        "type": "wgan_gp", "n_critic": 5, "gp_weight": 10.0, "conditional": True,
    }  # fmt: skip


def test_mnist_gan_example_trains_into_a_complete_generate_run(tmp_path, capsys):
    result = _train_quietly(_config("mnist_gan.yaml"), tmp_path)
    run = result.run_dir
    assert (run / "samples" / "epoch-0001.png").is_file()
    assert result.metrics["task"] == "generate"
    test = result.metrics["test"]  # the final generator's sample quality (task.quality: on)
    assert {"classifier_fd", "precision", "recall"} <= set(test) and test["classifier_fd"] > 0
    assert (run / "scorer" / "model.safetensors").is_file()
    assert {"d_loss", "g_loss"} <= set(result.metrics["final_losses"])
    header = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert {"d_loss", "g_loss", "val_d_loss", "d_optimizer_lr", "g_optimizer_lr"} <= set(header)
    assert "classifier_fd" in header  # the score of every epoch
    trainer = result.config["trainer"]  # every auto key resolved for a GAN, recorded
    assert trainer["optimizer"] is None and trainer["loss"] is None
    assert trainer["early_stopping"] is None and trainer["schedule"] is None
    assert trainer["baselines"] is False and trainer["threshold"] is None
    assert trainer["class_weight"] is None and trainer["search"] is False
    assert list(result.config["model"]["input_shape"]) == [1, 28, 28]
    page = (run / "report.html").read_text()
    assert "Regression:" not in page and "deepfuse evaluate RUN" not in page
    assert info(run)["task"] == "generate"
    (listed,) = list_runs(tmp_path)  # the dashboard's run list: losses, no learning rates
    assert listed["name"] == run.name and listed["task"] == "generate"
    assert "final_epoch.g_loss" in listed["metrics"]
    assert not any(k.endswith("_lr") for k in listed["metrics"])
    with pytest.raises(UserError, match=r"deepfuse sample .* --n 64 --out grid\.png"):
        task_for(result.config).predict_table(run, None, None)
    from deepfuse.cli.main import main

    assert main(["evaluate", str(run)]) == 0  # scored again with the run's scorer
    assert "classifier_fd" in capsys.readouterr().out
    with pytest.raises(UserError, match="does not apply to a generate run"):
        evaluate_run(run, data=tmp_path / "x.csv")
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n1,2\n")  # predict refuses before reading the file (regression)
    with pytest.raises(UserError, match=r"does not apply to a generate run"):
        predict(run, rows)


@needs_fashion
def test_fashion_wgan_example_trains_a_conditional_critic(tmp_path):
    result = _train_quietly(_config("fashion_wgan.yaml", "model.n_critic=2"), tmp_path)
    assert result.config["model"]["num_classes"] == 10  # from the data: labels kept
    assert {"gp", "wasserstein"} <= set(result.metrics["final_losses"])
    assert (result.run_dir / "samples" / "epoch-0001.png").is_file()


def _fit_tiny(callbacks=()):
    torch.manual_seed(0)
    gan = get("dcgan", latent_dim=8, g_widths=[8, 4, 4], d_widths=[4, 8], kernel_size=3)
    gan.compile()
    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    gan.fit({"x": x}, epochs=2, batch_size=16, seed=4, verbose=0, callbacks=list(callbacks))
    return gan


def test_sample_grid_is_rng_neutral_and_writes_one_grid_per_epoch(tmp_path):
    plain = _fit_tiny()
    grid = SampleGrid(tmp_path, n=6, ncols=3, save=save_image_grid)
    with_grid = _fit_tiny([grid])
    assert all(torch.equal(v, with_grid.state_dict()[k]) for k, v in plain.state_dict().items())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0001.png", "epoch-0002.png"]
    assert grid.samples().shape == (6, 1, 28, 28)


@pytest.mark.slow
def test_killed_gan_run_resumes_mid_epoch_to_the_same_bits(tmp_path, monkeypatch):
    cfg = _config(
        "mnist_gan.yaml", "data.limit=512", "trainer.epochs=2", "trainer.checkpoint_every=3"
    )
    full = train(cfg, out_dir=tmp_path / "full").run_dir  # 460 rows: 8 steps per epoch
    real = training.config_callbacks
    monkeypatch.setattr(training, "config_callbacks", lambda t: [*real(t), Interrupt(5)])
    with pytest.raises(KeyboardInterrupt):  # killed at step 5, mid-epoch 1 (checkpoint at 3)
        train(cfg, out_dir=tmp_path / "cut")
    monkeypatch.setattr(training, "config_callbacks", real)
    (partial,) = (tmp_path / "cut").glob("*.partial")
    resumed = train(cfg, resume=partial).run_dir
    want, got = (
        load_safetensors(full / "model.safetensors"),
        load_safetensors(resumed / "model.safetensors"),
    )
    assert want.keys() == got.keys() and any(k.startswith("generator.") for k in want)
    assert all(torch.equal(want[k], got[k]) for k in want)  # generator and discriminator
    last = [RunReader(r).path / "checkpoints" for r in (full, resumed)]
    a, b = (sorted(d.glob("step-*"))[-1] / "optimizers.safetensors" for d in last)
    opt_a, opt_b = load_safetensors(a), load_safetensors(b)
    assert any(k.startswith("d_optimizer.") for k in opt_a)
    assert any(k.startswith("g_optimizer.") for k in opt_a)
    assert opt_a.keys() == opt_b.keys() and all(torch.equal(opt_a[k], opt_b[k]) for k in opt_a)
    assert RunReader(full).history() == RunReader(resumed).history()
