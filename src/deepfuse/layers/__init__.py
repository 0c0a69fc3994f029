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
from deepfuse.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from deepfuse.layers.base import Layer
from deepfuse.layers.conv import Conv1D, Conv2D, Convolution1D, Convolution2D
from deepfuse.layers.conv_transpose import Conv1DTranspose, Conv2DTranspose, Convolution2DTranspose
from deepfuse.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Identity,
    InputLayer,
    Lambda,
)
from deepfuse.layers.merge import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
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
from deepfuse.layers.preprocessing import (
    GaussianNoise,
    RandomFlip,
    RandomRotation,
    RandomZoom,
    Rescaling,
    Resizing,
    SpatialDropout1D,
    SpatialDropout2D,
)
from deepfuse.layers.registry import (
    deserialize,
    get,
    names,
    register,
    register_keras_serializable,
    serialize,
)
from deepfuse.layers.reshaping import Flatten, Permute, RepeatVector, Reshape
from deepfuse.layers.rnn import GRU, LSTM, Bidirectional, SimpleRNN
from deepfuse.layers.spatial import (
    Cropping1D,
    Cropping2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
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
    "Convolution2DTranspose": Conv2DTranspose,
}.items():
    register(_cls, _alias)

__all__ = [
    "ELU",
    "GRU",
    "LSTM",
    "Activation",
    "Add",
    "Average",
    "AveragePooling1D",
    "AveragePooling2D",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "BatchNormalization",
    "Bidirectional",
    "Concatenate",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Convolution1D",
    "Convolution2D",
    "Convolution2DTranspose",
    "Cropping1D",
    "Cropping2D",
    "Dense",
    "Dot",
    "Dropout",
    "Embedding",
    "Flatten",
    "GaussianNoise",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "Identity",
    "Input",
    "InputLayer",
    "Lambda",
    "Layer",
    "LayerNorm",
    "LayerNormalization",
    "LeakyReLU",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "Maximum",
    "Minimum",
    "Multiply",
    "PReLU",
    "Permute",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "ReLU",
    "RepeatVector",
    "Rescaling",
    "Reshape",
    "Resizing",
    "SimpleRNN",
    "Softmax",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "Subtract",
    "SymbolicTensor",
    "TensorOp",
    "UpSampling1D",
    "UpSampling2D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "activations",
    "add",
    "average",
    "concatenate",
    "deserialize",
    "dot",
    "get",
    "initializers",
    "maximum",
    "minimum",
    "multiply",
    "names",
    "register",
    "register_keras_serializable",
    "regularizers",
    "serialize",
    "subtract",
]
