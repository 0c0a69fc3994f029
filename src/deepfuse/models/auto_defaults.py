"""``auto`` trainer settings: what a config that does not say gets, chosen from the data.

A config's ``trainer`` keys that are left out (or set to ``auto``) are resolved here, once, when
a run starts, and the run's ``config.yaml`` records the concrete values (so ``--resume``,
``evaluate`` and a rerun see exactly what was used):

* ``optimizer`` - the model family's recipe (:data:`deepfuse.models.zoo.RECIPES`), else Adam 1e-3;
* ``batch_size`` - the recipe's, else from the number of training rows (32 ... 256);
* ``epochs`` - an upper bound from the data size (about :data:`TARGET_STEPS` optimizer steps,
  10 to 200 epochs): with early stopping a run ends when it stops improving, not at the bound;
* ``early_stopping`` - on the validation rows (when there are any): validation macro-F1 for
  classifiers, ``val_loss`` for regression; the best epoch's weights are restored (only with
  ``auto`` epochs: a config that fixes ``epochs`` trains exactly that many);
* ``schedule`` - ``reduce_on_plateau`` on the same key (halve the rate after a few flat epochs;
  also only with ``auto`` epochs);
* ``class_weights`` of the loss - "balanced" class weights when the largest class has at least
  :data:`IMBALANCE_RATIO` times the rows of the smallest (binary: ``pos_weight``);
* ``threshold`` - imbalanced binary tasks: the decision threshold is chosen on the validation
  rows after training (see :mod:`deepfuse.evaluation.threshold`).

``time_budget`` and ``search`` depend on whether the run is a no-config run, which only the raw
config tells: :func:`resolve_run_kind` resolves them before the data is read.

Example:
    >>> from types import SimpleNamespace as NS
    >>> import torch
    >>> data = NS(task="multiclass", target="y", rows=None, val={"y": torch.zeros(10)},
    ...           train={"y": torch.tensor([0] * 95 + [1] * 3 + [2] * 2)}, classes=[0, 1, 2])
    >>> t = resolve_auto({"epochs": "auto", "batch_size": "auto", "early_stopping": "auto"}, data,
    ...                  "tabular")
    >>> t["batch_size"], t["epochs"], t["early_stopping"]["monitor"]
    (32, 200, 'val_f1')
    >>> imbalance_ratio([95, 3, 2])
    47.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "AUTO",
    "IMBALANCE_RATIO",
    "NO_CONFIG_TIME_BUDGET_S",
    "TARGET_STEPS",
    "auto_batch_size",
    "auto_epochs",
    "balanced_weights",
    "class_counts",
    "imbalance_facts",
    "imbalance_ratio",
    "is_no_config",
    "prepare_batch_size",
    "resolve_auto",
    "resolve_run_kind",
]

AUTO = "auto"
#: Seconds of training a no-config run gets (``trainer.time_budget: auto``); others: no limit.
NO_CONFIG_TIME_BUDGET_S = 300
#: Optimizer steps the automatic epoch bound aims at (early stopping usually ends sooner).
TARGET_STEPS = 30_000
#: Rows per batch of a streamed split under ``batch_size: auto`` (the route batches it).
STREAM_BATCH_SIZE = 256
#: Largest / smallest class count from which the classes count as imbalanced.
IMBALANCE_RATIO = 5.0
#: Trainer keys that leave a config "no-config" (they change no modelling choice).
_NEUTRAL_TRAINER_KEYS = frozenset(
    {"seed", "verbose", "baselines", "time_budget", "checkpoint_every", "keep_checkpoints"}
)
#: Macro-F1 as a compiled metric: its epoch-log key is ``f1`` / ``val_f1``.
MACRO_F1 = {"name": "f1", "average": "macro"}


def is_no_config(cfg: Mapping[str, Any]) -> bool:
    """Whether a raw config leaves every modelling choice to deepfuse: no ``model`` section and
    no ``trainer`` keys other than seed / verbose / baselines / time_budget / checkpoint_every /
    keep_checkpoints (they change no modelling choice).

    Example:
        >>> is_no_config({"data": {"train": "t.csv", "target": "y"}})
        True
        >>> is_no_config({"data": {}, "trainer": {"epochs": 3}})
        False
    """
    if cfg.get("model") is not None:
        return False
    given = {k for k, v in (cfg.get("trainer") or {}).items() if v != AUTO}
    return given <= _NEUTRAL_TRAINER_KEYS


def resolve_run_kind(trainer: dict[str, Any], *, no_config: bool) -> dict[str, Any]:
    """``trainer`` with ``time_budget`` and ``search`` resolved (they follow from whether the
    run is a no-config run, not from the data); other keys are kept.

    Example:
        >>> resolve_run_kind({"time_budget": "auto", "search": "auto"}, no_config=True)
        {'time_budget': 300, 'search': True}
        >>> resolve_run_kind({"time_budget": "auto", "search": "auto"}, no_config=False)
        {'time_budget': None, 'search': False}
    """
    out = dict(trainer)
    if out.get("time_budget") == AUTO:
        out["time_budget"] = NO_CONFIG_TIME_BUDGET_S if no_config else None
    if out.get("search") == AUTO:
        out["search"] = no_config
    return out


def prepare_batch_size(trainer: Mapping[str, Any]) -> int:
    """The batch size a data route batches a streamed split with, before the data is read.

    Example:
        >>> prepare_batch_size({"batch_size": "auto"}), prepare_batch_size({"batch_size": 64})
        (256, 64)
    """
    size = trainer.get("batch_size")
    return STREAM_BATCH_SIZE if size in (None, AUTO) else int(size)


def class_counts(data: Any) -> np.ndarray | None:
    """Training rows per class index, or ``None`` (regression, or streamed rows not held)."""
    if data.task not in ("binary", "multiclass") or not isinstance(data.train, Mapping):
        return None
    target = data.train.get(data.target)
    if target is None:
        return None
    labels = np.asarray(target.detach().cpu() if hasattr(target, "detach") else target)
    labels = labels.reshape(len(labels), -1)
    labels = labels.argmax(1) if labels.shape[1] > 1 else labels[:, 0].round()
    width = len(data.classes) if data.classes else int(labels.max()) + 1
    return np.bincount(labels.astype(np.int64), minlength=width)


def imbalance_ratio(counts: Any) -> float:
    """Largest over smallest class count among the classes present (1.0 when balanced)."""
    present = [int(c) for c in counts if c > 0]
    return max(present) / min(present) if present else 1.0


def imbalance_facts(data: Any, trainer: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the run saw of its class balance and what it did about it (metrics.json
    ``imbalance``, printed by the CLI), or ``None`` for regression / streamed rows.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> import torch
        >>> data = NS(task="binary", target="y", train={"y": torch.tensor([0] * 9 + [1])},
        ...           classes=["no", "yes"])
        >>> imbalance_facts(data, {"loss": {"name": "binary_cross_entropy", "pos_weight": 9.0},
        ...                        "early_stopping": {"monitor": "val_f1"}})["handled"]
        ['class-weighted loss', 'model selection by validation macro-F1']
    """
    counts = class_counts(data)
    if counts is None:
        return None
    ratio = imbalance_ratio(counts)
    largest, smallest = (
        int(np.argmax(counts)),
        int(np.argmin(np.where(counts > 0, counts, 1 << 62))),
    )
    labels = data.classes or list(range(len(counts)))
    loss = trainer.get("loss")
    handled = []
    if isinstance(loss, Mapping) and (loss.get("class_weights") or loss.get("pos_weight")):
        handled.append("class-weighted loss")
    if trainer.get("class_weight"):
        handled.append("class_weight")
    if (trainer.get("early_stopping") or {}).get("monitor") == "val_f1":
        handled.append("model selection by validation macro-F1")
    if trainer.get("threshold") not in (None, False):
        handled.append("decision threshold chosen on validation")
    return {
        "ratio": round(ratio, 2),
        "imbalanced": ratio >= IMBALANCE_RATIO,
        "largest": {"label": labels[largest], "rows": int(counts[largest])},
        "smallest": {"label": labels[smallest], "rows": int(counts[smallest])},
        "classes_without_rows": [labels[i] for i in np.flatnonzero(counts == 0)],
        "handled": handled,
    }


