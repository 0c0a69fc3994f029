"""The task seam: what a run learns, from its prepared data to its metrics, predictions and files.

A config's top-level ``task`` names it (``task: generate`` or ``task: {name: anomaly,
target_fpr: 0.01}``); without one the task is ``auto``, supervised learning of the data's
target (binary, multiclass or regression, as the data route found it). Every verb asks the
run's :class:`Task` what to do where tasks differ, so a new task is one subclass passed to
:func:`register_task` (plus a zoo family and a data route where it needs new ones), never a
branch in ``train``/``evaluate``/``predict``.

Hooks, in the order ``deepfuse train`` calls them:

1. :meth:`Task.adapt` - the route's :class:`~deepfuse.data.routes.Prepared` made fit for the
   task (an anomaly detector keeps the normal rows for training, a generator drops the target
   unless it is conditional);
2. :meth:`Task.model_section` / :meth:`Task.trainer_section` - the config's ``model`` and
   ``trainer`` completed from the data (the task's default zoo family, loss and metrics);
3. :meth:`Task.callbacks` - callbacks the task adds to ``fit`` (sample grids every epoch);
4. :meth:`Task.after_fit` - what the task decides on validation rows once trained (a decision
   threshold);
5. :meth:`Task.evaluate` - the test metrics (``metrics.json["test"]``) and the task's full
   evaluation file (timed as ``eval_time_s``); :meth:`Task.compare` - baselines (untimed).

``deepfuse evaluate`` calls :meth:`Task.evaluate_run`, ``deepfuse predict``
:meth:`Task.predict_table`.

Example:
    >>> from deepfuse.api.tasks import task_for
    >>> task_for({"data": {"dataset": "mnist"}}).name
    'auto'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from deepfuse._utils.errors import ConfigError, UserError
from deepfuse._utils.registry import Registry
from deepfuse.data.routes import Prepared

__all__ = ["TASKS", "Task", "register_task", "task_for", "task_options"]


class Task:
    """One kind of learning. Subclasses set :attr:`name` and take their options as keyword
    arguments of ``__init__`` (config validation checks ``task: {name: ..., option: ...}``
    against that signature).

    Attributes:
        name: The value of the config's ``task`` key.
        searches: Whether a no-config run of this task may try several models
            (:mod:`deepfuse.api.search` compares them on validation macro-F1 or loss).
        predicts_rows: Whether ``deepfuse predict`` reads input rows for this task (a
            generator draws samples instead: its :meth:`predict_table` refuses before any
            file is read).
    """

    name: ClassVar[str]
    searches: ClassVar[bool] = False
    predicts_rows: ClassVar[bool] = True

    def options(self) -> dict[str, Any]:
        """The task's options as recorded (JSON-able); ``{}`` when it takes none."""
        return {}

    # ---------------------------------------------------------------- train
    def adapt(self, prep: Prepared) -> Prepared:
        """The route's prepared data made fit for the task (default: as it is)."""
        return prep

    def model_section(self, spec: Mapping[str, Any] | None, prep: Prepared) -> dict[str, Any]:
        """The run's ``model`` section: the config's, or the task's default family, with the
        builder arguments that follow from the data filled in."""
        from deepfuse.models.from_config import model_section

        return model_section(spec, prep, default_type=self.default_model(prep))

    def default_model(self, prep: Prepared) -> str:
        """The zoo family a config without a ``model`` section gets."""
        from deepfuse.models.from_config import default_model_type

        return default_model_type(prep.kind, prep.features)

    def trainer_section(
        self, trainer: Mapping[str, Any], prep: Prepared, model_type: str
    ) -> dict[str, Any]:
        """``trainer`` completed for the data: default loss and metrics, every ``auto`` resolved."""
        from deepfuse.models.from_config import trainer_section

        return trainer_section(trainer, prep, model_type)

    def callbacks(self, run_dir: Path, prep: Prepared, trainer: Mapping[str, Any]) -> list[Any]:
        """Callbacks the task adds to the run's ``fit`` (``run_dir`` is the folder being
        written, ``<name>-<stamp>.partial``)."""
        return []

    def after_fit(self, model: Any, prep: Prepared, trainer: Mapping[str, Any]) -> None:
        """Decisions taken on validation rows once training is done (every rank calls it)."""
        return None

    def evaluate(
        self, model: Any, prep: Prepared, run_dir: Path, trainer: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The run's test metrics: ``{"test": {...}, ...}`` merged into metrics.json; the task's
        full evaluation file is written into ``run_dir``."""
        batch = max(256, int(trainer.get("batch_size") or 0))
        test = model.evaluate(prep.test, batch_size=batch, return_dict=True)
        return {"test": {k: float(v) for k, v in test.items()}}

    def compare(self, prep: Prepared, trainer: Mapping[str, Any]) -> dict[str, Any]:
        """Baselines trained on the same split (metrics.json keys); ``{}`` when none apply."""
        return {}

    # ----------------------------------------------------------- use a run
    def evaluate_run(
        self, run: Path, cfg: Mapping[str, Any], model: Any, data: Any | None
    ) -> tuple[dict[str, float], Any, Path]:
        """``deepfuse evaluate``: ``(scores, full result, file written)`` on the run's test rows
        or on the labelled file ``data``."""
        raise UserError(f"'deepfuse evaluate' does not apply to a '{self.name}' run.")

    def predict_table(self, run: Path, model: Any, tensors: Any) -> pa.Table:
        """``deepfuse predict``: one output row per input row."""
        raise UserError(f"'deepfuse predict' does not apply to a '{self.name}' run.")


#: Task names -> classes; ``register_task`` adds one.
TASKS: Registry[type[Task]] = Registry("task", normalize=None)


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make ``task: <cls.name>`` mean ``cls``."""
    TASKS.register(cls.name, cls)
    return cls


def task_options(spec: Any) -> tuple[str, dict[str, Any]]:
    """``(name, options)`` of a ``task`` value: ``None`` (``auto``), a name, ``{name: ...,
    **options}`` or ``{<name>: {options}}``.

    Example:
        >>> task_options({"name": "anomaly", "target_fpr": 0.05})
        ('anomaly', {'target_fpr': 0.05})
        >>> task_options({"anomaly": {"target_fpr": 0.05}}), task_options(None)
        (('anomaly', {'target_fpr': 0.05}), ('auto', {}))
    """
    if spec is None:
        return "auto", {}
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping):
        if "name" not in spec and len(spec) == 1:
            ((name, options),) = spec.items()
            return str(name), dict(options or {})
        return str(spec["name"]), {k: v for k, v in spec.items() if k != "name"}
    raise ConfigError(f"'task' must be a name or a mapping; got {spec!r}.")


def task_for(cfg: Mapping[str, Any]) -> Task:
    """The :class:`Task` a (resolved) config names.

    Raises:
        ConfigError: An unknown task or option (config validation says it first, with the
            allowed values).
    """
    name, options = task_options(cfg.get("task"))
    try:
        return TASKS.get(name)(**options)
    except TypeError as exc:
        raise ConfigError(f"Cannot build 'task' {name!r}: {exc}.") from None
