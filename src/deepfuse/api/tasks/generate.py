"""``task: generate``: learn to draw new images like the training images (GANs, VAEs).

A config names it with ``task: generate`` (or ``task: {name: generate, grid: 64, seed: 1234}``)
and gives images (``data: {dataset: mnist}``); the model defaults to ``dcgan``
(:mod:`deepfuse.models.zoo.gan`). Class labels stay in the batches, for conditional models
(``model: {type: wgan_gp, conditional: true}``); an unconditional model ignores them.

What the run gets:

* ``trainer`` keys left ``auto`` get values suited to adversarial training, recorded in
  config.yaml: no early stopping, schedule, class weights, threshold, baselines or search;
  batch size 128 and 20 epochs unless the config says. A GAN's optimizers are its builder
  arguments (``g_lr``, ``d_lr``, ``betas``), so ``trainer.optimizer`` is ``null`` for it.
* ``samples/epoch-XXXX.png`` every epoch: ``grid`` samples from the same fixed noise (``seed``)
  (:class:`~deepfuse.training.callbacks.samples.SampleGrid`, RNG-neutral).
* ``metrics.json``: ``task: generate``, the training losses per epoch (``final_epoch``) and
  ``test`` (the sample-quality scores go there).

``deepfuse predict`` does not apply: draw samples with ``deepfuse sample RUN --n 64 --out
grid.png``.

Example:
    >>> from deepfuse.api.tasks import task_for
    >>> task = task_for({"task": {"name": "generate", "grid": 16}})
    >>> task.name, task.options()
    ('generate', {'grid': 16, 'seed': 1234, 'quality': True})
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from deepfuse._utils.errors import ConfigError, UserError
from deepfuse.api.tasks.base import Task, register_task
from deepfuse.data.routes import Prepared
from deepfuse.run import SAMPLES_DIR

__all__ = ["GAN_FAMILIES", "Generate"]

#: Zoo families that train with their own optimizers (``trainer.optimizer`` stays ``null``).
GAN_FAMILIES = ("dcgan", "wgan_gp")
#: What ``auto`` trainer keys become for a generative run (epochs/batch size: when not given).
_TRAINER_DEFAULTS: dict[str, Any] = {
    "epochs": 20,
    "batch_size": 128,
    "early_stopping": None,
    "schedule": None,
    "class_weight": None,
    "threshold": None,
    "baselines": False,
    "search": False,
}


@register_task
class Generate(Task):
    """Generative modelling of images: sample grids every epoch, a Generator model.

    Args:
        grid: Samples in each epoch's grid (``samples/epoch-XXXX.png``).
        seed: Seed of the grid's fixed noise.
        quality: Score the samples (:mod:`deepfuse.evaluation.generative`): a classifier
            trained on the same images (``scorer/``), the ``classifier_fd`` of every epoch in
            history.csv, and the final generator's Fréchet distance, precision, recall and
            class histogram in evaluation.json. ``false`` skips all of it (quick trials).
    """

    name = "generate"
    predicts_rows = False  # 'deepfuse predict' refuses before reading a file

    def __init__(self, grid: int = 64, seed: int = 1234, quality: bool = True) -> None:
        if isinstance(grid, bool) or not isinstance(grid, int) or not 1 <= grid <= 1024:
            raise ConfigError(f"'task.grid' must be an int from 1 to 1024; got {grid!r}.")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"'task.seed' must be an int >= 0; got {seed!r}.")
        if not isinstance(quality, bool):
            raise ConfigError(f"'task.quality' must be true or false; got {quality!r}.")
        self.grid, self.seed, self.quality = grid, seed, quality

    def options(self) -> dict[str, Any]:
        return {"grid": self.grid, "seed": self.seed, "quality": self.quality}

    # ---------------------------------------------------------------- train
    def adapt(self, prep: Prepared) -> Prepared:
        if prep.kind != "image":
            raise ConfigError(
                f"task: generate learns images, but the data is a {prep.kind}. Use an image "
                "dataset (data: {dataset: mnist}) or a folder of images."
            )
        return dataclasses.replace(prep, task=self.name)  # labels stay: conditional models

    def default_model(self, prep: Prepared) -> str:
        return "dcgan"

    def model_section(self, spec: Mapping[str, Any] | None, prep: Prepared) -> dict[str, Any]:
        spec = dict(spec) if spec else {"type": self.default_model(prep)}
        # The data context counts classes for classification only; a conditional generator
        # needs them here (prep.task is "generate").
        if "num_classes" not in spec and "num_classes" in _builder_params(spec["type"]):
            spec["num_classes"] = prep.num_classes
        return super().model_section(spec, prep)

    def trainer_section(
        self, trainer: Mapping[str, Any], prep: Prepared, model_type: str
    ) -> dict[str, Any]:
        from deepfuse.models.auto_defaults import AUTO

        out = dict(trainer)
        for key, value in _TRAINER_DEFAULTS.items():
            if out.get(key) == AUTO or (key in ("epochs", "batch_size") and out.get(key) is None):
                out[key] = value
        if out.get("optimizer") == AUTO:
            out["optimizer"] = None if model_type in GAN_FAMILIES else {"name": "adam", "lr": 1e-3}
        return out

    def callbacks(self, run_dir: Path, prep: Prepared, trainer: Mapping[str, Any]) -> list[Any]:
        from deepfuse.training.callbacks.samples import SampleGrid
        from deepfuse.viz.tiles import save_image_grid

        grid = SampleGrid(run_dir / SAMPLES_DIR, n=self.grid, seed=self.seed, save=save_image_grid)
        if not self.quality:
            return [grid]
        from deepfuse.evaluation.generative import quality_callbacks

        return [grid, *quality_callbacks(run_dir, prep, trainer)]

    def evaluate(
        self, model: Any, prep: Prepared, run_dir: Path, trainer: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The final generator's sample quality against the test images (``test``:
        ``classifier_fd``, precision, recall; ``generation``: the scale and the class
        histogram; evaluation.json: all of it) and the last epoch's losses."""
        from deepfuse.training.optimizers_in_use import is_lr_key

        history = getattr(getattr(model, "trainer", None), "history", None) or [{}]
        final = {k: float(v) for k, v in history[-1].items() if k != "time" and not is_lr_key(k)}
        out: dict[str, Any] = {"test": {}}
        if self.quality:
            from deepfuse.evaluation.generative import evaluate_generator

            out.update(evaluate_generator(model, prep, run_dir, trainer))
        return {**out, "final_losses": final}

    # ----------------------------------------------------------- use a run
    def evaluate_run(
        self, run: Path, cfg: Mapping[str, Any], model: Any, data: Any | None
    ) -> tuple[dict[str, float], Any, Path]:
        """Score the run's generator again against its own test images (the run's scorer,
        ``scorer/``, is reused; evaluation.json is rewritten)."""
        from deepfuse.data.routes import route_for
        from deepfuse.evaluation.generative import evaluate_generator
        from deepfuse.run import EVALUATION_FILE

        if data is not None:
            raise UserError(
                "'deepfuse evaluate RUN --data FILE' does not apply to a generate run: its "
                f"samples are scored against the run's own test images. Run 'deepfuse "
                f"evaluate {run}' without --data."
            )
        trainer = cfg.get("trainer") or {}
        seed = trainer.get("seed") or 0
        prep = self.adapt(route_for(cfg["data"]).prepare(cfg["data"], seed=seed, batch_size=256))
        n = 2000  # generated and real test images compared
        out = evaluate_generator(model, prep, run, trainer, n=n)
        return dict(out["test"]), GenerationResult(out, n), run / EVALUATION_FILE

    def predict_table(self, run: Path, model: Any, tensors: Any) -> pa.Table:
        raise UserError(
            f"'deepfuse predict' does not apply to a generate run: it makes images, not "
            f"predictions. Draw samples with 'deepfuse sample {run} --n 64 --out grid.png'."
        )


@dataclasses.dataclass
class GenerationResult:
    """What ``deepfuse evaluate`` prints for a generate run (the shape of
    :class:`~deepfuse.evaluation.EvaluationResult` that :func:`format_evaluation` reads)."""

    scores: dict[str, Any]
    n: int

    @property
    def metrics(self) -> dict[str, float]:
        return {**self.scores["test"], **{
            k: v for k, v in self.scores.get("generation", {}).items() if k.startswith("classifier_fd")
        }}  # fmt: skip

    per_class: list[Any] = dataclasses.field(default_factory=list)
    confusion_matrix: Any = None
    calibration: Any = None
    residuals: Any = None
    never_predicted: list[Any] = dataclasses.field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        warning = self.scores.get("generation", {}).get("warning")
        return [warning] if warning else []


def _builder_params(model_type: str) -> Mapping[str, Any]:
    from deepfuse.models.zoo import MODELS

    if model_type not in MODELS:
        return {}  # unknown: the zoo reports it when the model is built
    return inspect.signature(MODELS.get(model_type)).parameters