def balanced_weights(counts: Any) -> list[float]:
    """scikit-learn's ``class_weight="balanced"``: ``rows / (classes * count)`` per class
    (a class without training rows gets 1.0), rounded for a readable config.yaml.

    Example:
        >>> balanced_weights([90, 10])
        [0.5556, 5.0]
    """
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    total, k = counts.sum(), int(present.sum())
    weights = np.where(present, total / (k * np.maximum(counts, 1)), 1.0)
    return [round(float(w), 4) for w in weights]


def _train_rows(data: Any) -> int:
    if getattr(data, "rows", None):
        return int(data.rows["train"])
    if isinstance(data.train, Mapping) and data.train:
        return len(next(iter(data.train.values())))
    return 0


def auto_batch_size(rows: int) -> int:
    """Rows per batch from the training rows: small sets take small batches (more updates).

    Example:
        >>> [auto_batch_size(n) for n in (500, 10_000, 60_000, 1_000_000)]
        [32, 64, 128, 256]
    """
    if rows < 5_000:
        return 32
    if rows < 20_000:
        return 64
    if rows < 200_000:
        return 128
    return 256


def auto_epochs(rows: int, batch_size: int) -> int:
    """An epoch bound giving about :data:`TARGET_STEPS` steps, between 10 and 200 epochs.

    Example:
        >>> auto_epochs(500, 32), auto_epochs(60_000, 128), auto_epochs(5_000_000, 256)
        (200, 64, 10)
    """
    steps = max(1, math.ceil(rows / batch_size))
    return int(min(200, max(10, math.ceil(TARGET_STEPS / steps))))


def _patience(rows: int) -> int:
    """Epochs without improvement before stopping: small sets are noisier, epochs cheaper."""
    return 10 if rows < 5_000 else 5 if rows < 100_000 else 3


