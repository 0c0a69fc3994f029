"""The sections of a training run's ``report.html``, in page order (:func:`run_sections`).

Each section reads the run through a :class:`~deepfuse.report.context.RunFacts` (the files of the
run via :class:`deepfuse.run.RunReader`, plus the model and its test rows for the parts that look
inside the model). Every part is independent: :func:`~deepfuse.report.context.guarded` turns an
exception into a visible "could not be drawn" block and a ``ReportWarning``, so one broken plot
never costs the rest of the report. This module holds the summary, curves, evaluation, config,
timings and environment; :mod:`.compare`, :mod:`.inside`, :mod:`.mistakes` and
:mod:`.data_sections` the rest.

Example:
    >>> import tempfile
    >>> from deepfuse.report.context import RunFacts
    >>> [s.id for s in run_sections(RunFacts(tempfile.mkdtemp()))][:3]  # doctest: +SKIP
    ['summary', 'compare', 'classes']
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from deepfuse._utils.errors import DataError
from deepfuse.report.anomaly import anomaly_section
from deepfuse.report.autoencoder import autoencoder_section
from deepfuse.report.compare import compare_section, per_class_section
from deepfuse.report.context import RunFacts, guarded, make_sections, viz_function
from deepfuse.report.data_sections import data_section, model_section
from deepfuse.report.figures import plot_reliability, plot_residuals, plot_steps, png_bytes
from deepfuse.report.generative import generate_sections
from deepfuse.report.html import (
    Section,
    esc,
    figure,
    fmt_seconds,
    grid,
    kv_table,
    metric_cards,
    not_applicable,
    num,
    scroll,
    table,
)
from deepfuse.report.inside import inside
from deepfuse.report.mistakes import mistakes
from deepfuse.run import HISTORY_FILE, environment
from deepfuse.run.files import confusion_counts

__all__ = ["config_section", "environment_section", "run_sections"]


def run_sections(facts: RunFacts) -> list[Section]:
    """The sections of a training run's report, in page order."""
    makers = [
        ("summary", "Summary", _summary),
        ("compare", "How it compares", compare_section),
        ("classes", "Per class", per_class_section),
        ("search", "Model search", _search),
        ("curves", "Curves", _curves),
        ("evaluation", "Evaluation", _evaluation),
        ("anomaly", "Anomaly detection", anomaly_section),
        ("inside", "Inside the model", inside),
        ("mistakes", "Mistakes", mistakes),
        ("reconstruction", "Reconstructions and latent space", autoencoder_section),
        ("data", "Data", data_section),
        ("model", "Model", model_section),
        ("config", "Config", config_section),
        ("timings", "Timings", _timings),
        ("environment", "Environment", environment_section),
    ]
    if facts.task == "generate":  # samples and their quality; classification parts say n/a
        makers = generate_sections(makers)
    return make_sections(facts, makers)


def _summary(f: RunFacts) -> str:
    m, ev = f.metrics, f.evaluation.get("metrics") or {}
    test = m.get("test") or {}
    if f.task == "regression":
        keys = ("rmse", "mae", "r2")
    elif f.task == "generate":
        keys = ("classifier_fd", "precision", "recall")
    elif f.task == "binary":
        keys = ("accuracy", "f1", "roc_auc")
    elif f.supervised:
        keys = ("accuracy", "f1_macro", "roc_auc_macro")
    else:  # generate / anomaly: the task's own test scores
        keys = tuple(test)[:3]
    cards = [(k, ev.get(k, test.get(k))) for k in keys]
    if f.supervised or "loss" in test:
        cards.append(("test loss", test.get("loss")))
    rows = m.get("rows") or {}
    arch = f.meta.get("architecture") or {}
    facts = [
        ("run", f.name),
        ("folder", f.run.name),
        ("task", f.task),
        ("classes", len(f.classes) if f.classes else None),
        ("model", arch.get("name") or arch.get("kind")),
        ("parameters", f.meta.get("num_parameters")),
        ("epochs", m.get("epochs")),
        ("why it stopped", (m.get("stopped") or {}).get("message")),
        ("rows (train / validation / test)",
         " / ".join(f"{rows.get(k, 0):,}" for k in ("train", "validation", "test")) if rows else None),
        ("training time", fmt_seconds(m.get("train_time_s")) + _search_time(m)),
        ("started", m.get("started_at")),
        ("finished", m.get("finished_at")),
        ("report written", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())),
    ]  # fmt: skip
    test_table = table(["test metric (compiled)", "value"], [(k, v) for k, v in test.items()])
    return metric_cards(cards) + grid(kv_table(facts), test_table)


