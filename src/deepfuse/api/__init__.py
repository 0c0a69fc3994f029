"""The Python API behind the ``deepfuse`` command line: train, evaluate, predict, info, sample.

Each function takes plain values (a config dict or YAML path, a run directory, file paths) and
returns plain values, so the CLI only parses arguments and prints.

Example:
    >>> from deepfuse import api
    >>> result = api.train("examples/mnist_cnn.yaml")                     # doctest: +SKIP
    >>> result.metrics["test"]["accuracy"] > 0.99                           # doctest: +SKIP
    True
    >>> api.predict(result.run_dir, "new_rows.csv", out="pred.csv")        # doctest: +SKIP
    PosixPath('pred.csv')
"""

from __future__ import annotations

from deepfuse.api.cv import CVResult, cross_validate
from deepfuse.api.report import report
from deepfuse.api.sample import SampleResult, sample
from deepfuse.api.training import RunResult, resolve_config, train
from deepfuse.api.use import RunEvaluation, evaluate, evaluate_run, info, predict

__all__ = [
    "CVResult",
    "RunEvaluation",
    "RunResult",
    "SampleResult",
    "cross_validate",
    "evaluate",
    "evaluate_run",
    "info",
    "predict",
    "report",
    "resolve_config",
    "sample",
    "train",
]