def resolve_auto(
    trainer: Mapping[str, Any],
    data: Any,
    model_type: str,
    recipe: Mapping[str, Any] | None = None,
    *,
    loss_defaulted: bool = True,
) -> dict[str, Any]:
    """``trainer`` with every ``auto`` value replaced by the choice for ``data``.

    Args:
        trainer: The trainer section (values may be ``"auto"``).
        data: A :class:`~deepfuse.data.routes.Prepared` (or duck-typed: ``task``, ``train``,
            ``val``, ``target``, ``classes``, ``rows``).
        model_type: The model's zoo name (or ``sequential``).
        recipe: The family's training recipe (``optimizer``, ``batch_size``, ``max_epochs``,
            ``patience``), or ``None``.
        loss_defaulted: The loss is the task's default (not named by the config): imbalance
            weights may go into it.

    Returns:
        A new dict; keys that were not ``auto`` are unchanged.
    """
    out = dict(trainer)
    recipe = dict(recipe or {})
    rows = _train_rows(data)
    counts = class_counts(data)
    imbalanced = counts is not None and imbalance_ratio(counts) >= IMBALANCE_RATIO
    if out.get("optimizer") == AUTO:
        out["optimizer"] = recipe.get("optimizer", {"name": "adam", "lr": 1e-3})
    if out.get("batch_size") == AUTO:
        streamed = getattr(data, "rows", None) is not None  # already batched by the route
        out["batch_size"] = (
            STREAM_BATCH_SIZE
            if streamed
            else int(recipe.get("batch_size") or auto_batch_size(rows))
        )
    # A config that fixes the number of epochs gets exactly that many: no automatic early
    # stopping or plateau schedule (as before 'auto' existed); 'auto' epochs are an upper bound.
    epochs_given = out.get("epochs") != AUTO
    if not epochs_given:
        bound = auto_epochs(rows, int(out["batch_size"]))
        out["epochs"] = int(min(bound, recipe.get("max_epochs", bound)))
    has_val = data.val is not None
    classify = data.task in ("binary", "multiclass")
    # Classifiers are selected by validation macro-F1, the score they are judged by: val_loss
    # favours the first, best-calibrated epochs and on a small validation split it rises with
    # overconfidence while the predictions still improve (digits: 0.93 -> 0.96-0.99 macro-F1).
    monitor = "val_f1" if classify else "val_loss"
    if out.get("early_stopping") == AUTO:
        out["early_stopping"] = (
            None
            if epochs_given
            else (
                {
                    "monitor": monitor,
                    "patience": int(recipe.get("patience", _patience(rows))),
                    "restore_best_weights": True,
                }
                if has_val
                else None
            )
        )
    if out.get("schedule") == AUTO:
        patience = out["early_stopping"]["patience"] if out.get("early_stopping") else 5
        out["schedule"] = (
            None
            if epochs_given
            else (
                {
                    "name": "reduce_on_plateau",
                    "monitor": monitor,
                    "factor": 0.5,
                    "patience": max(1, patience // 3),
                }
                if has_val
                else None
            )
        )
    watched = [out.get(k) for k in ("early_stopping", "schedule")]
    if any(isinstance(w, Mapping) and w.get("monitor") == "val_f1" for w in watched):
        # the monitored key must be logged
        metrics = list(out.get("metrics") or ["accuracy"])
        if not any(_is_macro_f1(m) for m in metrics):
            out["metrics"] = [*metrics, dict(MACRO_F1)]
    if out.get("class_weight") == "balanced" and counts is not None:
        out["class_weight"] = dict(enumerate(balanced_weights(counts)))  # Keras' fit() dict
    elif out.get("class_weight") in (AUTO, "balanced"):
        out["class_weight"] = None  # weighting goes into the loss (below): streams need no rows
        if imbalanced and loss_defaulted:
            out["loss"] = _weighted_loss(out["loss"], data.task, counts)
    if out.get("threshold") == AUTO:
        # imbalanced binary tasks only: on balanced classes a cut tuned on the validation rows
        # fits their noise (IMDB, 2,500 validation rows: the cut moved to 0.65 and test
        # accuracy fell from 0.897 at 0.5 to 0.884)
        out["threshold"] = AUTO if data.task == "binary" and has_val and imbalanced else None
    return out


def _is_macro_f1(metric: Any) -> bool:
    return (
        isinstance(metric, Mapping)
        and metric.get("name") in ("f1", "f1_score")
        and (metric.get("average") == "macro")
    )


def _weighted_loss(loss: Any, task: str, counts: np.ndarray) -> Any:
    """The task's default loss with balanced class weights (binary: ``pos_weight``); a loss the
    config named itself is left alone."""
    spec = {"name": loss} if isinstance(loss, str) else dict(loss)
    if spec.get("name") == "binary_cross_entropy" and task == "binary":
        neg, pos = (int(counts[0]), int(counts[1])) if len(counts) > 1 else (1, 1)
        spec.setdefault("pos_weight", round(neg / max(pos, 1), 4))
    elif spec.get("name") == "cross_entropy":
        spec.setdefault("class_weights", balanced_weights(counts))
    return spec
