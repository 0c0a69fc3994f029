"""``deepfuse report RUN``: (re)write a run's report.html, its test rows rebuilt from the run.

Example:
    >>> from deepfuse.api.report import report
    >>> report("runs/mnist_cnn-20261204-120000")          # doctest: +SKIP
    PosixPath('runs/mnist_cnn-20261204-120000/report.html')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["report"]


def report(run_dir: str | os.PathLike) -> Path:
    """Write ``RUN/report.html`` from the run folder; the parts that look inside the model get
    the run's test rows, rebuilt from its config.yaml as ``deepfuse evaluate`` does."""
    from deepfuse.data.routes import test_feed_of
    from deepfuse.report import write_report

    def test_rows(config: dict[str, Any], model: Any) -> Any:
        return test_feed_of(config, preprocessor=model.preprocessor)

    return write_report(run_dir, load_test_data=test_rows)
