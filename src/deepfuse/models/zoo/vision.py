"""Zoo builders for dense and convolutional classifiers: ``mlp`` and ``cnn``.

Both return an ``nn.Sequential`` of deepfuse layers that outputs logits (no final softmax).

Example:
    >>> import torch
    >>> from deepfuse.models import zoo
    >>> zoo.get("mlp", hidden=[32], out_features=10)(torch.zeros(2, 28, 28)).shape
    torch.Size([2, 10])
    >>> zoo.get("cnn", filters=[8, 16], dense=[])(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from deepfuse._utils.errors import ConfigError
from deepfuse.layers import Activation, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D
from deepfuse.layers.base import channels_first_shape
from deepfuse.models.zoo._common import (
    ZooSequential,
    build_with,
    check_activation,
    dense_stack,
    int_list,
    positive_int,
    rate,
    tag,
)

__all__ = ["cnn", "mlp"]


def _shape(model: str, value: Any) -> list[int] | None:
    if value is None:
        return None
    return int_list(model, "input_shape", value, allow_empty=False)


def mlp(
    hidden: Sequence[int] = (128, 128),
    out_features: int = 10,
    dropout: float = 0.0,
    activation: str = "relu",
    batch_norm: bool = False,
    input_shape: Sequence[int] | None = None,
) -> ZooSequential:
    """Multi-layer perceptron: ``Flatten -> [Dense -> (BN) -> act -> (Dropout)] * n -> Dense``.

    Args:
        hidden: Hidden layer sizes.
        out_features: Output size (classes, or 1 for regression/binary).
        dropout: Dropout after every hidden layer (0 = none).
        activation: Hidden activation name.
        batch_norm: BatchNorm before each hidden activation.
        input_shape: Per-sample shape (e.g. ``[784]`` or ``[28, 28]``) to build weights at once;
            otherwise they are created on the first batch.

    Example:
        >>> mlp(hidden=[16], out_features=3, input_shape=[4])[1].weight.shape
        torch.Size([16, 4])
    """
    config = {
        "hidden": int_list("mlp", "hidden", hidden),
        "out_features": positive_int("mlp", "out_features", out_features),
        "dropout": rate("mlp", "dropout", dropout),
        "activation": check_activation(activation),
        "batch_norm": bool(batch_norm),
        "input_shape": _shape("mlp", input_shape),
    }
    model = ZooSequential(
        Flatten(data_format="channels_first"),
        *dense_stack(
            config["hidden"],
            activation=activation,
            dropout=config["dropout"],
            batch_norm=config["batch_norm"],
        ),
        Dense(config["out_features"]),
    )
    if config["input_shape"]:
        build_with(model, torch.zeros(2, *config["input_shape"]))
    return tag(model, "mlp", config)


def cnn(
    filters: Sequence[int] = (32, 64),
    kernel_size: int = 3,
    pool: int = 2,
    dense: Sequence[int] = (128,),
    dropout: float = 0.5,
    batch_norm: bool = False,
    out_features: int = 10,
    in_channels: int | None = None,
    conv_per_block: int = 1,
    padding: str = "valid",
    input_shape: Sequence[int] | None = None,
) -> ZooSequential:
    """Convolutional classifier for NCHW images.

    One block per entry of ``filters``: ``conv_per_block`` x ``Conv2D(f, kernel_size)
    (+BatchNorm) + relu``, then ``MaxPool2D(pool)`` (``pool=0``: none). Then ``Flatten``, for
    each ``dense`` size ``Dense + relu + Dropout``, and the output ``Dense``. With ``dense=[]``
    the dropout sits right after ``Flatten``.

    Keras' mnist_convnet (Conv32 -> Pool -> Conv64 -> Pool -> Flatten -> Dropout(0.5) -> Dense10)
    is ``cnn(filters=[32, 64], dense=[], dropout=0.5)``; the classic "Conv32 -> Pool -> Dense128"
    is ``cnn(filters=[32], dense=[128])``.

    Args:
        in_channels: Image channels, to build the convolutions at once.
        padding: ``"valid"`` (Keras tutorials) or ``"same"`` (keeps small images from shrinking).
        input_shape: Per-sample image shape, ``(C, H, W)`` or Keras ``(H, W, C)``, to build every
            weight at once.

    Example:
        >>> import torch
        >>> cnn(filters=[8], dense=[16], padding="same")(torch.zeros(2, 3, 8, 8)).shape
        torch.Size([2, 10])
    """
    config = {
        "filters": int_list("cnn", "filters", filters, allow_empty=False),
        "kernel_size": positive_int("cnn", "kernel_size", kernel_size),
        "pool": pool,
        "dense": int_list("cnn", "dense", dense),
        "dropout": rate("cnn", "dropout", dropout),
        "batch_norm": bool(batch_norm),
        "out_features": positive_int("cnn", "out_features", out_features),
        "in_channels": None
        if in_channels is None
        else positive_int("cnn", "in_channels", in_channels),
        "conv_per_block": positive_int("cnn", "conv_per_block", conv_per_block),
        "padding": padding,
        "input_shape": _shape("cnn", input_shape),
    }
    if isinstance(pool, bool) or not isinstance(pool, int) or pool < 0:
        raise ConfigError(
            f"The 'pool' argument of zoo model 'cnn' must be an int >= 0 (0 = no "
            f"pooling); got {pool!r}."
        )
    layers: list[Any] = []
    for f in config["filters"]:
        for _ in range(config["conv_per_block"]):
            if config["batch_norm"]:
                layers += [Conv2D(f, kernel_size, padding=padding), BatchNorm(), Activation("relu")]
            else:
                layers.append(Conv2D(f, kernel_size, padding=padding, activation="relu"))
        if pool:
            layers.append(MaxPool2D(pool))
    layers.append(Flatten(data_format="channels_first"))
    if not config["dense"] and config["dropout"]:
        layers.append(Dropout(config["dropout"]))
    layers += dense_stack(
        config["dense"], activation="relu", dropout=config["dropout"], batch_norm=False
    )
    layers.append(Dense(config["out_features"]))
    model = ZooSequential(*layers)
    shape = config["input_shape"]
    if shape is not None:
        if len(shape) != 3:
            raise ConfigError(
                f"The 'input_shape' argument of zoo model 'cnn' must be (C, H, W) "
                f"or (H, W, C); got {shape!r}."
            )
        build_with(model, torch.zeros(2, *channels_first_shape(tuple(shape))))
    elif config["in_channels"]:
        model[0].build([None, config["in_channels"], None, None])
    return tag(model, "cnn", config)
