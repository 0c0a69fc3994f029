"""deepfuse.viz.latent: reconstruction grids, latent codes and interpolations, against grids
and codes computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from deepfuse._utils.errors import DataError
from deepfuse.viz import interpolation_grid, latent_codes, plot_reconstructions, tile_images
from deepfuse.viz.latent import reconstruction_pairs


class LinearAE(torch.nn.Module):
    """Random linear encoder / decoder with dropout (eval mode must switch it off)."""

    latent_dim = 3

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5),
                                       torch.nn.Linear(16, 3))  # fmt: skip
        self.dec = torch.nn.Linear(3, 16)

    def encode(self, x):
        return self.enc(x)

    def decode(self, z):
        return torch.sigmoid(self.dec(z)).reshape(-1, 1, 4, 4)

    def reconstruct(self, x):
        return self.decode(self.encode(x))


def test_reconstruction_pairs_put_each_row_of_originals_above_its_reconstructions():
    a = np.arange(5)[:, None, None] * np.ones((5, 2, 2)) / 10  # image i is all i/10
    b = a + 0.5
    got = reconstruction_pairs(a, b, ncols=3)
    blank = np.zeros((2, 2))
    want = [a[0], a[1], a[2], b[0], b[1], b[2], a[3], a[4], blank, b[3], b[4], blank]
    np.testing.assert_array_equal(got, np.stack(want))


def test_plot_reconstructions_is_the_tiled_pairs_and_writes_the_png(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.random((10, 1, 6, 6)), rng.random((10, 1, 6, 6))
    canvas = plot_reconstructions(a, b, ncols=4, path=tmp_path / "r.png")
    np.testing.assert_array_equal(canvas, tile_images(reconstruction_pairs(a, b, ncols=4), ncols=4))
    png = np.asarray(Image.open(tmp_path / "r.png"))
    np.testing.assert_array_equal(png[::2, ::2], canvas)  # written 2x enlarged
    uint8 = plot_reconstructions((a * 255).round().astype(np.uint8), b, ncols=4)
    assert np.abs(uint8.astype(int) - canvas.astype(int)).max() <= 1  # uint8 read as 0-255


def test_plot_reconstructions_says_when_shapes_differ():
    with pytest.raises(DataError, match=r"same shape.*model.reconstruct"):
        plot_reconstructions(np.zeros((4, 5, 5)), np.zeros((4, 6, 6)))


def test_latent_codes_are_encode_in_eval_mode_in_chunks_and_restore_modes():
    model = LinearAE().train()
    x = torch.rand(11, 1, 4, 4)
    codes = latent_codes(model, x, batch_size=4)  # 4 + 4 + 3 rows
    model.eval()
    with torch.no_grad():
        want = model.encode(x)
    model.train()
    torch.testing.assert_close(codes, want)
    assert model.training and model.enc[1].training  # modes restored
    dict_codes = latent_codes(_DictAE(), {"x": x, "y": torch.arange(11)}, batch_size=5)
    assert dict_codes.shape == (11, 2)


class _DictAE(torch.nn.Module):
    def encode(self, batch):
        assert set(batch) == {"x", "y"} and len(batch["x"]) == len(batch["y"])
        return batch["x"].flatten(1)[:, :2] + torch.randn(len(batch["x"]), 2)  # global RNG


def test_latent_codes_leave_the_global_random_state_alone():
    batch = {"x": torch.rand(6, 1, 2, 2), "y": torch.arange(6)}
    torch.manual_seed(7)
    before = torch.get_rng_state()
    latent_codes(_DictAE(), batch)
    assert torch.equal(torch.get_rng_state(), before)


def test_interpolation_grid_decodes_the_straight_line_between_codes():
    model = LinearAE()
    start, end = torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 4)
    grid = interpolation_grid(model, start, end, steps=5)
    assert grid.shape == (10, 1, 4, 4)
    model.eval()
    with torch.no_grad():
        za, zb = model.encode(start), model.encode(end)
        for p in range(2):
            for s, t in enumerate(np.linspace(0, 1, 5)):
                want = model.decode((1 - t) * za[p : p + 1] + t * zb[p : p + 1])[0]
                torch.testing.assert_close(grid[p * 5 + s], want)
        torch.testing.assert_close(grid[4], model.reconstruct(end[:1])[0])  # the last step


def test_interpolation_grid_checks_its_arguments():
    model = LinearAE()
    with pytest.raises(DataError, match="'steps' must be an int of at least 2"):
        interpolation_grid(model, torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 4), steps=1)
    with pytest.raises(DataError, match="got 2 and 3 rows"):
        interpolation_grid(model, torch.rand(2, 1, 4, 4), torch.rand(3, 1, 4, 4))
