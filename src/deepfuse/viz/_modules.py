"""Shared helpers of the model-inspecting plots: find layers, run a model quietly, shape inputs.

Layers are recognised by type, not imported: ``torch.nn.Conv1d/Conv2d/Linear`` and deepfuse's
own ``Conv1D/Conv2D/Dense`` (which are not subclasses of torch's), so ``import deepfuse.viz``
loads nothing but torch and ``_utils``. Inputs are converted by THE array -> tensor rule
(:mod:`deepfuse.data.tensors`, imported when a plot converts one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfuse._utils.errors import DataError, UserError, did_you_mean, format_message

_DEEPFUSE_CONV = {"Conv1D", "Conv2D"}  # deepfuse.layers.conv (Convolution1D/2D are aliases)
_DEEPFUSE_LINEAR = {"Dense"}  # deepfuse.layers.core


def _is_deepfuse(module: nn.Module, names: set[str]) -> bool:
    cls = type(module)
    return cls.__name__ in names and cls.__module__.startswith("deepfuse.layers")


def is_conv(module: nn.Module, *, rank: int | None = None) -> bool:
    """True for ``nn.Conv1d/Conv2d`` and deepfuse ``Conv1D/Conv2D`` (``rank``: 1 or 2 only)."""
    torch_types = {1: (nn.Conv1d,), 2: (nn.Conv2d,), None: (nn.Conv1d, nn.Conv2d)}[rank]
    names = {1: {"Conv1D"}, 2: {"Conv2D"}, None: _DEEPFUSE_CONV}[rank]
    return isinstance(module, torch_types) or _is_deepfuse(module, names)


def is_linear(module: nn.Module) -> bool:
    """True for ``nn.Linear`` and deepfuse ``Dense``."""
    return isinstance(module, nn.Linear) or _is_deepfuse(module, _DEEPFUSE_LINEAR)


def select_modules(
    model: nn.Module,
    names: Sequence[str] | str | None,
    default: Callable[[nn.Module], bool],
    *,
    what: str,
    argument: str,
) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` pairs: the named ones (in the order given), or every ``default`` match."""
    if not isinstance(model, nn.Module):
        raise UserError(
            format_message(
                "The model must be a torch.nn.Module.", expected="an nn.Module", got=type(model)
            )
        )
    modules = dict(model.named_modules())
    if names is None:
        found = [(n, m) for n, m in modules.items() if n and default(m)]
        if not found:
            raise DataError(
                f"The model {type(model).__name__} has no {what} layer. Pass {argument}= with "
                "module names from model.named_modules() to choose the layers yourself."
            )
        return found
    if isinstance(names, str):
        names = [names]
    out = []
    for name in names:
        if name not in modules or not name:
            candidates = [n for n, m in modules.items() if n and default(m)] or [
                n for n in modules if n
            ]
            raise UserError(
                f"The model has no module named {name!r} ({argument}=). Module names come from "
                f"model.named_modules(); the {what} layers are: "
                f"{', '.join(repr(c) for c in candidates[:12]) or '(none)'}."
                f"{did_you_mean(name, candidates)}"
            )
        out.append((name, modules[name]))
    return out


@contextlib.contextmanager
def inspecting(model: nn.Module) -> Iterator[None]:
    """Eval mode and no_grad for the block; every submodule's own mode is restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]  # per module: a mix of modes survives
    model.train(False)
    try:
        with torch.no_grad():
            yield
    finally:
        for module, mode in modes:
            module.training = mode


def model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def as_input(model: nn.Module, x: Any) -> torch.Tensor:
    """``x`` as the model's ``forward`` takes it, on its device: what ``predict`` would feed it.

    Values follow THE array -> tensor rule (:mod:`deepfuse.data.tensors`): uint8 images become
    float32 in [0, 1], bools 0/1, ``(N, H, W, C)`` image batches NCHW. A deepfuse model that was
    fitted on channels-last or channel-less images remembers it (``input_layout``) and the same
    layout is applied here.

    Example:
        >>> import numpy as np
        >>> t = as_input(torch.nn.Flatten(), np.full((2, 8, 8, 3), 255, np.uint8))
        >>> tuple(t.shape), t.dtype, float(t.max())
        ((2, 3, 8, 8), torch.float32, 1.0)
    """
    # imported here: the rule needs pyarrow, which `import deepfuse.viz` does not load
    from deepfuse.data.tensors import to_tensor

    try:
        t = to_tensor(x.detach() if isinstance(x, torch.Tensor) else x)
    except UserError:
        raise  # the rule's own message (strings, complex numbers, ...)
    except (TypeError, ValueError) as exc:  # ragged lists, objects numpy cannot hold as numbers
        raise DataError(
            format_message(
                "Cannot turn the input into a tensor.",
                expected="a torch tensor or a numeric array",
                got=type(x).__name__,
            )
        ) from exc
    layout = getattr(model, "input_layout", None)
    if layout is not None:  # a deepfuse Model: deepfuse.models is loaded already
        from deepfuse.models.layout import to_model_layout

        t = to_model_layout(t, layout)
    return t.to(model_device(model))


def to_numpy(x: Any, *, name: str) -> np.ndarray:
    """A tensor (any device), array or nested list as a numpy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise DataError(f"'{name}' must be an array or a tensor; got {type(x).__name__}.") from exc
