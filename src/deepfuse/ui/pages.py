"""Server-rendered HTML of the dashboard pages (plain strings, every value escaped).

The pages work without JavaScript for what is static (tables, the confusion matrix, the config
diff); ``static/app.js`` adds sorting, the SVG curves and the live updates. No page loads
anything from another host: no CDN, no web fonts.

Example:
    >>> page = runs_page([{"name": "a<b", "status": "finished", "started": None, "task": None,
    ...                    "epochs": 1, "planned_epochs": 1, "metrics": {}, "report": False}])
    >>> "a&lt;b" in page and "a<b" not in page
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

__all__ = ["compare_page", "error_page", "no_report_page", "run_page", "runs_page"]

#: One colour per run on the compare page (the JS uses the same list).
PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _url(name: str) -> str:
    return "/runs/" + quote(name, safe="")


def _fmt(value: Any) -> str:
    """A number for a table cell: ints as they are, floats with 4 significant decimals."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) >= 100 else f"{value:.4f}"
    if isinstance(value, list | dict):
        text = json.dumps(value, default=str)  # bounded by the caller (ui.runs.bounded)
        return text if len(text) <= 200 else text[:199] + "…"
    return str(value)


def _layout(title: str, body: str, *, script: bool = True, active: str = "") -> str:
    nav = (
        f'<a href="/" class="{"on" if active == "runs" else ""}">Runs</a>'
        f'<a href="/compare" class="{"on" if active == "compare" else ""}">Compare</a>'
    )
    js = '<script src="/static/app.js" defer></script>' if script else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · deepfuse</title>"
        # an empty icon: the browser asks for no /favicon.ico
        '<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/app.css">'
        f"{js}</head><body>"
        f'<header class="top"><a class="brand" href="/">deepfuse</a><nav>{nav}</nav>'
        '<span class="readonly">read-only</span></header>'
        f"<main>{body}</main></body></html>\n"
    )


#: A run in progress that wrote nothing for this long is shown as stalled (killed or hung):
#: a live run flushes its steps.csv every second.
STALLED_AFTER_S = 300


