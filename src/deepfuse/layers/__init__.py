"""Keras-style layers on PyTorch: lazy shapes, Keras argument names, torch speed.

Every layer is a ``torch.nn.Module``; weights are created on the first call from the input's
shape. Images are NCHW; sequences are ``(N, steps, features)``.

Example:
    >>> import torch
    >>> from deepfuse import layers
    >>> net = torch.nn.Sequential(layers.Conv2D(8, 3, activation="relu"), layers.MaxPool2D(2),
    ...                           layers.Flatten(), layers.Dense(10))
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from deepfuse.layers import activations, initializers, regularizers
from deepfuse.layers.base import Layer
from deepfuse.layers.conv import Conv1D, Conv2D, Convolution1D, Convolution2D
from deepfuse.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    InputLayer,
    Reshape,
)
from deepfuse.layers.norm import BatchNorm, BatchNormalization, LayerNorm, LayerNormalization
from deepfuse.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from deepfuse.layers.registry import deserialize, get, names, register, serialize
from deepfuse.layers.rnn import GRU, LSTM, Bidirectional, SimpleRNN
from deepfuse.layers.symbolic import Input, SymbolicTensor
from deepfuse.layers.tensor_ops import TensorOp

# Keras aliases resolve by name too: layers.get("MaxPooling2D"), layers.get("BatchNormalization").
for _alias, _cls in {
    "MaxPooling1D": MaxPool1D,
    "MaxPooling2D": MaxPool2D,
    "AveragePooling1D": AvgPool1D,
    "AveragePooling2D": AvgPool2D,
    "GlobalMaxPooling1D": GlobalMaxPool1D,
    "GlobalMaxPooling2D": GlobalMaxPool2D,
    "GlobalAveragePooling1D": GlobalAvgPool1D,
    "GlobalAveragePooling2D": GlobalAvgPool2D,
    "BatchNormalization": BatchNorm,
    "LayerNormalization": LayerNorm,
    "Convolution1D": Conv1D,
    "Convolution2D": Conv2D,
    "Input": InputLayer,
}.items():
    register(_cls, _alias)

__all__ = [
    "GRU",
    "LSTM",
    "Activation",
    "AveragePooling1D",
    "AveragePooling2D",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "BatchNormalization",
    "Bidirectional",
    "Conv1D",
    "Conv2D",
    "Convolution1D",
    "Convolution2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "Input",
    "InputLayer",
    "Layer",
    "LayerNorm",
    "LayerNormalization",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "Reshape",
    "SimpleRNN",
    "SymbolicTensor",
    "TensorOp",
    "activations",
    "deserialize",
    "get",
    "initializers",
    "names",
    "register",
    "regularizers",
    "serialize",
]
