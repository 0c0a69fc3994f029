"""Every name of a run folder, in one place (the run contract of docs/internals.md).

A run written by ``deepfuse train`` is a folder ``runs/<name>-<YYYYMMDD-HHMMSS>/``::

    config.yaml          the resolved config (defaults filled in)
    model.safetensors    the weights
    model.json           architecture, preprocessing, input spec (rebuilds the model)
    history.csv          one row per epoch, or per optimizer step (epoch values on each epoch's last row)
    metrics.json         test metrics, final epoch, rows, task, classes, timings, environment
    evaluation.json      the full metric set of the test split (``evaluation-<stem>.json``
                         for another labelled file: ``deepfuse evaluate RUN --data FILE``)
    histograms.json      weight/gradient histograms per epoch
    checkpoints/         step-<8 digits>/ folders (manifest.json, state.json, *.safetensors)
    report.html          one self-contained page of the run
    plots/               written by ``deepfuse plot RUN``
    samples/             a generator's fixed-noise grid per epoch (``epoch-0001.png``, ...)
    scorer/              ``task: generate``: the classifier whose features score the samples

While it trains the folder is ``<name>-<stamp>.partial`` and holds ``steps.csv`` (the per-step
log, merged into history.csv at the end). A ``deepfuse cv`` folder holds ``config.yaml``,
``cv.json``, ``cv.csv`` and ``report.html``.

Example:
    >>> from deepfuse.run.layout import METRICS_FILE, REQUIRED_RUN_FILES, evaluation_file
    >>> METRICS_FILE in REQUIRED_RUN_FILES, evaluation_file("new_rows.csv")
    (True, 'evaluation-new_rows.json')
"""

from __future__ import annotations

__all__ = [
    "CHECKPOINTS_DIR",
    "CHECKPOINT_MANIFEST",
    "CHECKPOINT_PREFIX",
    "CHECKPOINT_STATE",
    "CONFIG_FILE",
    "CV_FILE",
    "CV_TABLE_FILE",
    "DEFAULT_RUNS_DIR",
    "EVALUATION_FILE",
    "HISTOGRAMS_FILE",
    "HISTORY_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "PARTIAL_SUFFIX",
    "PLOTS_DIR",
    "REPORT_FILE",
    "REQUIRED_RUN_FILES",
    "RUN_FILES",
    "SAMPLES_DIR",
    "SCORER_DIR",
    "SEARCH_FILE",
    "STEPS_FILE",
    "WEIGHTS_FILE",
    "evaluation_file",
    "sample_grid_file",
]

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "model.safetensors"
MODEL_FILE = "model.json"
HISTORY_FILE = "history.csv"
#: The per-step log of a run in progress (merged into history.csv when the run finishes).
STEPS_FILE = "steps.csv"
METRICS_FILE = "metrics.json"
EVALUATION_FILE = "evaluation.json"
HISTOGRAMS_FILE = "histograms.json"
REPORT_FILE = "report.html"
CHECKPOINTS_DIR = "checkpoints"
#: One checkpoint is ``checkpoints/step-<global step, 8 digits>/`` with these two JSON files.
CHECKPOINT_PREFIX = "step-"
CHECKPOINT_MANIFEST = "manifest.json"
CHECKPOINT_STATE = "state.json"
PLOTS_DIR = "plots"
#: ``task: generate``: the fixed-noise sample grid of each epoch, ``samples/epoch-<4 digits>.png``.
SAMPLES_DIR = "samples"
#: ``task: generate``: the classifier (``model.json`` + ``model.safetensors``) trained on the same
#: data whose penultimate features score the samples (classifier-feature Fréchet distance).
SCORER_DIR = "scorer"
#: A ``deepfuse cv`` folder: per-fold headline metrics and their summary, and one row per fold.
SEARCH_FILE = "search.json"  # the leaderboard of a no-config run's model search
CV_FILE = "cv.json"
CV_TABLE_FILE = "cv.csv"

#: Files every finished run has, in the order ``deepfuse info`` lists them.
RUN_FILES = (CONFIG_FILE, WEIGHTS_FILE, MODEL_FILE, HISTORY_FILE, METRICS_FILE, REPORT_FILE)
#: The files a run needs to be read (evaluate, predict, info): runs written before report.html
#: existed have no report and stay usable ('deepfuse report RUN' adds it).
REQUIRED_RUN_FILES = tuple(f for f in RUN_FILES if f != REPORT_FILE)

#: Suffix of a run in progress: ``runs/<name>-<stamp>.partial`` is renamed to
#: ``runs/<name>-<stamp>`` once every file is written, so a folder without it is always complete.
PARTIAL_SUFFIX = ".partial"
DEFAULT_RUNS_DIR = "runs"


def evaluation_file(data: str | None = None) -> str:
    """The evaluation file of the run's own test split (``data=None``) or of another file.

    Example:
        >>> evaluation_file(), evaluation_file("/data/holdout.csv.gz"), evaluation_file("parts/")
        ('evaluation.json', 'evaluation-holdout.json', 'evaluation-parts.json')
    """
    if data is None:
        return EVALUATION_FILE
    name = str(data).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]  # a folder: its name
    return f"evaluation-{name.split('.')[0] or 'data'}.json"


def sample_grid_file(epoch: int) -> str:
    """The sample grid of 1-based ``epoch`` inside ``samples/``.

    Example:
        >>> sample_grid_file(3)
        'epoch-0003.png'
    """
    return f"epoch-{int(epoch):04d}.png"
