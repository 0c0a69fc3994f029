"""Robustness and explanations of a finished run: ``attack`` (robust-accuracy curve) and
``explain`` (permutation importance of raw columns, or saliency / integrated gradients).

Both read only the run directory (and an optional labelled data file) and write their result
beside the run's other files, atomically: ``RUN/robustness.json``, ``RUN/importance.json`` or
``RUN/attributions.safetensors``.

Example:
    >>> from deepfuse.api.explain import attack, explain
    >>> attack("runs/mnist_cnn-20250101-120000", [0, 0.1])["curve"]       # doctest: +SKIP
    {'0.0': 0.9927, '0.1': 0.61}
    >>> explain("runs/adult-20250101-120000", "test.csv")["ranking"][0]   # doctest: +SKIP
    {'column': 'capital_gain', 'mean': 0.041, ...}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch

from deepfuse._utils.errors import UserError, invalid_choice
from deepfuse._utils.io import atomic_write, atomic_write_json
from deepfuse.api.use import input_tensors, load_run
from deepfuse.data.routes import read_input, test_feed_of

__all__ = ["attack", "explain", "labelled_rows"]

EXPLAIN_METHODS = ("permutation", "saliency", "ig")


def labelled_rows(
    run_dir: str | os.PathLike, data: str | os.PathLike | None
) -> tuple[Any, Any, dict]:
    """``(run path, model, tensors)``: the run's own test set, or ``data`` preprocessed."""
    run, cfg, model = load_run(run_dir)
    if data is None:
        tensors = test_feed_of(cfg, preprocessor=model.preprocessor)
        if not isinstance(tensors, dict):
            raise UserError(
                "This run's test set is streamed; pass a labelled file with --data to attack it."
            )
    else:
        tensors = input_tensors(cfg, model, data, need_target=True)
    model.setup({k: v[:2] for k, v in tensors.items()}, for_training=False)
    return run, model, tensors


def _limit(tensors: dict[str, torch.Tensor], limit: int | None) -> dict[str, torch.Tensor]:
    if limit is None:
        return tensors
    if not isinstance(limit, int) or limit < 1:
        raise UserError(f"'limit' must be a positive number of rows; got {limit!r}.")
    return {k: v[:limit] for k, v in tensors.items()}


def attack(
    run_dir: str | os.PathLike,
    eps: Sequence[float],
    *,
    method: str = "fgsm",
    data: str | os.PathLike | None = None,
    limit: int | None = None,
    steps: int = 10,
) -> dict[str, Any]:
    """Robust accuracy of a run's model against ``method`` for each radius in ``eps``.

    Args:
        run_dir: A run written by :func:`deepfuse.api.train` (a model with one float input).
        eps: L-inf radii, e.g. ``[0, 0.05, 0.1, 0.2, 0.3]`` (0 = clean accuracy).
        method: ``"fgsm"`` or ``"pgd"``.
        data: A labelled file instead of the run's test set.
        limit: Attack only the first ``limit`` rows.
        steps: PGD steps.

    Returns:
        ``{"attack", "eps", "accuracy", "rows", "curve": {str(eps): accuracy}}``, also written to
        ``RUN/robustness.json``.
    """
    from deepfuse.adversarial import robust_accuracy

    run, model, tensors = labelled_rows(run_dir, data)
    tensors = _limit(tensors, limit)
    options = {"steps": steps} if method == "pgd" else {}
    curve = robust_accuracy(model, tensors, list(eps), method, **options)
    result = {
        "attack": method,
        **({"steps": steps} if method == "pgd" else {}),
        "rows": len(tensors[model.target_key]),
        "eps": list(curve),
        "accuracy": list(curve.values()),
        "curve": {str(k): v for k, v in curve.items()},
    }
    atomic_write_json(run / "robustness.json", result)
    return result


def explain(
    run_dir: str | os.PathLike,
    data: str | os.PathLike | None = None,
    *,
    method: str = "permutation",
    metric: str = "accuracy",
    n_repeats: int = 5,
    seed: int = 0,
    limit: int | None = None,
) -> dict[str, Any]:
    """Explain a run's model.

    ``permutation``: rank the raw columns of the labelled table ``data`` (writes
    ``RUN/importance.json``). ``saliency`` / ``ig``: attributions for the first ``limit`` rows
    (default 16) of ``data`` or the test set (writes ``RUN/attributions.safetensors`` with
    ``inputs``, ``attributions`` and ``targets``).

    Returns:
        The JSON-able summary that was written or described.
    """
    if method not in EXPLAIN_METHODS:
        raise invalid_choice("explain method", method, EXPLAIN_METHODS, error=UserError)
    if method == "permutation":
        from deepfuse.interpret import permutation_importance

        if data is None:
            raise UserError("Permutation importance needs a labelled table: pass --data FILE.")
        run, cfg, model = load_run(run_dir)
        table = read_input(str(data), **{k: cfg["data"].get(k) for k in ("encoding", "delimiter")})
        if limit is not None:
            table = table.slice(0, limit)
        result = permutation_importance(
            model, table, model.target_key, metric=metric, n_repeats=n_repeats, seed=seed
        ).to_dict()
        atomic_write_json(run / "importance.json", result)
        return result
    return _gradient_maps(run_dir, data, method, 16 if limit is None else limit)


def _gradient_maps(run_dir: Any, data: Any, method: str, limit: int) -> dict[str, Any]:
    from safetensors.torch import save_file

    from deepfuse.interpret import integrated_gradients, saliency

    run, model, tensors = labelled_rows(run_dir, data)
    tensors = _limit(tensors, limit)
    x, _ = model.split_batch(tensors)
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise UserError(
            f"--method {method} needs a model with one floating-point input (images); use "
            "--method permutation for tables."
        )
    from deepfuse.interpret.gradients import resolve_target

    with torch.no_grad():
        model.train(False)
        targets = resolve_target(model, x, None)
    maps = (
        saliency(model, x, targets)
        if method == "saliency"
        else (integrated_gradients(model, x, target=targets))
    )
    out = {"inputs": x.contiguous(), "attributions": maps.contiguous(), "targets": targets}
    path = run / "attributions.safetensors"
    atomic_write(path, lambda tmp: save_file(out, tmp))
    return {"method": method, "rows": len(x), "file": str(path), "predicted": targets.tolist()}
