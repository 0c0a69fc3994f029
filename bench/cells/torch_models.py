"""The plain ``torch.nn`` modules of each workload (used by the torch and Lightning cells, and by
the ``deepfuse_module`` cell that wraps them in ``df.Model``).

Outputs are logits: (N, 10) for MNIST, (N,) for the binary workloads (squeezed, so
``BCEWithLogitsLoss`` takes the float target (N,) as is).
"""

from __future__ import annotations

import torch
from torch import nn


class _Squeeze(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(-1)  # (N, 1) -> (N,)


class LSTMClassifier(nn.Module):
    """Embedding 20000x128 -> LSTM 128 (last hidden state) -> Linear 1, like Keras' LSTM(128)."""

    def __init__(self, vocab: int = 20_000, dim: int = 128, hidden: int = 128):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(self.embedding(tokens))  # h_n: (1, N, hidden)
        return self.head(h_n[-1]).squeeze(-1)  # (N,)


def build(workload: str) -> nn.Module:
    if workload == "mlp":
        return nn.Sequential(
            nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10)
        )
    if workload == "cnn":  # Keras mnist_convnet, NCHW
        return nn.Sequential(
            nn.Conv2d(1, 32, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),  # 64 x 5 x 5 = 1600
            nn.Dropout(0.5),
            nn.Linear(1600, 10),
        )
    if workload == "lstm":
        return LSTMClassifier()
    if workload == "tabular":
        return nn.Sequential(
            nn.Linear(100, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1),
            _Squeeze(),
        )  # fmt: skip
    raise ValueError(f"unknown workload {workload!r}")


def loss_fn(task: str) -> nn.Module:
    return nn.CrossEntropyLoss() if task == "multiclass" else nn.BCEWithLogitsLoss()


def n_correct(logits: torch.Tensor, target: torch.Tensor, task: str) -> torch.Tensor:
    if task == "multiclass":
        return (logits.argmax(1) == target).sum()
    return ((logits > 0).to(target.dtype) == target).sum()


def shape_x(x, workload: str):
    """Reshape the stored MNIST images (N, 28, 28) for a torch model: MLP (N, 784), CNN NCHW."""
    if workload == "mlp":
        return x.reshape(len(x), 784)
    if workload == "cnn":
        return x.reshape(len(x), 1, 28, 28)
    return x
