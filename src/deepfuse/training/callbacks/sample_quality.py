"""``SampleQuality``: a generator's sample-quality score at every epoch end, in the epoch's logs.

The score itself comes from above the training loop (``task: generate`` passes
:func:`deepfuse.evaluation.generative.quality_callbacks`, which scores samples by the
classifier-feature Fréchet distance ``classifier_fd``); this callback only decides when it runs
and keeps it from disturbing training:

* ``prepare()`` runs once in ``on_train_begin`` (train the scorer, or load it on resume) and
  returns the scoring function; ``score(model)`` runs once per epoch, after validation (or at
  the epoch's end without validation data), and its values are added to the epoch's logs, so
  they reach ``History``, ``history.csv``, the progress line, the report's curves and the
  callbacks that monitor a value (``EarlyStopping(monitor="classifier_fd", mode="min")``).
* both run inside :func:`~deepfuse.training.checkpoint.isolated_rng`: the python, numpy and torch random states are restored
  afterwards, so a run trains bit-identically with and without the callback, and a resumed run
  continues the uninterrupted one exactly. The scorer and the score depend only on the weights
  and fixed seeds: the callback keeps no state between epochs (nothing to checkpoint).

Example:
    >>> import torch, deepfuse as df
    >>> prepare = lambda: (lambda model: {"weight_norm": float(model.module[0].weight.detach().norm())})
    >>> model = df.Sequential([df.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> h = model.fit(torch.randn(8, 2), torch.randn(8, 1), epochs=2, verbose=0,
    ...               callbacks=[SampleQuality(prepare)])
    >>> len(h.history["weight_norm"])
    2
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from deepfuse.training.callbacks.base import Callback
from deepfuse.training.checkpoint import isolated_rng

__all__ = ["SampleQuality"]

#: ``score(model) -> {log key: value}``, what ``prepare()`` returns.
Score = Callable[[Any], Mapping[str, float]]


class SampleQuality(Callback):
    """Add ``score(model)``'s values to every epoch's logs (see the module docstring).

    Args:
        prepare: Called once when training begins (a resumed run too); returns ``score``,
            ``model -> {key: float}`` (e.g. ``{"classifier_fd": 12.3}``).

    Attributes:
        seconds: What scoring took at each epoch end of this process (the cost per epoch).
        prepare_seconds: What ``prepare()`` took (training or loading the scorer).
    """

    def __init__(self, prepare: Callable[[], Score]) -> None:
        self.prepare = prepare
        self._score: Score | None = None
        self.seconds: list[float] = []
        self.prepare_seconds: float | None = None
        self._scored: dict[str, Any] | None = None  # the epoch logs scored last

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        start = time.perf_counter()
        with isolated_rng():
            self._score = self.prepare()
        self.prepare_seconds = time.perf_counter() - start

    def on_validation_end(self, logs: dict[str, Any]) -> None:
        # With validation data the score joins the logs before any callback's on_epoch_end:
        # EarlyStopping / ModelCheckpoint listed before this callback can monitor it too.
        self._add(logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self._scored is not logs:  # no validation this epoch: score now
            self._add(logs)

    def _add(self, logs: dict[str, Any]) -> None:
        if self._score is None:  # fit() always calls on_train_begin first; a direct call may not
            self.on_train_begin({})
        start = time.perf_counter()
        model = self.model
        was_training = bool(getattr(model, "training", False))
        with isolated_rng():
            values = self._score(model)
        if hasattr(model, "train"):
            model.train(was_training)  # the score runs in eval mode; training goes on as it was
        # logs is the trainer's record of this epoch: History and history.csv read it after
        logs.update({k: _number(v) for k, v in values.items()})
        self._scored = logs  # the same dict reaches on_epoch_end: scored once per epoch
        self.seconds.append(time.perf_counter() - start)


def _number(value: Any) -> float:
    number = float(value)
    return number if math.isfinite(number) else float("nan")
