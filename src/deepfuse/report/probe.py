"""One look inside the model for the report: a capped sample of test rows, one forward pass.

The same pass gives the class probabilities (for the confidently wrong examples) and the input
of the last linear layer (the penultimate features, for the 2-D projection), so the report
costs one forward over at most :data:`MAX_ROWS` rows. Rows are drawn with a local generator:
no global random state is touched, so a run's results do not depend on its report.

Example:
    >>> import torch
    >>> rows = sample_rows({"x": torch.arange(10.0)[:, None], "y": torch.arange(10)}, cap=4)
    >>> rows["x"].shape, rows["y"].tolist() == sorted(rows["y"].tolist())
    (torch.Size([4, 1]), True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["MAX_ROWS", "Probe", "probe", "sample_rows"]

#: At most this many test rows feed the projection and the confidently wrong examples (one
#: forward pass over them: about 0.5 s for the MNIST CNN on 2 CPU cores).
MAX_ROWS = 1000


def sample_rows(data: Any, *, cap: int = MAX_ROWS, seed: int = 0) -> dict[str, torch.Tensor]:
    """At most ``cap`` rows of ``data`` (a dict of arrays: a seeded sample in row order; an
    iterable of batch dicts, e.g. a streamed test split: its first ``cap`` rows).

    Values are only sampled here, not converted (dtypes kept): :func:`probe` converts them.
    """
    if isinstance(data, Mapping):
        n = int(next(iter(data.values())).shape[0])
        if n <= cap:
            return {k: torch.as_tensor(v) for k, v in data.items()}
        keep = np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))
        index = torch.as_tensor(keep)
        return {k: torch.as_tensor(v).index_select(0, index) for k, v in data.items()}
    if not isinstance(data, Iterable):
        raise TypeError(
            f"test data must be a dict of tensors or batches; got {type(data).__name__}"
        )
    parts: dict[str, list[torch.Tensor]] = {}
    taken = 0
    for batch in data:
        size = int(next(iter(batch.values())).shape[0])
        room = min(size, cap - taken)
        for k, v in batch.items():
            parts.setdefault(k, []).append(torch.as_tensor(v)[:room])
        taken += room
        if taken >= cap:
            break
    if not parts:
        raise ValueError("the test data produced no rows")
    return {k: torch.cat(v) for k, v in parts.items()}


@dataclass
class Probe:
    """What one forward pass over the sampled rows gave.

    Attributes:
        rows: The sampled test rows (inputs and target) as the model was fed them: converted by
            :mod:`deepfuse.data.tensors` (uint8 images -> float32 NCHW in [0, 1], bool targets
            -> float32) and put in the model's layout; on the CPU.
        outputs: ``(N, C)`` probabilities, ``(N,)`` P(positive) for one sigmoid unit, or the
            predicted values for regression (numpy).
        y_true: ``(N,)`` targets (numpy), or None when the rows hold no target.
        features: ``(N, D)`` inputs of the last linear layer, or None without one.
    """

    rows: dict[str, torch.Tensor]
    outputs: np.ndarray
    y_true: np.ndarray | None
    features: np.ndarray | None


def _last_linear(model: nn.Module) -> nn.Module | None:
    last = None
    for module in model.modules():
        deepfuse_dense = type(module).__name__ == "Dense" and type(module).__module__.startswith(
            "deepfuse.layers"
        )
        if isinstance(module, nn.Linear) or deepfuse_dense:
            last = module
    return last


def probe(model: Any, data: Any, *, cap: int = MAX_ROWS, batch_size: int = 256) -> Probe:
    """Sample ``data`` and run ``model`` over it once (eval mode, no grad; modes restored)."""
    from deepfuse.data.memory import InMemoryLoader
    from deepfuse.models import feeding

    # once, as fit feeds them: THE array -> tensor rule (deepfuse.data.tensors) and the model's
    # layout, so the rows shown (images, feature maps) are what the model saw
    rows = feeding.to_tensors(model, sample_rows(data, cap=cap), None)
    loader = InMemoryLoader(rows, batch_size=batch_size, shuffle=False)
    model.setup(feeding.first_batch(loader), for_training=False)
    caught: list[torch.Tensor] = []
    head = _last_linear(model)

    def grab(_module: nn.Module, inputs: tuple[Any, ...]) -> None:
        caught.append(inputs[0].detach().float().reshape(inputs[0].shape[0], -1).cpu())

    handle = head.register_forward_pre_hook(grab) if head is not None else None
    modes = [(m, m.training) for m in model.modules()]
    outputs: list[torch.Tensor] = []
    targets: list[torch.Tensor] = []
    try:
        model.train(False)
        with torch.no_grad():
            for batch in loader:
                inputs, target = model.split_batch(batch)
                outputs.append(model.apply_output_activation(model(inputs)).float().cpu())
                if target is not None:
                    targets.append(target.cpu())
    finally:
        if handle is not None:
            handle.remove()
        for module, mode in modes:
            module.training = mode
    out = torch.cat(outputs).numpy()
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    y = torch.cat(targets).numpy().reshape(len(out), -1)[:, 0] if targets else None
    features = None
    if caught and sum(len(c) for c in caught) == len(out):
        features = torch.cat(caught).numpy()
    return Probe({k: v.cpu() for k, v in rows.items()}, out, y, features)
