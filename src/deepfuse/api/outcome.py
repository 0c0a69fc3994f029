"""What a finished fit says, for ``metrics.json`` and the console: why training stopped, the
decision threshold of a binary run (chosen on its validation rows), and the headline metrics of
its full evaluation.

Example:
    >>> stop_reason([], {"loss": [0.5, 0.4]}, max_epochs=2)["message"]
    'ran all 2 epochs (trainer.epochs=2)'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepfuse.data.routes import Prepared

__all__ = ["HEADLINE", "decision_threshold", "headline_metrics", "stop_reason"]


#: Evaluation metrics copied into metrics.json's "test" (the decision threshold applied).
HEADLINE = ("accuracy", "f1_macro", "recall_macro", "threshold")


def headline_metrics(evaluation: Any) -> dict[str, float]:
    """The classification headline of the full evaluation: accuracy at the run's decision
    threshold, macro-F1, balanced accuracy (= macro recall); nothing for regression."""
    found = {k: float(evaluation.metrics[k]) for k in HEADLINE if k in evaluation.metrics}
    if "recall_macro" in found:
        found["balanced_accuracy"] = found.pop("recall_macro")
    if "f1_macro" in found:
        found["macro_f1"] = found.pop("f1_macro")
    return found


def decision_threshold(model: Any, prep: Prepared, trainer: Mapping[str, Any]) -> float | None:
    """A binary run's threshold: the config's number, or (``auto``) the best cut on the
    validation rows for the run's selection metric (macro-F1 under imbalance, else accuracy)."""
    from deepfuse.evaluation.threshold import choose_threshold

    setting = trainer.get("threshold")
    if setting != "auto":
        return float(setting)
    if prep.val is None:
        return None
    stop = trainer.get("early_stopping") or {}
    objective = "macro_f1" if stop.get("monitor") == "val_f1" else "accuracy"
    return choose_threshold(model, prep.val, objective=objective, batch_size=1024)


def stop_reason(
    callbacks: list[Any], history: Mapping[str, list[float]], max_epochs: int
) -> dict[str, Any]:
    """Why training ended, for metrics.json and the CLI: ``{"reason", "epochs", "message"}``
    (``reason``: ``early_stopping``, ``time_budget``, ``nan`` or ``max_epochs``)."""
    from deepfuse.training import callbacks as cb

    epochs = max((len(v) for v in history.values()), default=0)
    out: dict[str, Any] = {"reason": "max_epochs", "epochs": epochs, "max_epochs": max_epochs}
    for c in callbacks:
        if isinstance(c, cb.EarlyStopping) and c.best_epoch is not None:
            out["best_epoch"] = c.best_epoch + 1
            out["monitor"] = c.monitor
        if isinstance(c, cb.EarlyStopping) and c.stopped_epoch is not None:
            out["reason"] = "early_stopping"
        if isinstance(c, cb.TimeBudget) and c.stopped_at_epoch is not None:
            out["reason"] = "time_budget"
            out["time_budget_s"] = c.seconds
        if isinstance(c, cb.TerminateOnNaN) and getattr(c, "stopped", False):
            out["reason"] = "nan"
    out["message"] = {
        "early_stopping": f"stopped early after {epochs} epochs: {out.get('monitor')} stopped "
        f"improving (best epoch {out.get('best_epoch')}, weights restored)",
        "time_budget": f"stopped after {epochs} epochs: the time budget of "
        f"{out.get('time_budget_s', 0):g} s (trainer.time_budget) was spent"
        + (f"; best epoch {out['best_epoch']} restored" if "best_epoch" in out else ""),
        "nan": f"stopped after {epochs} epochs: the loss became NaN",
        "max_epochs": f"ran all {epochs} epochs (trainer.epochs={max_epochs})"
        + (f"; best epoch {out['best_epoch']} restored" if "best_epoch" in out else ""),
    }[out["reason"]]
    return out
