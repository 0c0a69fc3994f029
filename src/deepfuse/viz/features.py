"""What a CNN sees: the feature maps of its convolutions for one input, and its first filters.

Works on any ``torch.nn.Module`` (deepfuse ``Sequential``/``Model`` included): the convolutions
are found by type (``nn.Conv1d/Conv2d``, deepfuse ``Conv1D/Conv2D``) or named by the caller.

Example:
    >>> import torch
    >>> from deepfuse.viz import feature_maps
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 3))
    >>> {name: tuple(t.shape) for name, t in feature_maps(net, torch.zeros(5, 1, 8, 8)).items()}
    {'0': (5, 4, 6, 6), '2': (5, 2, 4, 4)}
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import DataError, format_message
from deepfuse.viz._modules import as_input, inspecting, is_conv, select_modules
from deepfuse.viz.images import _unit_range, as_images, plot_image_grid
from deepfuse.viz.plots import _pyplot, _save

__all__ = ["feature_maps", "plot_feature_maps", "plot_filters"]


def feature_maps(
    model: nn.Module, x: Any, layers: Sequence[str] | str | None = None
) -> dict[str, torch.Tensor]:
    """The outputs of the model's convolution layers for the batch ``x`` (one forward pass).

    The model runs in eval mode under ``no_grad``; forward hooks catch each layer's output. The
    hooks are removed and every module's train/eval mode is restored afterwards, even on error.

    Args:
        model: Any ``torch.nn.Module``.
        x: A batch as the model's ``forward`` takes it, e.g. ``(N, C, H, W)`` images (a deepfuse
            model fitted on channels-last arrays also takes ``(N, H, W, C)``, as ``predict`` does).
        layers: Module names (from ``model.named_modules()``) to record instead of every
            ``Conv1d``/``Conv2d`` (deepfuse ``Conv1D``/``Conv2D``) layer.

    Returns:
        ``{module name: output}`` in the order of ``named_modules`` (or of ``layers``); detached
        CPU tensors, e.g. ``(N, C_out, H_out, W_out)`` for a 2-D convolution. A module called
        twice in one forward keeps its last output.

    Raises:
        DataError: The model has no convolution (and ``layers`` is not given).
        UserError: A name in ``layers`` is not a module of the model.
    """
    chosen = select_modules(model, layers, is_conv, what="convolution", argument="layers")
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str) -> Any:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                outputs[name] = output.detach().cpu()

        return hook

    handles = [module.register_forward_hook(keep(name)) for name, module in chosen]
    try:
        with inspecting(model):
            model(as_input(model, x))
    finally:
        for handle in handles:
            handle.remove()
    return {name: outputs[name] for name, _ in chosen if name in outputs}


def _one_image(x: Any) -> torch.Tensor:
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    if t.dim() == 2:
        t = t[None]  # (H, W) -> (1, H, W)
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() == 3 and t.shape[-1] in (1, 3) and t.shape[0] not in (1, 3):
        t = t.permute(2, 0, 1)  # Keras (H, W, C) -> (C, H, W)
    if t.dim() != 3:
        raise DataError(
            format_message(
                "plot_feature_maps draws the maps of ONE input.",
                expected="an image of shape (C, H, W) or (1, C, H, W)",
                got=tuple(t.shape),
                fix="Pick one row, e.g. x[0] or x[:1].",
            )
        )
    return t


def plot_feature_maps(
    model: nn.Module,
    x: Any,
    layers: Sequence[str] | str | None = None,
    *,
    max_channels: int = 16,
    path: str | os.PathLike | None = None,
) -> Any:
    """The input image and, per convolution layer, a grid of its first channel maps.

    Made for images (2-D convolutions); a named layer with another output shape is drawn as one
    heat map (channels x the rest).

    Args:
        model: Any ``torch.nn.Module`` with convolutions.
        x: ONE input: ``(C, H, W)``, ``(1, C, H, W)``, ``(H, W)`` or Keras ``(H, W, 1|3)``.
        layers: Module names to show instead of every convolution (see :func:`feature_maps`).
        max_channels: At most this many channels per layer (the first ones).
        path: Where to save the figure (optional).

    Returns:
        A figure with one sub-figure per row: ``input``, then one per layer titled with the
        layer name and its output shape (batch dimension left out).

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3))
        >>> fig = plot_feature_maps(net, torch.rand(1, 8, 8))
        >>> [sub.get_suptitle() for sub in fig.subfigs]
        ['input (1, 8, 8)', "'0': 3 channels of 6x6"]
    """
    plt = _pyplot()
    if not isinstance(max_channels, int) or max_channels < 1:
        raise DataError(format_message("'max_channels' must be a positive int.", got=max_channels))
    image = _one_image(x)  # (C, H, W)
    maps = feature_maps(model, image[None], layers)  # name -> (1, C_out, ...)
    modules = dict(model.named_modules())
    ncols = min(8, max_channels)
    # Grid rows per layer: channel images for 2-D maps (1, C, H, W); one heat map otherwise.
    rows = [1] + [
        math.ceil(min(t.shape[1], max_channels) / ncols) if t.dim() == 4 else 2
        for t in maps.values()
    ]
    fig = plt.figure(figsize=(1.3 * ncols, 1.5 * sum(rows) + 0.35 * len(rows)))
    subfigs = fig.subfigures(len(rows), 1, height_ratios=rows, squeeze=False)[:, 0]

    ax = subfigs[0].subplots(1, 1)
    shown = image.float().mean(0) if image.shape[0] not in (1, 3) else image  # 2+ channels: mean
    picture = as_images(shown[None].cpu())[0]  # (H, W) or (H, W, 3)
    if picture.ndim == 3:
        picture = _unit_range(picture, normalize=False)[0]  # RGB must be in [0, 1] for imshow
    _imshow(ax, picture)
    subfigs[0].suptitle(f"input {tuple(image.shape)}", fontsize=10)

    for sub, (name, out), nrows in zip(subfigs[1:], maps.items(), rows[1:]):
        fmap = out[0]  # (C_out, H, W) for 2-D, (C_out, L) or (L, C_out) for 1-D convolutions
        if fmap.dim() == 3:  # 2-D convolution: one small image per channel
            axes = sub.subplots(nrows, ncols, squeeze=False)
            for i, ax in enumerate(axes.flat):
                ax.axis("off")
                if i < min(len(fmap), max_channels):
                    _imshow(ax, fmap[i].numpy())
                    ax.set_title(str(i), fontsize=6, pad=1)
            total, size = fmap.shape[0], "x".join(str(s) for s in fmap.shape[1:])
            count = f"{total}" if total <= max_channels else f"first {max_channels} of {total}"
            what = f"{count} channels of {size}"
        else:  # 1-D convolution (or any other named layer): one heat map, channels x steps
            if getattr(modules[name], "data_format", "") == "channels_last":
                fmap = fmap.T  # deepfuse Conv1D returns (steps, channels)
            fmap = fmap.reshape(fmap.shape[0] if fmap.dim() > 1 else 1, -1)[:max_channels]
            ax = sub.subplots(1, 1)
            ax.imshow(fmap.numpy(), aspect="auto", cmap="viridis", interpolation="nearest")
            ax.set_ylabel("channel", fontsize=7)
            ax.set_xlabel("step", fontsize=7)
            what = f"output {tuple(out.shape[1:])}"
        sub.suptitle(f"{name!r}: {what}", fontsize=9)
    return _save(fig, path)


def _imshow(ax: Any, image: Any) -> None:
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_filters(
    model: nn.Module,
    layer: str | None = None,
    *,
    max_filters: int = 64,
    path: str | os.PathLike | None = None,
) -> Any:
    """The kernels of the first ``Conv2d`` (or of the named one) as a grid of small images.

    One input channel: each kernel as it is. Three (RGB): each kernel min-max scaled to a colour
    image. Otherwise the mean over the input channels, which the title says.

    Args:
        model: Any ``torch.nn.Module`` with a 2-D convolution (``nn.Conv2d`` or deepfuse ``Conv2D``).
        layer: The module name (``model.named_modules()``) of the convolution to show.
        max_filters: At most this many filters (the first ones).
        path: Where to save the figure (optional).

    Returns:
        The figure; its first axes hold the filters in order (see :func:`plot_image_grid`).

    Raises:
        DataError: No Conv2d in the model, the layer is not a 2-D convolution, or its weights
            are not built yet.

    Example:
        >>> import torch
        >>> fig = plot_filters(torch.nn.Sequential(torch.nn.Conv2d(3, 6, 5)))
        >>> fig.get_suptitle()
        "'0': 6 filters 5x5, RGB (3 input channels)"
    """
    ((name, module),) = select_modules(
        model,
        None if layer is None else [layer],
        lambda m: is_conv(m, rank=2),
        what="Conv2d",
        argument="layer",
    )[:1]
    weight = getattr(module, "weight", None)
    if not is_conv(module, rank=2) or not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        raise DataError(
            f"Layer {name!r} ({type(module).__name__}) has no 2-D convolution kernel "
            f"(weight of shape (out, in, kh, kw)); got {None if weight is None else tuple(weight.shape)}. "
            "Name a Conv2d/Conv2D layer, or build the model first (run one batch through it or "
            "give the first layer input_shape=)."
        )
    if not isinstance(max_filters, int) or max_filters < 1:
        raise DataError(format_message("'max_filters' must be a positive int.", got=max_filters))
    w = weight.detach().cpu().float()[:max_filters]  # (F, C_in, kh, kw)
    c_in, kh, kw = w.shape[1:]
    if c_in == 1:
        images, how = w[:, 0], "grey"  # (F, kh, kw): the kernels themselves
    elif c_in == 3:
        images, how = w, "RGB (3 input channels)"  # (F, 3, kh, kw), scaled per filter to [0, 1]
    else:
        images, how = w.mean(1), f"mean over {c_in} input channels"  # (F, kh, kw)
    total = weight.shape[0]
    count = f"{total}" if total <= max_filters else f"first {max_filters} of {total}"
    return plot_image_grid(
        images,
        titles=[str(i) for i in range(len(images))],
        ncols=8,
        title=f"{name!r}: {count} filters {kh}x{kw}, {how}",
        normalize=True,
        path=path,
    )
