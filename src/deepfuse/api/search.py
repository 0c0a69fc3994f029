"""The small automatic search of a no-config run (``trainer.search``).

A config that leaves the model to deepfuse gets two to four zoo candidates (architectures and
learning rates suited to its kind of data), each trained briefly on the training rows and scored
on the validation rows, within a share of the run's time budget. The best candidate becomes the
run's model section, trained to convergence by the normal path (checkpoints, resume); the
leaderboard is written to ``search.json`` and shown in ``metrics.json`` and the report.

The search never sees the test rows: candidates are compared on validation only.

Example:
    >>> [c.name for c in candidates("tabular")]
    ['tabular lr=0.001', 'tabular lr=0.003', 'tabular-wide-bn lr=0.001']
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deepfuse.config import thaw

__all__ = ["SEARCH_SHARE", "Candidate", "candidates", "run_search"]

#: Share of the run's time budget the search may use (the rest trains the winner).
SEARCH_SHARE = 0.4
#: Epoch cap of one candidate's trial (early stopping usually ends it sooner).
TRIAL_EPOCHS = 15
#: Patience of a trial's early stopping.
TRIAL_PATIENCE = 2


@dataclass(frozen=True)
class Candidate:
    """One entry of the search: a model section and its optimizer."""

    name: str
    model: dict[str, Any]
    optimizer: dict[str, Any] = field(default_factory=dict)


def _adam(lr: float) -> dict[str, Any]:
    return {"name": "adam", "lr": lr}


def candidates(model_type: str, recipe: Mapping[str, Any] | None = None) -> list[Candidate]:
    """The candidates for a data kind's default family ``model_type``.

    Learning rates straddle the family's recipe (or Adam 1e-3); tables also try a wider network
    with batch norm. Families without a list get a learning-rate pair.
    """
    base = dict((recipe or {}).get("optimizer") or _adam(1e-3))
    lr = float(base.get("lr", 1e-3))
    scaled = {**base, "lr": round(lr * 3, 6)}
    if model_type == "tabular":
        return [
            Candidate(f"tabular lr={lr:g}", {"type": "tabular"}, base),
            Candidate(f"tabular lr={scaled['lr']:g}", {"type": "tabular"}, scaled),
            Candidate(
                f"tabular-wide-bn lr={lr:g}",
                {"type": "tabular", "hidden": [512, 256], "dropout": 0.3, "batch_norm": True},
                base,
            ),
        ]
    lower = {**base, "lr": round(lr / 3, 6)}
    return [
        Candidate(f"{model_type} lr={lr:g}", {"type": model_type}, base),
        Candidate(f"{model_type} lr={scaled['lr']:g}", {"type": model_type}, scaled),
        Candidate(f"{model_type} lr={lower['lr']:g}", {"type": model_type}, lower),
    ][: 2 if model_type in ("bag", "text", "cnn") else 3]


def _score(history: Mapping[str, list[float]], monitor: str) -> float:
    """The best value of ``monitor`` (higher is better after the sign flip for losses)."""
    values = [v for v in history.get(monitor, []) if isinstance(v, float) and math.isfinite(v)]
    if not values:
        return -math.inf
    return -min(values) if _lower_is_better(monitor) else max(values)


def run_search(
    resolved: Mapping[str, Any],
    prep: Any,
    *,
    budget_s: float | None,
    verbose: int = 1,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train each candidate briefly and pick the best on validation.

    Args:
        resolved: The run's resolved config (``model`` unset, ``trainer.search`` true).
        prep: The prepared data (:class:`deepfuse.data.routes.Prepared`) with validation rows.
        budget_s: The run's time budget (``None``: no limit; trials are then capped by epochs).
        verbose: Print a line per candidate.

    Returns:
        ``(resolved, search)``: the config with the winner's ``model`` and ``optimizer`` (search
        off, so ``--resume`` trains it directly) and the leaderboard
        ``{"monitor", "candidates": [{"name", "model", "optimizer", "score", "epochs",
        "seconds"}], "best", "seconds"}`` (sorted best first).
    """
    from deepfuse.api.training import config_callbacks, fit_options, run_config
    from deepfuse.models.from_config import build_compiled_model, default_model_type
    from deepfuse.models.zoo import RECIPES

    family = default_model_type(prep.kind, prep.features)
    pool = candidates(family, RECIPES.get(family))
    share = None if budget_s is None else SEARCH_SHARE * budget_s / len(pool)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    monitor = "val_loss"
    for cand in pool:
        trial = thaw(resolved)
        trial["model"] = dict(cand.model)
        trainer = trial["trainer"]
        trainer.update(optimizer=dict(cand.optimizer), search=False, time_budget=share)
        cfg = run_config(trial, prep)
        t = thaw(cfg["trainer"])
        t["epochs"] = min(int(t["epochs"]), TRIAL_EPOCHS)
        stop = t.get("early_stopping") or {"monitor": "val_loss"}
        patience = min(int(stop.get("patience", TRIAL_PATIENCE)), TRIAL_PATIENCE)
        t["early_stopping"] = {**stop, "patience": patience}
        monitor = t["early_stopping"]["monitor"]
        model = build_compiled_model({**cfg, "trainer": t}, prep, name=cand.name)
        start = time.perf_counter()
        history = model.fit(
            prep.train,
            validation_data=prep.val,
            callbacks=config_callbacks(t, verbose=False),
            **{**fit_options(t, model), "verbose": 0},
        ).history
        row = {
            "name": cand.name,
            "model": dict(cand.model),
            "optimizer": dict(cand.optimizer),
            "score": _score(history, monitor),
            "best": _best(history, monitor),
            "epochs": len(history.get("loss", [])),
            "seconds": round(time.perf_counter() - start, 2),
        }
        rows.append(row)
        if verbose:
            best = "none" if row["best"] is None else f"{row['best']:.4g}"
            print(
                f"search: {cand.name}: best {monitor}={best} "
                f"({row['epochs']} epochs, {row['seconds']:.1f} s)",
                flush=True,
            )
    rows.sort(key=lambda r: r["score"], reverse=True)
    winner = rows[0]
    out = thaw(resolved)
    out["model"] = dict(winner["model"])
    out["trainer"].update(optimizer=dict(winner["optimizer"]), search=False)
    if budget_s is not None:  # the winner trains within what the search left
        spent = time.perf_counter() - started
        out["trainer"]["time_budget"] = round(max(budget_s - spent, 0.25 * budget_s), 1)
    if verbose:
        print(f"search: kept {winner['name']} (best {monitor} on validation)", flush=True)
    for r in rows:
        r.pop("score")
    search = {
        "monitor": monitor,
        "candidates": rows,
        "best": winner["name"],
        "seconds": round(time.perf_counter() - started, 2),
    }
    return out, search


def _best(history: Mapping[str, list[float]], monitor: str) -> float | None:
    """The best monitored value as logged (``None`` when no finite value was logged)."""
    score = _score(history, monitor)
    if not math.isfinite(score):
        return None
    return -score if _lower_is_better(monitor) else score


def _lower_is_better(monitor: str) -> bool:
    """The rule EarlyStopping and the plateau schedule use (``resolve_mode``)."""
    from deepfuse.training.schedules import resolve_mode

    return resolve_mode(monitor) == "min"
