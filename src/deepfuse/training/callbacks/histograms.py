"""``HistogramLog``: per-epoch histograms of every parameter's weights and gradients, in JSON.

At the end of each epoch (or every ``every_n_steps`` optimizer steps) it records, per parameter
tensor (``model.named_parameters()``), a histogram of the weights and of the gradients of the
epoch's last step, and rewrites the whole file atomically::

    {"version": 1, "bins": 30, "epochs": [1, 2], "steps": [4, 8],
     "max_params": 20, "total_params": 4, "note": null,
     "weights":   {"module.0.weight": [{"epoch": 1, "step": 4, "edges": [...31 floats],
                                        "counts": [...30 floats], "mean": 0.01, "std": 0.2,
                                        "nonfinite": 0}, ...], ...},
     "gradients": {...the same...}}

``edges`` run from the tensor's min to its max (a constant tensor ``a``: ``a - 0.5 .. a + 0.5``,
as ``numpy.histogram``); ``counts`` come from ``torch.histc`` and sum to the number of finite
values. ``mean``/``std`` (population) are over the finite values. A gradient entry is missing
where the parameter had no gradient (frozen, unused). Only the ``max_params`` largest tensors are
recorded (``note`` says so when that cut any). Plot the file with
:func:`deepfuse.viz.plot_histograms`.

It reads tensors only (no randomness, no extra forward pass): training is bit-identical with and
without it. Gradients are those left by the last ``train_step`` (``Model.train_step`` zeroes them
at the start of a step, so they are still there after the step; clipping already applied).

Example:
    >>> import json, os, tempfile, torch, deepfuse as df
    >>> path = os.path.join(tempfile.mkdtemp(), "histograms.json")
    >>> model = df.Sequential([df.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> _ = model.fit(torch.randn(8, 2), torch.randn(8, 1), batch_size=4, epochs=2, verbose=0,
    ...               callbacks=[HistogramLog(path, bins=5)])
    >>> doc = json.load(open(path))
    >>> doc["epochs"], sorted(doc["weights"]), len(doc["gradients"]["module.0.bias"])
    ([1, 2], ['module.0.bias', 'module.0.weight'], 2)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from deepfuse._utils.errors import ConfigError
from deepfuse._utils.io import atomic_write_json, read_json
from deepfuse.training.callbacks.base import Callback

__all__ = ["HistogramLog", "tensor_histogram"]

VERSION = 1


def tensor_histogram(tensor: torch.Tensor, bins: int) -> dict[str, Any]:
    """``{"edges", "counts", "mean", "std", "nonfinite"}`` of a tensor's finite values.

    Example:
        >>> h = tensor_histogram(torch.tensor([0.0, 1.0, 1.0, 4.0]), bins=4)
        >>> h["edges"], h["counts"], h["mean"]
        ([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 0.0, 1.0], 1.5)
    """
    t = tensor.detach().reshape(-1)
    if t.dtype not in (torch.float32, torch.float64):
        t = t.float()  # histc needs float32/64 (half, bfloat16, int buffers)
    if t.is_cuda and torch.are_deterministic_algorithms_enabled():
        t = t.cpu()  # CUDA histc has no deterministic kernel: it would raise
    finite = torch.isfinite(t)
    nonfinite = int(t.numel() - int(finite.sum()))
    if nonfinite:
        t = t[finite]
    if t.numel() == 0:
        return {"edges": [], "counts": [], "mean": None, "std": None, "nonfinite": nonfinite}
    lo, hi = float(t.min()), float(t.max())
    if lo == hi:  # constant tensor (zero biases): a unit-wide range around it, as numpy does
        lo, hi = lo - 0.5, hi + 0.5
    counts = torch.histc(t, bins=bins, min=lo, max=hi)  # (bins,)
    return {
        "edges": [lo + (hi - lo) * i / bins for i in range(bins + 1)],
        "counts": counts.tolist(),
        "mean": float(t.mean()),
        "std": float(t.std(unbiased=False)) if t.numel() > 1 else 0.0,
        "nonfinite": nonfinite,
    }


class HistogramLog(Callback):
    """Write weight and gradient histograms per epoch to a JSON file (see the module docstring).

    Args:
        path: The JSON file; a fresh run overwrites it, a resumed run keeps what the checkpoint
            had recorded and continues.
        bins: Bins per histogram.
        every_n_steps: Record every this many optimizer steps instead of at epoch ends
            (``None``: once per epoch, after its last step).
        max_params: Record at most this many parameter tensors, the largest ones.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        bins: int = 30,
        every_n_steps: int | None = None,
        max_params: int = 20,
    ) -> None:
        for name, value, allow_none in (
            ("bins", bins, False),
            ("every_n_steps", every_n_steps, True),
            ("max_params", max_params, False),
        ):
            if value is None and allow_none:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"The '{name}' argument of HistogramLog must be a positive int"
                    f"{' or None' if allow_none else ''}; got {value!r}."
                )
        self.path = Path(path)
        self.bins = bins
        self.every_n_steps = every_n_steps
        self.max_params = max_params
        self._doc: dict[str, Any] = self._empty()
        self._pending: dict[str, Any] | None = None  # this epoch's snapshot, taken at its last step
        self._resumed = False

    # ------------------------------------------------------------------- hooks
    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if not self._resumed:
            self._doc = self._empty()
        self._resumed = False
        self._pending = None

    def on_train_batch_end(self, step: int, logs: dict[str, Any]) -> None:
        trainer = self.trainer
        if self.every_n_steps is not None:
            if trainer.global_step % self.every_n_steps == 0:
                self._commit(self._snapshot())
            return
        if trainer.steps_per_epoch is not None and step == trainer.steps_per_epoch - 1:
            # The gradients are this step's; later hooks (validation, other callbacks) could
            # touch them, so take the epoch's snapshot now and write it at the epoch's end.
            self._pending = self._snapshot()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.every_n_steps is not None:
            return
        snapshot = self._pending
        if snapshot is None or snapshot["epoch"] != epoch + 1:
            snapshot = self._snapshot()  # unknown epoch length, or stopped early: take it now
        self._pending = None
        self._commit(snapshot)

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        """The last global step whose histograms a checkpoint includes."""
        steps = self._doc["steps"]
        return {"through_step": steps[-1] if steps else 0}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Keep what the file recorded up to the checkpoint; the resumed run appends after it."""
        through = int(state["through_step"])
        doc = self._read_existing() if through else self._empty()  # none yet: no file to read
        keep = [i for i, s in enumerate(doc["steps"]) if s <= through]
        doc["epochs"] = [doc["epochs"][i] for i in keep]
        doc["steps"] = [doc["steps"][i] for i in keep]
        for kind in ("weights", "gradients"):
            doc[kind] = {
                name: [e for e in entries if e["step"] <= through]
                for name, entries in doc[kind].items()
            }
        self._doc = doc
        self._resumed = True

    # ----------------------------------------------------------------- private
    def _empty(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "bins": self.bins,
            "epochs": [],
            "steps": [],
            "max_params": self.max_params,
            "total_params": None,
            "note": None,
            "weights": {},
            "gradients": {},
        }

    def _is_main(self) -> bool:
        strategy = getattr(self.trainer, "strategy", None)
        return bool(getattr(strategy, "is_main", True))

    def _parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        params = list(self.trainer.model.named_parameters())
        self._doc["total_params"] = len(params)
        if len(params) <= self.max_params:
            return params
        # The largest tensors, kept in model order (ties: the earlier one).
        by_size = sorted(range(len(params)), key=lambda i: (-params[i][1].numel(), i))
        chosen = sorted(by_size[: self.max_params])
        self._doc["note"] = (
            f"recorded the {self.max_params} largest of {len(params)} parameter tensors "
            "(HistogramLog(max_params=...) to change)"
        )
        return [params[i] for i in chosen]

    def _snapshot(self) -> dict[str, Any] | None:
        if not self._is_main():  # one process writes; gradients are averaged over workers anyway
            return None
        trainer = self.trainer
        where = {"epoch": trainer.epoch + 1, "step": trainer.global_step}
        weights, gradients = {}, {}
        for name, p in self._parameters():
            weights[name] = {**where, **tensor_histogram(p, self.bins)}
            if p.grad is not None:
                gradients[name] = {**where, **tensor_histogram(p.grad, self.bins)}
        return {**where, "weights": weights, "gradients": gradients}

    def _commit(self, snapshot: dict[str, Any] | None) -> None:
        if snapshot is None:
            return
        doc = self._doc
        doc["bins"] = self.bins
        doc["epochs"].append(snapshot["epoch"])
        doc["steps"].append(snapshot["step"])
        for kind in ("weights", "gradients"):
            for name, entry in snapshot[kind].items():
                doc[kind].setdefault(name, []).append(entry)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, doc)

    def _read_existing(self) -> dict[str, Any]:
        try:
            doc = read_json(self.path, what="histogram file")  # DataError is a ValueError
            if doc.get("version") != VERSION:
                raise ValueError(f"version {doc.get('version')!r}")
            return {**self._empty(), **doc}
        except (OSError, ValueError, AttributeError) as exc:
            warnings.warn(
                f"HistogramLog: cannot read '{self.path}' to resume ({exc}); it starts over "
                "from this epoch, earlier epochs are not in it.",
                RuntimeWarning,
                stacklevel=2,
            )
            return self._empty()
