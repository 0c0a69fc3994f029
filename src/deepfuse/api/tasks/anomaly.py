"""``task: anomaly``: learn what normal rows look like, flag the rows that do not.

.. code-block:: yaml

    task: {name: anomaly, normal: [0], target_fpr: 0.01}   # normal omitted: the majority class
    data: {train: fraud.csv, target: is_fraud}
    model: {type: autoencoder, hidden: [64, 16]}           # the default family; also vae

The label column chooses the normal rows and evaluates the detector; it is never a model input
(the model's inputs are the batch's feature keys, the target key is split off). How a run goes:

1. :meth:`Anomaly.adapt` - training rows: the normal ones (``contamination`` set: every row,
   unlabelled); validation and test rows get a 0/1 target (1 = anomaly). Streamed tables are
   filtered on the fly (:mod:`.anomaly_data`). A table's preprocessing (scaling, category
   codes) is the data route's, fitted on every training row with their labels unused.
2. The model (``autoencoder`` by default) minimises its own reconstruction loss; early stopping
   watches ``val_loss`` on the normal validation rows only.
3. :meth:`Anomaly.after_fit` - the threshold: the score that flags ``target_fpr`` of the normal
   validation rows, or (``contamination``) the ``1 - contamination`` quantile of the training
   rows' scores. It is saved in ``model.json`` (``anomaly_threshold``).
4. :meth:`Anomaly.evaluate` - ROC-AUC, PR-AUC, precision / recall / F1 / FPR at the threshold on
   the test rows (``metrics.json["test"]``), histograms and curves in ``evaluation.json``.

``deepfuse predict`` writes ``score`` and ``anomaly`` (score >= threshold) per input row.

Example:
    >>> from deepfuse.api.tasks import task_for
    >>> task = task_for({"task": {"name": "anomaly", "normal": [0], "target_fpr": 0.05}})
    >>> task.name, task.options()
    ('anomaly', {'normal': [0], 'target_fpr': 0.05, 'contamination': None})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse._utils.io import atomic_write_json
from deepfuse.api.tasks.anomaly_data import (
    IsNormal,
    Relabelled,
    anomaly_flags,
    class_counts,
    normal_indices,
    relabel_tensors,
    select_rows,
)
from deepfuse.api.tasks.base import Task, register_task
from deepfuse.data.routes import Prepared
from deepfuse.run import EVALUATION_FILE, RunReader, evaluation_file

__all__ = ["RECIPE", "Anomaly"]

#: Training recipe of ``auto`` keys: Adam 1e-3, at most 30 epochs, stop after 5 without a
#: better normal-row ``val_loss``. Measured with the default conv autoencoder on Fashion-MNIST,
#: T-shirt/top normal vs the other nine classes (6,000 training images, 10,000 test images):
#: test ROC-AUC 0.916, PR-AUC 0.988; scikit-learn's IsolationForest(random_state=0) on the same
#: normal images (flattened pixels): 0.912, 0.988.
RECIPE: dict[str, Any] = {"optimizer": {"name": "adam", "lr": 1e-3}, "max_epochs": 30,
                          "patience": 5}  # fmt: skip


@register_task
class Anomaly(Task):
    """Anomaly detection by reconstruction (see the module).

    Args:
        normal: Label values of the normal rows (class indices for the built-in image sets);
            ``None``: the majority class of the training rows.
        target_fpr: Share of normal validation rows the threshold may flag.
        contamination: ``None``: train on normal rows only. A number in (0, 0.5) or ``"auto"``:
            train on every row, unlabelled, and flag that share of the training rows (``auto``:
            the anomaly share of the validation rows, else ``target_fpr``).
    """

    name = "anomaly"

    def __init__(
        self,
        normal: list[Any] | None = None,
        target_fpr: float = 0.01,
        contamination: float | str | None = None,
    ) -> None:
        if normal is not None:  # one label given bare, or a (frozen config's) tuple
            normal = list(normal) if isinstance(normal, list | tuple) else [normal]
        if normal is not None and not normal:
            raise ConfigError("'task.normal' is empty. Name the normal labels, or leave it out.")
        if (
            isinstance(target_fpr, bool)
            or not isinstance(target_fpr, int | float)
            or not (0 <= target_fpr < 1)
        ):
            raise ConfigError(
                f"'task.target_fpr' must be a number in [0, 1) (e.g. 0.01: flag 1% of the "
                f"normal rows); got {target_fpr!r}."
            )
        if (
            contamination is not None
            and contamination != "auto"
            and (
                isinstance(contamination, bool)
                or not isinstance(contamination, int | float)
                or not 0 < contamination < 0.5
            )
        ):
            raise ConfigError(
                "'task.contamination' must be null (train on normal rows), 'auto' or a share "
                f"of anomalies in (0, 0.5); got {contamination!r}."
            )
        self.normal, self.target_fpr, self.contamination = normal, float(target_fpr), contamination
        self.facts: dict[str, Any] = {}
        self._val_all: Any = None  # every validation row, 0/1 target (contamination: auto)

    def options(self) -> dict[str, Any]:
        return {
            "normal": self.normal,
            "target_fpr": self.target_fpr,
            "contamination": self.contamination,
        }

    # ---------------------------------------------------------------- train
    def adapt(self, prep: Prepared) -> Prepared:
        if prep.task not in ("binary", "multiclass") or not prep.classes:
            raise ConfigError(
                "'task: anomaly' chooses the normal rows by their label and evaluates against "
                f"the labels, but the data's target {prep.target!r} is a {prep.task} target. "
                "Set data.target to a column of class labels (e.g. is_fraud)."
            )
        k, target = len(prep.classes), prep.target
        counts = class_counts(prep.train, target, k)  # streamed: one bounded pass
        if prep.streaming:
            prep.train.set_epoch(0)  # the counting pass does not shift the shuffle order
        normal = (
            [int(np.argmax(counts))]
            if self.normal is None
            else normal_indices(self.normal, prep.classes)
        )
        labels = [prep.classes[i] for i in normal]
        self.facts = {
            "normal": labels,
            "normal_index": normal,
            "target_fpr": self.target_fpr,
            "contamination": self.contamination,
        }
        # The fit's validation rows are the NORMAL validation rows: val_loss (early stopping,
        # the plateau schedule) is then exactly the reconstruction loss of normal rows. With
        # anomalies in it, a model that reconstructs anomalies worse (what we want) would
        # look like one that got worse. Every validation row (0/1) stays for 'auto'.
        if prep.streaming:
            keep = IsNormal(target, labels)
            train = prep.train if self.contamination is not None else prep.train.filter(keep)
            val = (
                Relabelled(prep.val.filter(keep), target, normal) if prep.val is not None else None
            )
            self._val_all = Relabelled(prep.val, target, normal) if prep.val is not None else None
            test = Relabelled(prep.test, target, normal)
            normal_rows = int(counts[normal].sum())
            rows = dict(prep.rows or {})
            rows["train"] = int(counts.sum()) if self.contamination is not None else normal_rows
            if val is not None:
                rows["validation"] = int(class_counts(val, target, 2)[0])
        else:
            train = relabel_tensors(prep.train, target, normal)
            if self.contamination is None:
                train = select_rows(train, train[target] == 0)
            self._val_all = (
                relabel_tensors(prep.val, target, normal) if prep.val is not None else None
            )
            val = (
                None
                if self._val_all is None
                else select_rows(self._val_all, self._val_all[target] == 0)
            )
            test, rows = relabel_tensors(prep.test, target, normal), prep.rows
        self.facts["rows"] = {"train_per_class": counts.tolist()}
        return dataclasses.replace(
            prep, train=train, val=val, test=test, task="anomaly",
            classes=["normal", "anomaly"], rows=rows, raw=None,
        )  # fmt: skip

    def default_model(self, prep: Prepared) -> str:
        return "autoencoder"

    def trainer_section(
        self, trainer: Mapping[str, Any], prep: Prepared, model_type: str
    ) -> dict[str, Any]:
        from deepfuse.models.auto_defaults import resolve_auto

        out = dict(trainer)
        # The model computes its own loss (reconstruction, + KL for a VAE) and logs it; a
        # loss or metrics named in the config are compiled as given (and unused by its steps).
        out["loss"] = out.get("loss")
        out["metrics"] = list(out.get("metrics") or [])
        for key, value in (("class_weight", None), ("threshold", None), ("baselines", False)):
            if out.get(key) == "auto":
                out[key] = value
        if out.get("batch_size") == "auto" and not prep.streaming:
            out["batch_size"] = small_set_batch_size(_rows(prep.train))
        # prep.task is "anomaly" (not a classifier): early stopping / plateau watch val_loss
        out = resolve_auto(out, prep, model_type, RECIPE, loss_defaulted=False)
        left = sorted(k for k, v in out.items() if v == "auto")
        assert not left, f"auto keys left unresolved: {left}"
        return out

    def after_fit(self, model: Any, prep: Prepared, trainer: Mapping[str, Any]) -> None:
        from deepfuse.evaluation.anomaly import contamination_threshold, fpr_threshold, score_rows

        batch = max(256, int(trainer.get("batch_size") or 0))
        if not callable(getattr(model, "anomaly_score", None)):
            raise ConfigError(
                f"'task: anomaly' scores rows with the model's anomaly_score(); model "
                f"{model.name!r} has none. Use model.type: autoencoder or vae."
            )
        if self.contamination is None:
            rows = prep.val if prep.val is not None else prep.train
            scores, _ = score_rows(model, rows, batch_size=batch)
            threshold = fpr_threshold(scores, self.target_fpr)
            where = "normal validation rows" if prep.val is not None else "normal training rows"
            rule = f"flags {self.target_fpr:g} of the {where}"
        else:
            share = self._contamination_share(model, batch)
            scores, _ = score_rows(model, prep.train, batch_size=batch)
            threshold = contamination_threshold(scores, share)
            rule = f"flags {share:g} of the training rows (contamination)"
            self.facts["contamination_used"] = share
        model.anomaly_threshold = float(threshold)
        self.facts.update(threshold=float(threshold), threshold_rule=rule)

    def _contamination_share(self, model: Any, batch: int) -> float:
        """``contamination`` as a number; ``auto``: the anomaly share of the labelled
        validation rows (``target_fpr`` without any)."""
        if self.contamination != "auto":
            return float(self.contamination)
        if self._val_all is None:
            return self.target_fpr
        counts = class_counts(self._val_all, model.target_key, 2)
        share = counts[1] / max(int(counts.sum()), 1)
        return float(share) if 0 < share < 0.5 else self.target_fpr

    def evaluate(
        self, model: Any, prep: Prepared, run_dir: Path, trainer: Mapping[str, Any]
    ) -> dict[str, Any]:
        from deepfuse.evaluation.anomaly import anomaly_evaluation, score_rows

        batch = max(256, int(trainer.get("batch_size") or 0))
        scores, labels = score_rows(model, prep.test, batch_size=batch)
        result = anomaly_evaluation(scores, labels, model.anomaly_threshold, facts=self.facts)
        atomic_write_json(run_dir / EVALUATION_FILE, result.to_dict())
        return {"test": result.headline(), "anomaly": dict(self.facts)}

    # ----------------------------------------------------------- use a run
    def evaluate_run(
        self, run: Path, cfg: Mapping[str, Any], model: Any, data: Any | None
    ) -> tuple[dict[str, float], Any, Path]:
        from deepfuse.api.use import eval_data
        from deepfuse.evaluation.anomaly import anomaly_evaluation, score_rows

        facts = RunReader(run).metrics().get("anomaly") or {}
        normal, threshold = facts.get("normal_index"), _threshold_of(model, run)
        if not isinstance(normal, list) or not normal:
            raise DataError(
                f"metrics.json of '{run}' does not name the normal classes (anomaly."
                "normal_index); the file is damaged or the run unfinished. Train it again."
            )
        tensors, batch = eval_data(cfg, model, data)
        scores, labels = score_rows(
            model, tensors, batch_size=batch, labels=lambda t: anomaly_flags(t, normal).numpy()
        )
        if labels is None:
            raise DataError(
                f"The evaluation rows carry no label column {model.target_key!r}: an anomaly "
                "detector is evaluated against labels. Add the column to the file."
            )
        result = anomaly_evaluation(scores, labels, threshold, facts=facts)
        name = evaluation_file(None if data is None else Path(data).name)
        atomic_write_json(run / name, result.to_dict())
        return result.headline(), result, run / name

    def predict_table(self, run: Path, model: Any, tensors: Any) -> pa.Table:
        from deepfuse.evaluation.anomaly import score_rows

        threshold = _threshold_of(model, run)
        scores, _ = score_rows(model, tensors)
        return pa.table({"score": scores, "anomaly": scores >= threshold})


def small_set_batch_size(rows: int) -> int:
    """The usual automatic batch size, but at least 16 steps per epoch (8 rows at least): a
    one-class training set is often small (about 110 rows of one digit), and an autoencoder
    needs optimizer steps (digits one class vs rest, 40 epochs: mean ROC-AUC 0.945 with 32
    rows per batch, 0.976 with 8; IsolationForest 0.979).

    Example:
        >>> small_set_batch_size(112), small_set_batch_size(400), small_set_batch_size(5400)
        (8, 25, 64)
    """
    from deepfuse.models.auto_defaults import auto_batch_size

    return max(8, min(auto_batch_size(rows), rows // 16))


def _rows(tensors: Mapping[str, Any]) -> int:
    return len(next(iter(tensors.values())))


def _threshold_of(model: Any, run: Path) -> float:
    threshold = getattr(model, "anomaly_threshold", None)
    if threshold is None:
        raise DataError(
            f"model.json of '{run}' has no anomaly_threshold; the run did not finish or the "
            "file is damaged. Train it again."
        )
    return float(threshold)
