"""The facts a run records in ``metrics.json`` beside its scores, for ``report.html`` and ``info``.

:func:`run_facts` gives the keys ``eval_time_s``, ``started_at``, ``finished_at``, ``data``
(:func:`data_summary`: class counts per split, or target statistics) and ``environment``
(:func:`environment`: versions, machine, device). Importing this module imports no torch: the
two functions that look at tensors or at torch import it when called (only a training process
calls them, and it has torch loaded already).

Example:
    >>> facts = run_facts(None, None, utc_now(), 0.12345)
    >>> sorted(facts), facts["eval_time_s"]
    (['data', 'environment', 'eval_time_s', 'finished_at', 'started_at'], 0.123)
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["data_summary", "environment", "run_facts", "utc_now"]


def utc_now() -> str:
    """The time now as ``YYYY-MM-DD HH:MM:SS UTC`` (the format of ``started_at``/``finished_at``).

    Example:
        >>> utc_now().endswith(" UTC")
        True
    """
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def run_facts(prep: Any, model: Any, started_at: str, eval_time: float) -> dict[str, Any]:
    """What ``metrics.json`` adds for report.html: dates, evaluation time, data facts, environment.

    Args:
        prep: The prepared data (``train``/``val``/``test`` splits, ``target``, ``task``,
            ``classes``), or None when there is none to describe.
        model: The trained model (its device is recorded), or None.
        started_at: When training started (:func:`utc_now`).
        eval_time: Seconds spent evaluating the test split.
    """
    return {
        "eval_time_s": round(eval_time, 3),
        "started_at": started_at,
        "finished_at": utc_now(),
        "data": data_summary(prep) if prep is not None else {},
        "environment": environment(model),
    }


def data_summary(prep: Any) -> dict[str, Any]:
    """Facts about the data that only the training process sees, for ``metrics.json["data"]``:
    class counts per split (classification) or target statistics (regression).

    Splits that are lazy streams (the streaming route) are left out.

    Example:
        >>> import torch
        >>> from types import SimpleNamespace as NS
        >>> prep = NS(train={"y": torch.tensor([0, 1, 1])}, val=None, test={"y": torch.tensor([1])},
        ...           target="y", task="binary", classes=["a", "b"])
        >>> data_summary(prep)["class_balance"]
        {'train': {'a': 1, 'b': 2}, 'test': {'a': 0, 'b': 1}}
    """
    import torch

    out: dict[str, Any] = {}
    splits = {"train": prep.train, "validation": prep.val, "test": prep.test}
    for split, tensors in splits.items():
        if not isinstance(tensors, Mapping) or prep.target not in tensors:
            continue
        y = torch.as_tensor(tensors[prep.target]).reshape(-1)
        if prep.task in ("binary", "multiclass") and prep.classes:
            counts = torch.bincount(y.long(), minlength=len(prep.classes)).tolist()
            out.setdefault("class_balance", {})[split] = {
                str(c): int(n) for c, n in zip(prep.classes, counts)
            }
        elif len(y):
            v = y.double()
            out.setdefault("target", {})[split] = {
                "mean": float(v.mean()),
                "std": float(v.std(unbiased=False)),
                "min": float(v.min()),
                "max": float(v.max()),
            }
    return out


def environment(model: Any = None) -> dict[str, Any]:
    """Versions, machine and device facts (recorded in ``metrics.json`` at training time).

    Example:
        >>> env = environment()
        >>> env["device"], {"python", "torch", "numpy", "deepfuse", "cpu_count"} <= set(env)
        ('cpu', True)
    """
    import numpy
    import torch

    import deepfuse

    device = "cpu"
    if model is not None:
        device = str(next((p.device for p in model.parameters()), torch.device("cpu")))
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "deepfuse": getattr(deepfuse, "__version__", None) or _dist_version("deepfuse"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "cuda": torch.cuda.is_available(),
        "executable": sys.executable,
    }
    try:
        import matplotlib

        out["matplotlib"] = matplotlib.__version__
    except ImportError:
        pass
    return out


def _dist_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
