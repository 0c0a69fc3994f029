"""``report.html``: one self-contained page per run (images embedded, no network, no JavaScript).

Every ``deepfuse train`` run writes ``RUN/report.html`` before the run is renamed into place,
``deepfuse cv`` writes one beside ``cv.json``, and ``deepfuse report RUN`` (re)writes it. The page
holds the training curves, the evaluation (metrics per class, confusion matrix, ROC/PR,
calibration, residuals), a look inside the model (feature maps, filters, weight and gradient
histograms, a 2-D projection), the most confidently wrong examples, the data (rows, feature types,
class balance, missing values), the model summary, the resolved config, timings and the
environment. Each part is made independently: one that fails shows why, in place, and the rest
of the page is still written.

Example:
    >>> from deepfuse.report import write_report
    >>> write_report("runs/mnist_cnn-20261204-120000")          # doctest: +SKIP
    PosixPath('runs/mnist_cnn-20261204-120000/report.html')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepfuse.report.context import ReportWarning, TestRowsLoader
from deepfuse.run import REPORT_FILE

__all__ = ["REPORT_FILE", "ReportWarning", "write_report"]


def write_report(
    run_dir: str | os.PathLike,
    *,
    model: Any = None,
    test_data: Any = None,
    metrics: Mapping[str, Any] | None = None,
    load_test_data: TestRowsLoader | None = None,
) -> Path:
    """Write ``RUN/report.html`` (atomically) from what the run directory holds.

    Args:
        run_dir: A finished run, a run being finished (``train`` calls this before the
            ``.partial`` folder is renamed), or a ``deepfuse cv`` folder (``cv.json``).
        model: The trained model (default: loaded from the run's model.safetensors/model.json).
        test_data: The test split as a dict of tensors (or an iterable of batch dicts), as
            training had it. At most 1,000 of its rows feed the projection and the confidently
            wrong examples.
        metrics: What ``metrics.json`` holds or is about to hold (default: read from the run).
        load_test_data: ``(config, model) -> test split``, called when ``test_data`` is None
            and a part needs test rows (``deepfuse report RUN`` passes the rebuild that
            ``deepfuse evaluate`` uses: :func:`deepfuse.api.report`). With neither, those parts
            say that no test rows were given.

    Returns:
        The path of the report.

    Raises:
        UserError: ``run_dir`` is not a run directory (no config.yaml, model.json or cv.json).
    """
    from deepfuse._utils.errors import UserError
    from deepfuse._utils.io import atomic_write_text
    from deepfuse.report.context import RunFacts
    from deepfuse.report.cv_sections import cv_sections
    from deepfuse.report.html import page
    from deepfuse.report.sections import run_sections
    from deepfuse.run import CONFIG_FILE, CV_FILE, METRICS_FILE, MODEL_FILE, RunReader

    run = RunReader(run_dir)
    if not run.path.is_dir():
        raise UserError(
            f"Run directory '{run_dir}' does not exist. Pass a folder written by "
            "'deepfuse train' or 'deepfuse cv'."
        )
    is_cv = run.file(CV_FILE) is not None
    if not is_cv and (run.file(MODEL_FILE) is None or run.file(CONFIG_FILE) is None):
        raise UserError(
            f"'{run_dir}' is not a deepfuse run: it has no {MODEL_FILE} and {CONFIG_FILE} "
            f"(nor {CV_FILE}). Pass a folder written by 'deepfuse train' or 'deepfuse cv'."
        )
    if metrics is None:
        metrics = run.metrics() if run.file(METRICS_FILE) is not None else {}
    facts = RunFacts(
        run.path, dict(metrics), model=model, test_data=test_data, load_test_data=load_test_data
    )
    if is_cv:
        sections = cv_sections(facts)
        cv = facts.cv
        title = f"Cross-validation: {cv.get('name') or run.name}"
        # (no folder name: cv writes its report before the temp folder gets its final name)
        subtitle = f"{cv.get('folds', '?')} folds · {cv.get('task', '')} · {cv.get('rows')} rows"
    else:
        sections = run_sections(facts)
        title = facts.name
        subtitle = " · ".join(p for p in [facts.task or "", run.name] if p)
    text = page(title, subtitle, sections, footer="deepfuse report · self-contained, no scripts")
    out = run.path / REPORT_FILE
    atomic_write_text(out, text)
    return out
