"""The run folder, torch-free: its layout, the atomic writer, a reader, the facts of metrics.json.

Everything that writes a run (``deepfuse train``, ``deepfuse cv``) or reads one (``info``,
``evaluate``, ``predict``, ``report``, ``plot``, the dashboard) goes through this package.
Importing it imports no torch, so the dashboard and ``deepfuse info`` start fast.

- :mod:`~deepfuse.run.layout`: every file name (``CONFIG_FILE``, ``METRICS_FILE``, ...),
  ``PARTIAL_SUFFIX``, ``DEFAULT_RUNS_DIR``.
- :mod:`~deepfuse.run.writer`: :func:`new_run_dir` / :func:`finish_run_dir` (``.partial`` then
  rename), :class:`RunWriter`, :func:`resumable_run`, :func:`history_csv`.
- :mod:`~deepfuse.run.reader`: :class:`RunReader` (``config()``, ``metrics()``,
  ``evaluation()``, ``history()``, ``epochs()``, ``steps()``, ``histograms()``,
  ``checkpoints()``, ``report_path()``, ...), :func:`read_run`, :func:`check_run_dir`.
- :mod:`~deepfuse.run.files`: the formats inside a run (:func:`read_history`,
  :func:`read_histograms`, checkpoint state), :func:`finite_number`.
- :mod:`~deepfuse.run.facts`: :func:`run_facts` (dates, timings, data, environment).

Example:
    >>> import tempfile
    >>> from deepfuse.run import RunReader, finish_run_dir, new_run_dir
    >>> tmp = new_run_dir(tempfile.mkdtemp(), "demo")
    >>> _ = (tmp / "metrics.json").write_text('{"epochs": 2}')
    >>> RunReader(finish_run_dir(tmp)).metrics()
    {'epochs': 2}
"""

from __future__ import annotations

from deepfuse.run import layout
from deepfuse.run.facts import data_summary, environment, run_facts, utc_now
from deepfuse.run.files import finite_number, read_histograms, read_history
from deepfuse.run.layout import *  # noqa: F403 - every file name of the layout (layout.__all__)
from deepfuse.run.reader import RunReader, StepRow, check_run_dir, read_run
from deepfuse.run.writer import (
    RunWriter,
    finish_run_dir,
    history_csv,
    new_run_dir,
    partial_of,
    resumable_run,
)

__all__ = [  # the layout's names, then the reader, writer and facts
    *layout.__all__,
    "RunReader",
    "RunWriter",
    "StepRow",
    "check_run_dir",
    "data_summary",
    "environment",
    "finish_run_dir",
    "finite_number",
    "history_csv",
    "partial_of",
    "new_run_dir",
    "read_histograms",
    "read_history",
    "read_run",
    "resumable_run",
    "run_facts",
    "utc_now",
]