def _search_time(m: Mapping[str, Any]) -> str:
    seconds = (m.get("search") or {}).get("seconds")
    return f" (+ {fmt_seconds(seconds)} model search)" if seconds else ""


def _search(f: RunFacts) -> str:
    """The leaderboard of a no-config run's model search (``search.json``)."""
    search = f.run.search()
    if not search:
        return not_applicable(
            "No model search in this run (it runs for configs without a model section; "
            "trainer.search: true turns it on)."
        )
    monitor = search.get("monitor", "val_loss")
    rows = [
        (
            ("★ " if c.get("name") == search.get("best") else "") + str(c.get("name")),
            c.get("best"),
            c.get("epochs"),
            fmt_seconds(c.get("seconds")),
        )
        for c in search.get("candidates") or []
    ]
    intro = (
        f"<p>{len(rows)} candidates trained briefly and compared on the validation rows by "
        f"{esc(monitor)}; the best (★) was then trained to convergence as this run's model. "
        f"Search time: {esc(fmt_seconds(search.get('seconds')))}.</p>"
    )
    return intro + table(["candidate", f"best {monitor}", "epochs", "time"], rows)


def _curves(f: RunFacts) -> str:
    if f.run.file(HISTORY_FILE) is None:
        return not_applicable(f"No {HISTORY_FILE} in this run.")

    def draw() -> str:
        history = f.run.history()
        history = {k: v for k, v in history.items() if any(not math.isnan(x) for x in v)}
        if not history:
            return not_applicable(f"{HISTORY_FILE} holds no per-epoch values.")
        fig = viz_function("plot_curves")(history)
        caption = "training (train) and validation values per epoch"
        return figure(png_bytes(fig), caption, wide=True)

    def draw_steps() -> str:
        rows = [r for r in f.run.steps() if r["loss"] is not None]
        steps = [float(r["global_step"]) for r in rows]
        loss = [float(r["loss"]) for r in rows]
        lr = [float(r["lr"]) if r["lr"] is not None else math.nan for r in rows]
        if len(steps) < 2:
            return ""
        caption = "per optimizer step: training loss and learning rate"
        return figure(png_bytes(plot_steps(steps, loss, lr)), caption, wide=True)

    return grid(guarded("Training curves", draw), guarded("Per-step curves", draw_steps))


def _per_class_table(ev: Mapping[str, Any]) -> str:
    per = ev.get("per_class") or []
    if not per:
        return ""
    cols = ["precision", "recall", "f1", "support", "roc_auc", "pr_auc"]
    cols = [c for c in cols if any(c in r for r in per)]
    rows = [[str(r.get("label")), *(r.get(c) for c in cols)] for r in per]
    metrics = ev.get("metrics") or {}
    total = sum(int(r.get("support") or 0) for r in per)
    foot = []
    for avg in ("macro", "weighted"):
        row: list[Any] = [f"{avg} average"]
        for c in cols:
            row.append(total if c == "support" else metrics.get(f"{c}_{avg}"))
        foot.append(row)
    return scroll(table(["class", *cols], rows, foot=foot))


def _checked(counts: list[list[int]] | None) -> list[list[int]]:
    """The confusion counts, or a DataError (shown in the report) when evaluation.json's are
    not a square table of counts."""
    if counts is None:
        raise DataError("evaluation.json's confusion matrix is not a square table of counts")
    return counts


