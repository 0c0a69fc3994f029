"""deepfuse.viz feature maps and filters: the hooked outputs and drawn kernels are the real ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

pytest.importorskip("matplotlib", reason="matplotlib (deepfuse[viz]) is not installed")

import deepfuse as df
from deepfuse._utils.errors import DataError, UserError
from deepfuse.viz import feature_maps, plot_feature_maps, plot_filters, plot_image_grid


def _torch_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.ReLU(),
        nn.Dropout(0.5),  # eval mode must switch it off
        nn.Conv2d(4, 5, 3, padding=1),
        nn.Flatten(),
        nn.Linear(5 * 6 * 6, 2),
    )


def test_feature_maps_equal_a_manual_forward_through_the_convolutions():
    net = _torch_cnn()
    x = torch.randn(2, 1, 8, 8)
    maps = feature_maps(net, x)
    assert list(maps) == ["0", "3"]
    first = F.conv2d(x, net[0].weight, net[0].bias)  # (2, 4, 6, 6)
    second = F.conv2d(F.relu(first), net[3].weight, net[3].bias, padding=1)  # (2, 5, 6, 6)
    torch.testing.assert_close(maps["0"], first)
    torch.testing.assert_close(maps["3"], second)
    only = feature_maps(net, x, layers=["3"])
    assert list(only) == ["3"]
    torch.testing.assert_close(only["3"], second)


def test_feature_maps_of_a_deepfuse_sequential_with_channels_last_input():
    torch.manual_seed(0)
    model = df.Sequential(
        [
            df.layers.Conv2D(4, (3, 3), activation="relu", input_shape=(8, 8, 1)),
            df.layers.Conv2D(2, (3, 3)),
            df.layers.Flatten(),
            df.layers.Dense(3),
        ]
    )
    conv1, conv2 = model.layers[0], model.layers[1]
    x = torch.randn(3, 1, 8, 8)
    maps = feature_maps(model, x)
    assert list(maps) == ["module.0", "module.1"]
    a = F.relu(F.conv2d(x, conv1.weight, conv1.bias))  # the layer's output includes its activation
    torch.testing.assert_close(maps["module.0"], a)
    torch.testing.assert_close(maps["module.1"], F.conv2d(a, conv2.weight, conv2.bias))
    # A model that declared Keras (H, W, C) input also takes channels-last arrays, as predict does.
    channels_last = feature_maps(model, x.permute(0, 2, 3, 1).numpy())
    torch.testing.assert_close(channels_last["module.1"], maps["module.1"])


def test_uint8_images_follow_the_tensor_rule_as_predict_does():
    """Regression (issue 10): uint8 pixels were made float without the / 255 fit applies."""
    net = _torch_cnn()
    pixels = np.random.default_rng(0).integers(0, 256, size=(2, 8, 8, 1), dtype=np.uint8)
    want = torch.from_numpy(pixels.astype(np.float32) / np.float32(255.0)).permute(0, 3, 1, 2)
    got = feature_maps(net, pixels)  # (N, H, W, C) uint8, as fit/predict take them
    torch.testing.assert_close(got["0"], F.conv2d(want, net[0].weight, net[0].bias))
    model = df.Sequential([df.layers.Conv2D(2, 3, input_shape=(8, 8, 1)), df.layers.Flatten()])
    model.predict(pixels)  # remembers the channels-last layout, as a fitted model does
    maps = feature_maps(model, pixels)
    conv = model.layers[0]
    torch.testing.assert_close(maps["module.0"], F.conv2d(want, conv.weight, conv.bias))


def test_hooks_are_removed_and_each_module_keeps_its_mode():
    net = _torch_cnn()
    net.train()
    net[2].eval()  # a mixed state must survive as it was
    feature_maps(net, torch.randn(1, 1, 8, 8))
    assert [m.training for m in net] == [True, True, False, True, True, True]
    assert all(not m._forward_hooks for m in net.modules())
    with pytest.raises(RuntimeError):  # even when the forward fails
        feature_maps(net, torch.randn(1, 2, 8, 8))
    assert all(not m._forward_hooks for m in net.modules())
    assert net.training and not net[2].training


def test_feature_maps_errors_name_what_is_expected():
    with pytest.raises(DataError, match=r"no convolution layer.*layers="):
        feature_maps(nn.Linear(3, 2), torch.randn(2, 3))
    with pytest.raises(UserError, match=r"no module named 'conv9'.*'0', '3'"):
        feature_maps(_torch_cnn(), torch.randn(1, 1, 8, 8), layers=["conv9"])
    with pytest.raises(DataError, match=r"ONE input.*\(2, 1, 8, 8\)"):
        plot_feature_maps(_torch_cnn(), torch.randn(2, 1, 8, 8))


def test_plot_feature_maps_shows_the_input_and_each_layer(tmp_path):
    net = _torch_cnn()
    x = torch.rand(1, 8, 8)
    fig = plot_feature_maps(net, x, max_channels=4, path=tmp_path / "maps.png")
    titles = [sub.get_suptitle() for sub in fig.subfigs]
    assert titles == [
        "input (1, 8, 8)",
        "'0': 4 channels of 6x6",
        "'3': first 4 of 5 channels of 6x6",
    ]
    np.testing.assert_allclose(fig.subfigs[0].axes[0].images[0].get_array(), x[0].numpy())
    maps = feature_maps(net, x[None])
    drawn = [ax.images[0].get_array() for ax in fig.subfigs[2].axes if ax.images]
    assert len(drawn) == 4
    np.testing.assert_allclose(drawn[3], maps["3"][0, 3].numpy())
    keras_layout = plot_feature_maps(net, x.permute(1, 2, 0), max_channels=4)  # (H, W, 1)
    assert keras_layout.subfigs[0].get_suptitle() == "input (1, 8, 8)"
    head = plot_feature_maps(net, x, layers=["5"])  # a non-conv layer: one heat map
    assert head.subfigs[1].get_suptitle() == "'5': output (2,)"
    want = net.eval()(x[None]).detach()  # the logits without dropout
    np.testing.assert_allclose(head.subfigs[1].axes[0].images[0].get_array(), want, rtol=1e-6)
    assert (tmp_path / "maps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_filter_grid_images_are_the_kernels(tmp_path):
    net = _torch_cnn()
    fig = plot_filters(net, path=tmp_path / "filters.svg")
    assert fig.get_suptitle() == "'0': 4 filters 3x3, grey"
    drawn = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(drawn) == 4
    for image, kernel in zip(drawn, net[0].weight.detach()):
        np.testing.assert_allclose(image, kernel[0].numpy(), rtol=1e-6)
    assert (tmp_path / "filters.svg").read_text().lstrip().startswith("<?xml")
    # Several input channels: the mean over them, and the title says so.
    fig = plot_filters(net, "3", max_filters=2)
    assert fig.get_suptitle() == "'3': first 2 of 5 filters 3x3, mean over 4 input channels"
    mean = net[3].weight.detach().mean(1)
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), mean[1].numpy(), rtol=1e-6)


def test_rgb_filters_are_scaled_to_unit_range():
    conv = nn.Conv2d(3, 2, 2)
    fig = plot_filters(nn.Sequential(conv))
    image = fig.axes[0].images[0].get_array()  # (kh, kw, 3)
    w = conv.weight.detach()[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(image, (w - w.min()) / (w.max() - w.min()), rtol=1e-5, atol=1e-7)


def test_plot_filters_refuses_a_model_without_conv2d():
    with pytest.raises(DataError, match=r"no Conv2d layer.*layer="):
        plot_filters(nn.Sequential(nn.Linear(3, 2)))
    with pytest.raises(DataError, match=r"'0' \(Linear\) has no 2-D convolution kernel"):
        plot_filters(nn.Sequential(nn.Linear(3, 2)), "0")


def test_image_grid_layouts_and_ranges(tmp_path):
    rgb = torch.rand(3, 3, 4, 5)  # (N, 3, H, W) in [0, 1]: drawn as is
    fig = plot_image_grid(rgb, titles=["a", "b", "c"], ncols=2, path=tmp_path / "g.png")
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c", ""]
    np.testing.assert_allclose(fig.axes[2].images[0].get_array(), rgb[2].permute(1, 2, 0).numpy())
    grey = np.arange(2 * 4 * 4, dtype=float).reshape(2, 1, 4, 4) - 10  # any range: colour stretched
    fig = plot_image_grid(grey)
    image = fig.axes[1].images[0]
    np.testing.assert_allclose(image.get_array(), grey[1, 0])
    assert image.get_clim() == (grey[1].min(), grey[1].max())
    with pytest.raises(DataError, match=r"\(N, H, W\).*\(4, 4\)"):
        plot_image_grid(np.zeros((4, 4)))
    with pytest.raises(DataError, match="one title per image"):
        plot_image_grid(np.zeros((2, 4, 4)), titles=["x"])