def _badge(status: str, idle_s: float | None = None) -> str:
    if status == "in progress" and idle_s is not None and idle_s >= STALLED_AFTER_S:
        minutes = int(idle_s // 60)
        return (
            f'<span class="badge stalled" title="a killed run can be continued with '
            f'deepfuse train --resume">no update for {minutes} min</span>'
        )
    kind = "live" if status == "in progress" else "done"
    return f'<span class="badge {kind}">{_e(status)}</span>'


# ----------------------------------------------------------------------------- runs list
def runs_page(runs: Sequence[Mapping[str, Any]], *, runs_dir: str = "") -> str:
    """The runs table: one column per metric, sortable (JS), checkboxes to compare runs."""
    metric_keys = _metric_columns(runs)
    head = [
        '<th class="pick" data-nosort></th>',
        '<th data-type="text">run</th>',
        '<th data-type="text">status</th>',
        '<th data-type="text" aria-sort="descending">started</th>',
        '<th data-type="text">task</th>',
        '<th class="num" data-type="num">epochs</th>',
        *(
            f'<th class="num" data-type="num" data-key="{_e(k)}">{_head(k)}</th>'
            for k in metric_keys
        ),
    ]
    rows = []
    for run in runs:
        name = run["name"]
        epochs = run.get("epochs")
        planned = run.get("planned_epochs")
        shown = (
            f"{_fmt(epochs)}/{_fmt(planned)}" if run["status"] == "in progress" else _fmt(epochs)
        )
        cells = [
            f'<td class="pick"><input type="checkbox" name="runs" value="{_e(name)}" '
            f'aria-label="select {_e(name)}"></td>',
            f'<td data-value="{_e(name)}"><a href="{_url(name)}">{_e(name)}</a>'
            f"{_unreadable_note(run.get('error'))}</td>",
            f'<td data-value="{_e(run["status"])}">{_badge(run["status"], run.get("idle_s"))}</td>',
            f'<td data-value="{_e(run.get("started") or "")}">'
            f"{_e((run.get('started') or '—')[:16])}</td>",
            f'<td data-value="{_e(run.get("task") or "")}">{_e(run.get("task") or "—")}</td>',
            f'<td class="num" data-value="{_e(epochs if epochs is not None else "")}">{shown}</td>',
        ]
        for key in metric_keys:
            value = run["metrics"].get(key)
            cells.append(
                f'<td class="num" data-value="{_e(value if value is not None else "")}">'
                f"{_fmt(value)}</td>"
            )
        rows.append(f'<tr data-run="{_e(name)}">{"".join(cells)}</tr>')
    if not runs:
        table = (
            f'<p class="empty">No runs in <code>{_e(runs_dir)}</code> yet. Train one with '
            "<code>deepfuse train CONFIG --out " + _e(runs_dir) + "</code>.</p>"
        )
    else:
        table = (
            '<div class="scroll"><table id="runs" class="data sortable">'
            f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
    body = (
        '<form method="get" action="/compare" id="compare-form">'
        '<div class="titlebar"><h1>Runs</h1>'
        f'<span class="muted">{len(runs)} run{"s" if len(runs) != 1 else ""} in '
        f"<code>{_e(runs_dir)}</code> · click a column to sort</span>"
        '<button type="submit" id="compare-btn">Compare selected</button></div>'
        f"{table}</form>"
    )
    return _layout("Runs", body, active="runs")


def _unreadable_note(error: Any) -> str:
    """The reason a run's files could not all be read, under its name (``runs.summary``)."""
    if not error:
        return ""
    return f'<div class="unreadable muted" title="{_e(error)}">unreadable: {_e(error)}</div>'


def _head(key: str) -> str:
    """``test.accuracy`` as a small group name over the metric's name (narrower columns)."""
    group, dot, rest = key.partition(".")
    if not dot and key.endswith("_s"):  # train_time_s: "train" over "time (s)"
        group, _, rest = key[:-2].partition("_")
        rest += " (s)"
    elif not dot:
        return _e(key)
    return f'<span class="grp">{_e(group)}</span>{_e(rest)}'


def _metric_columns(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for run in runs:
        for key in run["metrics"]:
            seen.setdefault(key, None)
    order = {"test": 0, "final_epoch": 1}
    return sorted(seen, key=lambda k: (order.get(k.split(".")[0], 2), k.split(".")[1:] != ["loss"]))


# ----------------------------------------------------------------------------- one run
def run_page(detail: Mapping[str, Any], *, poll_ms: int = 1500) -> str:
    """A run: status, metrics, live curves, confusion matrix, the report and the config."""
    name = detail["name"]
    live = detail["status"] == "in progress"
    cards = "".join(
        f'<div class="card"><div class="k">{_e(k)}</div><div class="v">{_fmt(v)}</div></div>'
        for k, v in detail["metrics"].items()
        if k.startswith("test.") or k == "train_time_s"
    )
    epochs = detail.get("epochs")
    facts = [
        ("started", detail.get("started") or "—"),
        ("task", detail.get("task") or "—"),
        ("epochs", f"{_fmt(epochs)} of {_fmt(detail.get('planned_epochs'))}"),
    ]
    facts_html = "".join(f"<span><b>{_e(k)}</b> {_e(v)}</span>" for k, v in facts)
    ev = detail.get("evaluation")
    samples = _samples_section(name, detail.get("samples") or [])
    sections = [
        f'<div class="titlebar"><h1>{_e(name)}</h1>{_badge(detail["status"])}'
        f'<span id="live-note" class="muted"></span></div>',
        _unreadable_note(detail.get("error")),
        f'<div class="facts">{facts_html}</div>',
        f'<div class="cards">{cards}</div>' if cards else "",
        "<section><h2>Training curves</h2>"
        f'<div id="curves" class="charts" data-run="{_e(name)}" data-live="{str(live).lower()}" '
        f'data-poll="{int(poll_ms)}"><p class="muted nojs">The curves need JavaScript.</p></div>'
        "</section>",
        samples,
    ]
    if ev is not None:
        sections.append(_evaluation_section(ev))
    elif live:
        sections.append(
            '<section><h2>Evaluation</h2><p class="muted">The confusion matrix and the report '
            "appear when the run finishes (this page reloads itself).</p></section>"
        )
    if not live:
        if detail.get("report"):
            report = (
                f'<p><a href="{_url(name)}/report" target="_blank" rel="noopener">Open the report '
                "in its own tab</a></p>"
                f'<iframe class="report" src="{_url(name)}/report" sandbox title="report of '
                f'{_e(name)}"></iframe>'
            )
        else:
            report = (
                '<p class="muted">This run has no report.html (runs written before reports '
                f"existed). Make one with <code>deepfuse report {_e(name)}</code>.</p>"
            )
        sections.append(f"<section><h2>Report</h2>{report}</section>")
    import yaml

    config = yaml.safe_dump(detail.get("config") or {}, sort_keys=False, default_flow_style=False)
    sections.append(f'<section><h2>Config</h2><pre class="config">{_e(config)}</pre></section>')
    return _layout(name, "".join(sections))


def _samples_section(name: str, epochs: Sequence[Any]) -> str:
    """A generator run's latest sample grid, large, and the strip of grids over the epochs."""
    from deepfuse.report.generative import MAX_GRIDS, pick_evenly
    from deepfuse.run.layout import sample_grid_file

    epochs = [e for e in epochs if isinstance(e, int) and not isinstance(e, bool)]
    if not epochs:
        return ""

    def img(epoch: int, cls: str) -> str:
        src = f"{_url(name)}/samples/{sample_grid_file(epoch)}"
        return (
            f'<figure class="{cls}"><img src="{_e(src)}" alt="samples of epoch {epoch}">'
            f"<figcaption>epoch {epoch}</figcaption></figure>"
        )

    strip = "".join(img(e, "grid") for e in pick_evenly(epochs, MAX_GRIDS))
    return (
        '<section id="samples"><h2>Samples</h2>'
        '<p class="muted">The same noise every epoch: the latest grid, then how it formed.</p>'
        f'<div class="latest">{img(epochs[-1], "grid latest")}</div>'
        f'<div class="strip" style="display:flex;gap:8px;overflow-x:auto">{strip}</div>'
        "</section>"
    )


def _evaluation_section(ev: Mapping[str, Any]) -> str:
    parts = ['<section><h2>Evaluation</h2><div class="evalgrid">']
    metrics = ev.get("metrics") or {}
    if metrics:
        rows = "".join(
            f'<tr><th>{_e(k)}</th><td class="num">{_fmt(v)}</td></tr>' for k, v in metrics.items()
        )
        parts.append(
            f"<div><h3>Test metrics (n = {_e(ev.get('n'))})</h3>"
            f'<table class="data kv">{rows}</table></div>'
        )
    cm = ev.get("confusion_matrix")
    if cm and cm.get("counts"):
        parts.append(f"<div><h3>Confusion matrix</h3>{confusion_table(cm)}</div>")
    notes = "".join(f"<li>{_e(note)}</li>" for note in ev.get("notes") or [])
    parts.append(
        f'</div><ul class="notes muted">{notes}</ul></section>' if notes else "</div></section>"
    )
    return "".join(parts)


def confusion_table(cm: Mapping[str, Any]) -> str:
    """The confusion matrix as a heat-map table (rows: true class, columns: predicted).

    Each cell's shade is its share of the true class (its row), so recall reads along the
    diagonal.

    Example:
        >>> html = confusion_table({"labels": ["a", "b"], "counts": [[3, 1], [0, 4]]})
        >>> html.count('class="cell'), 'data-count="4"' in html
        (4, True)
    """
    labels = list(cm.get("labels") or [])
    counts = [[_count(c) for c in row] for row in cm.get("counts") or [] if isinstance(row, list)]
    if len(labels) != len(counts):
        labels = list(range(len(counts)))
    head = "".join(f'<th scope="col">{_e(label)}</th>' for label in labels)
    rows = []
    for label, row in zip(labels, counts):
        row = row[: len(labels)]
        total = sum(row) or 1
        cells = []
        for j, count in enumerate(row):
            share = count / total
            alpha = 0.06 + 0.94 * share if count else 0.0
            ink = "#fff" if share > 0.5 else "#111827"
            diag = " diag" if label == labels[j] else ""
            cells.append(
                f'<td class="cell{diag}" data-count="{int(count)}" title="true {_e(label)}, '
                f'predicted {_e(labels[j])}: {int(count)} ({share:.1%} of the row)" '
                f'style="background:rgba(37,99,235,{alpha:.3f});color:{ink}">{int(count)}</td>'
            )
        rows.append(f'<tr><th scope="row">{_e(label)}</th>{"".join(cells)}</tr>')
    return (
        '<table id="confusion" class="confusion"><caption>rows: true class · columns: '
        "predicted class · shade: share of the row</caption>"
        f'<thead><tr><th class="corner">true \\ pred</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _count(value: Any) -> int:
    """A cell of the confusion matrix as a count (anything else, from a damaged file: 0)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0
    return int(number) if number == number and abs(number) != float("inf") and number > 0 else 0


# ----------------------------------------------------------------------------- compare
def compare_page(
    details: Sequence[Mapping[str, Any]],
    diff: Sequence[Mapping[str, Any]],
    *,
    all_runs: Sequence[str] = (),
) -> str:
    """Several runs: overlaid curves (JS), metrics side by side and the config diff."""
    names = [d["name"] for d in details]
    if len(names) < 2:
        options = "".join(
            f'<label class="opt"><input type="checkbox" name="runs" value="{_e(n)}"'
            f"{' checked' if n in names else ''}> {_e(n)}</label>"
            for n in all_runs
        )
        body = (
            '<div class="titlebar"><h1>Compare runs</h1></div>'
            '<p class="muted">Pick two or more runs.</p>'
            f'<form method="get" action="/compare" class="picker">{options}'
            '<button type="submit">Compare</button></form>'
        )
        return _layout("Compare", body, active="compare")
    legend = "".join(
        f'<span class="key"><i style="background:{PALETTE[i % len(PALETTE)]}"></i>'
        f'<a href="{_url(d["name"])}">{_e(d["name"])}</a>'
        + (" (in progress)" if d["status"] == "in progress" else "")
        + "</span>"
        for i, d in enumerate(details)
    )
    keys: dict[str, None] = {}
    for d in details:
        for k in d["metrics"]:
            keys.setdefault(k, None)
    head = "".join(f'<th scope="col">{_e(n)}</th>' for n in names)
    metric_rows = "".join(
        f'<tr><th scope="row">{_e(k)}</th>'
        + "".join(f'<td class="num">{_fmt(d["metrics"].get(k))}</td>' for d in details)
        + "</tr>"
        for k in keys
    )
    if diff:
        diff_rows = "".join(
            f'<tr data-key="{_e(row["key"])}"><th scope="row"><code>{_e(row["key"])}</code></th>'
            + "".join(
                '<td class="absent">(not set)</td>'
                if n in row["missing"]
                else f"<td><code>{_e(_fmt(row['values'][n]))}</code></td>"
                for n in names
            )
            + "</tr>"
            for row in diff
        )
        diff_html = (
            f'<table id="config-diff" class="data diff"><thead><tr><th>key</th>{head}</tr>'
            f"</thead><tbody>{diff_rows}</tbody></table>"
        )
    else:
        diff_html = '<p class="muted" id="config-diff">The configs are identical.</p>'
    runs_attr = _e(json.dumps(names))
    body = (
        f'<div class="titlebar"><h1>Compare {len(names)} runs</h1></div>'
        f'<div class="legend">{legend}</div>'
        "<section><h2>Curves</h2>"
        f'<div id="compare-curves" class="charts" data-runs="{runs_attr}">'
        '<p class="muted nojs">The curves need JavaScript.</p></div></section>'
        "<section><h2>Metrics</h2>"
        f'<div class="scroll"><table id="compare-metrics" class="data"><thead><tr><th>metric</th>'
        f"{head}</tr></thead><tbody>{metric_rows}</tbody></table></div></section>"
        f'<section><h2>Config diff</h2><div class="scroll">{diff_html}</div></section>'
    )
    return _layout("Compare", body, active="compare")


# ----------------------------------------------------------------------------- other pages
def error_page(status: int, message: str) -> str:
    """A short page for 400/404 answers (the message is escaped)."""
    body = (
        f'<div class="titlebar"><h1>{status}</h1></div><p>{_e(message)}</p>'
        '<p><a href="/">Back to the runs</a></p>'
    )
    return _layout(str(status), body, script=False)


def no_report_page(name: str) -> str:
    """What /runs/NAME/report shows when the run has no report.html."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No report</title>'
        "<style>body{font:15px/1.5 system-ui,sans-serif;color:#374151;margin:2rem}</style>"
        f"</head><body><p>The run <b>{_e(name)}</b> has no <code>report.html</code> yet. A run "
        "gets one when it finishes; <code>deepfuse report RUN</code> writes one for an older "
        "run.</p></body></html>\n"
    )
