"""Workload definitions shared by the runner and every cell.

A workload fixes the architecture, batch size, optimiser and how many samples are timed. Every
cell of a workload trains on the *same* arrays (``bench/_data/*.npy``) with the same hyper-parameters,
so the only thing that differs between cells is the framework.

Timing protocol (identical for every framework):
  1. warm-up: train ``warmup_batches`` batches (a separate, untimed ``fit`` / loop on the first
     ``warmup_batches * batch_size`` samples) so lazy builds, allocator growth and first-call
     dispatch are paid before the clock starts;
  2. timed: ``epochs`` epochs over the first ``n_train`` samples, wall clock around the whole
     ``fit`` call (or the hand-written loop), so per-``fit`` setup a user pays is included.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    dataset: str  # "mnist" | "imdb" | "tabular" (files in bench/_data/)
    batch_size: int
    n_train: int  # samples per timed epoch (a prefix of the stored arrays)
    epochs: int  # timed epochs
    warmup_batches: int
    task: str  # "multiclass" | "binary"
    lr: float = 1e-3

    @property
    def timed_samples(self) -> int:
        return self.n_train * self.epochs

    def to_dict(self) -> dict:
        return asdict(self)


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        Workload(
            name="mlp",
            description="MNIST MLP 784-128-128-10 relu, Adam 1e-3, CE, accuracy",
            dataset="mnist",
            batch_size=128,
            n_train=60_000,
            epochs=20,
            warmup_batches=50,
            task="multiclass",
        ),
        Workload(
            name="cnn",
            description="MNIST Keras mnist_convnet (conv32-pool-conv64-pool-dropout-dense10), Adam",
            dataset="mnist",
            batch_size=128,
            n_train=60_000,
            epochs=1,
            warmup_batches=10,
            task="multiclass",
        ),
        Workload(
            name="lstm",
            description="IMDB Embedding 20000x128 -> LSTM 128 -> Dense 1, 200 tokens, BCE",
            dataset="imdb",
            batch_size=64,
            n_train=64 * 150,  # 150 batches: Keras' Python-level LSTM loop is very slow
            epochs=1,
            warmup_batches=5,
            task="binary",
        ),
        Workload(
            name="tabular",
            description="synthetic 100 float32 features, MLP 100-256-256-1, BCE",
            dataset="tabular",
            batch_size=1024,
            n_train=262_144,  # 256 batches
            epochs=6,
            warmup_batches=20,
            task="binary",
        ),
    ]
}


def get(name: str, quick: bool = False) -> Workload:
    """Return workload ``name``; ``quick`` shrinks it to a few batches for a smoke check."""
    w = WORKLOADS[name]
    if quick:
        w = replace(w, n_train=w.batch_size * 4, epochs=1, warmup_batches=2)
    return w