def _evaluation(f: RunFacts) -> str:
    ev = f.evaluation
    if not ev:
        how = " (run 'deepfuse evaluate RUN')" if f.supervised else ""
        return not_applicable(f"No evaluation.json in this run{how}.")
    metrics = ev.get("metrics") or {}
    head = f"<p class='muted'>{num(ev.get('n'))} test rows.</p>"
    tables = table(["metric", "value"], list(metrics.items())) + _per_class_table(ev)
    parts = [head, f'<div class="row">{tables}</div>']
    matrix, curves = ev.get("confusion_matrix"), ev.get("curves") or {}
    counts = confusion_counts(matrix.get("counts")) if isinstance(matrix, dict) else None
    cal, res = ev.get("calibration"), ev.get("residuals")
    # (part, drawn when, PNG maker, caption, wide): each part drawn (or failed) independently
    plots: list[tuple[str, Any, Callable[[], bytes], str, bool]] = [
        ("Confusion matrix", matrix,
         lambda: png_bytes(
             viz_function("plot_confusion_matrix")(_checked(counts), matrix.get("labels")),
             tight=len(_checked(counts)) <= 4,  # small figure, long title: crop
         ),
         "confusion matrix: colour = share of the true class, numbers = rows", False),
        ("ROC curves", curves.get("roc"),
         lambda: png_bytes(viz_function("plot_roc")(curves["roc"])),
         "ROC, one curve per class", False),
        ("Precision-recall curves", curves.get("pr"),
         lambda: png_bytes(viz_function("plot_pr")(curves["pr"])),
         "precision-recall, one curve per class", False),
        ("Reliability curve", cal, lambda: png_bytes(plot_reliability(cal)),
         f"calibration: observed rate per bin of {(cal or {}).get('of') or 'confidence'}", False),
        ("Residual plots", res, lambda: png_bytes(plot_residuals(res)),
         "residuals (sampled rows)", True),
    ]  # fmt: skip
    figs = [
        guarded(part, lambda d=draw, c=caption, w=wide: figure(d(), c, wide=w))
        for part, shown, draw, caption, wide in plots
        if shown
    ]
    if res:
        q = res.get("quantiles") or {}
        parts.append(
            "<h3>Residuals</h3>"
            + table(
                ["mean", "std", "min", *(f"q{k}" for k in q), "max"],
                [[res.get("mean"), res.get("std"), res.get("min"), *q.values(), res.get("max")]],
            )
        )
    parts.append(grid(*figs))
    notes = ev.get("notes") or []
    if notes:
        parts.append("<h3>Notes</h3><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    return "".join(parts)


def config_section(f: RunFacts) -> str:
    """The "Config" section: config.yaml as the run wrote it."""
    text = f.config_text
    if not text:
        return not_applicable("No config.yaml in this folder.")
    return (
        "<p class='muted'>The resolved config (defaults filled in), as config.yaml holds it.</p>"
        + (f"<pre>{esc(text)}</pre>")
    )


def _timings(f: RunFacts) -> str:
    m = f.metrics
    times = [e["time"] for e in f.run.epochs() if e.get("time") is not None]
    rows = m.get("rows") or {}
    train_rows = rows.get("train") or 0
    summary = [
        ("training (fit)", fmt_seconds(m.get("train_time_s"))),
        ("evaluation of the test split", fmt_seconds(m.get("eval_time_s"))),
        ("report.html at the end of training", fmt_seconds(m.get("report_time_s"))),
        ("this report (until written)", fmt_seconds(time.perf_counter() - f.started)),
    ]
    if "report_time_s" not in m:  # being written by training itself: the line below says it
        summary.pop(2)
    if times and train_rows:
        summary.append(("training rows per second (mean epoch)",
                        num(train_rows / (sum(times) / len(times)), 0)))  # fmt: skip
    html = kv_table(summary)
    if times:
        html += "<h3>Per epoch</h3>" + table(
            ["epoch", "time"], [(i + 1, fmt_seconds(t)) for i, t in enumerate(times)]
        )
    return html


def environment_section(f: RunFacts) -> str:
    """The "Environment" section: versions and machine, as recorded at training time."""
    recorded = f.metrics.get("environment")
    note = "<p class='muted'>Recorded when the run was trained.</p>"
    if not recorded:
        recorded = environment()
        note = (
            "<p class='muted'>This run did not record its environment; shown is the one "
            "that wrote this report.</p>"
        )
    return note + kv_table(list(recorded.items()))
