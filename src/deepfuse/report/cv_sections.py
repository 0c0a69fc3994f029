"""The sections of a ``deepfuse cv`` folder's ``report.html``: summary (mean ± std per metric),
the per-fold table and the per-fold curves, then the config and the environment."""

from __future__ import annotations

from deepfuse.report.context import RunFacts, guarded, make_sections
from deepfuse.report.figures import plot_fold_curves, png_bytes
from deepfuse.report.html import (
    Markup,
    Section,
    esc,
    figure,
    fmt_seconds,
    kv_table,
    not_applicable,
    num,
    scroll,
    table,
)
from deepfuse.report.sections import config_section, environment_section

__all__ = ["cv_sections"]


def cv_sections(facts: RunFacts) -> list[Section]:
    """The sections of a ``deepfuse cv`` folder's report."""
    makers = [
        ("summary", "Summary", _cv_summary),
        ("folds", "Folds", _cv_folds),
        ("curves", "Curves", _cv_curves),
        ("config", "Config", config_section),
        ("environment", "Environment", environment_section),
    ]
    return make_sections(facts, makers)


def _cv_summary(f: RunFacts) -> str:
    cv = f.cv
    summary = cv.get("summary") or {}
    cards = "".join(
        f'<div class="card"><div class="k">{esc(k)}</div><div class="v">'
        f"{num(s.get('mean'))} <span class='muted'>± {num(s.get('std'))}</span></div></div>"
        for k, s in list(summary.items())[:4]
    )
    facts = [
        ("name", cv.get("name")),
        ("folds", cv.get("folds")),
        ("task", cv.get("task")),
        ("rows", cv.get("rows")),
        ("stratified", cv.get("stratified")),
        ("seed", cv.get("seed")),
        ("classes", len(cv["classes"]) if cv.get("classes") else None),
        ("total time", fmt_seconds(sum(cv.get("fold_times_s") or []) or None)),
    ]
    note = (
        "<p class='muted'>Mean ± standard deviation over the folds (population std, "
        "ddof=0, as numpy.std).</p>"
    )
    return f'<div class="cards">{cards}</div>' + note + kv_table(facts)


def _cv_folds(f: RunFacts) -> str:
    cv = f.cv
    names = cv.get("metrics") or []
    per_fold = cv.get("per_fold") or []
    times = cv.get("fold_times_s") or []
    with_time = len(times) == len(per_fold)
    headers = ["fold", "train rows", "test rows", *names] + (["time"] if with_time else [])
    rows = []
    for i, row in enumerate(per_fold):
        cells = [row.get("fold"), row.get("train_rows"), row.get("test_rows")]
        cells += [row.get(m) for m in names]
        if with_time:
            cells.append(fmt_seconds(times[i]))
        rows.append(cells)
    summary = cv.get("summary") or {}
    pad = [""] if with_time else []
    foot = [
        ["mean", "", "", *(summary.get(m, {}).get("mean") for m in names), *pad],
        ["std", "", "", *(summary.get(m, {}).get("std") for m in names), *pad],
        [
            "mean ± std",
            "",
            "",
            *(
                Markup(
                    f"{num(summary.get(m, {}).get('mean'))} ± {num(summary.get(m, {}).get('std'))}"
                )
                for m in names
            ),
            *pad,
        ],
    ]
    return scroll(table(headers, rows, foot=foot, cls="folds"))


def _cv_curves(f: RunFacts) -> str:
    histories = f.cv.get("histories") or []
    if not histories:
        return not_applicable("The folds' per-epoch values were not recorded.")
    return guarded(
        "The per-fold curves",
        lambda: figure(png_bytes(plot_fold_curves(histories)), "per-fold curves", wide=True),
    )
