"""The report of a generator run (``metrics.json["task"] == "generate"``): "Samples" and
"Sample quality" after the summary, and "not applicable" in place of the classification-only
sections (:func:`generate_sections`).

* **Samples** - the strip of the fixed-noise grids the run saved each epoch
  (``samples/epoch-XXXX.png``; at most :data:`MAX_GRIDS`, evenly chosen with the first and the
  last, each embedded as a PNG of at most :data:`MAX_GRID_BYTES`) and the curve of
  ``classifier_fd`` over the epochs (``history.csv``) between the untrained generator (ceiling)
  and real training images (floor).
* **Sample quality** - ``evaluation.json``: the final generator, the untrained one and real
  training images, each scored against real test images (``classifier_fd``, precision,
  recall), the samples' class histogram, and the mode-collapse warning in plain sight.

Example:
    >>> pick_evenly([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 4)
    [1, 4, 7, 10]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from deepfuse._utils.safefiles import read_regular
from deepfuse.report.context import RunFacts, guarded
from deepfuse.report.html import (
    Markup,
    esc,
    figure,
    kv_table,
    not_applicable,
    num,
    png_data_uri,
    table,
)
from deepfuse.run import RunReader
from deepfuse.run.layout import SAMPLES_DIR

__all__ = [
    "CLASSIFICATION_ONLY",
    "GRID_NAME",
    "MAX_GRIDS",
    "MAX_GRID_BYTES",
    "generate_sections",
    "pick_evenly",
    "quality_section",
    "sample_grids",
    "samples_section",
]

#: Grids shown in the strip at most (evenly chosen over the epochs, first and last included).
MAX_GRIDS = 8
#: A grid PNG larger than this is left out of the page (the report stays small).
MAX_GRID_BYTES = 2_000_000
#: Sections of a classification run that say "not applicable" for a generator run.
CLASSIFICATION_ONLY = ("compare", "classes", "evaluation", "inside", "mistakes")
#: The name of a grid file (``run.layout.sample_grid_file``): nothing else is read or served.
GRID_NAME = re.compile(r"^epoch-(\d{4,9})\.png$")
_FD = "classifier_fd"
_FD_NAME = "Fréchet distance in classifier features (not Inception FID)"

Maker = tuple[str, str, Callable[[RunFacts], str]]


def generate_sections(makers: Sequence[Maker]) -> list[Maker]:
    """A run's section makers for a generator run: "Samples" and "Sample quality" after the
    summary; the classification-only sections replaced by a "not applicable" note."""
    out: list[Maker] = []
    for sid, title, make in makers:
        if sid in CLASSIFICATION_ONLY:
            make = _not_applicable
        out.append((sid, title, make))
        if sid == "summary":
            out += [
                ("samples", "Samples", samples_section),
                ("quality", "Sample quality", quality_section),
            ]
    return out


def _not_applicable(f: RunFacts) -> str:
    return not_applicable(
        "Not applicable: this run trains a generator (task: generate), not a classifier. "
        "See Samples and Sample quality."
    )


def pick_evenly(items: Sequence[Any], k: int) -> list[Any]:
    """At most ``k`` of ``items``, evenly spread, the first and the last always included."""
    if len(items) <= k:
        return list(items)
    if k <= 1:
        return [items[-1]]
    picks = sorted({round(i * (len(items) - 1) / (k - 1)) for i in range(k)})
    return [items[i] for i in picks]


def sample_grids(run: RunReader) -> list[tuple[int, str]]:
    """``(epoch, "samples/epoch-XXXX.png")`` of the run's grids, by epoch: only names of the
    layout, only regular files inside the run (the run's read rule). The dashboard lists
    them the same way."""
    folder = run.path / SAMPLES_DIR
    try:
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    except OSError:
        return []
    found = []
    for name in names:
        match = GRID_NAME.match(name)
        if match and run.file(f"{SAMPLES_DIR}/{name}") is not None:
            found.append((int(match.group(1)), f"{SAMPLES_DIR}/{name}"))
    return sorted(found)


def _grid_png(f: RunFacts, rel: str) -> bytes:
    return read_regular(f.run.path / rel, limit=MAX_GRID_BYTES, root=f.run.path, what="sample grid")


def samples_section(f: RunFacts) -> str:
    """The "Samples" section: the strip of per-epoch grids and the classifier_fd curve."""
    grids = sample_grids(f.run)
    parts = []
    if not grids:
        parts.append(not_applicable(f"No sample grids in this run ({SAMPLES_DIR}/epoch-XXXX.png)."))
    else:
        shown = pick_evenly(grids, MAX_GRIDS)
        figs = [
            guarded(f"The grid of epoch {e}", lambda r=rel, e=e: _tile(f, r, e)) for e, rel in shown
        ]
        parts.append(
            f"<p class='muted'>The same noise every epoch ({len(shown)} of {len(grids)} "
            "epochs shown, evenly spread): how the samples formed.</p>"
            '<div class="strip" style="display:flex;gap:8px;overflow-x:auto;'
            f'align-items:flex-start">{"".join(figs)}</div>'
        )
    parts.append(guarded("The classifier_fd curve", lambda: _fd_curve(f)))
    return "".join(parts)


def _tile(f: RunFacts, rel: str, epoch: int) -> str:
    png = _grid_png(f, rel)
    caption = f"epoch {epoch}"
    return (
        f'<figure class="fig" style="flex:0 0 auto;max-width:260px"><img src="{png_data_uri(png)}" '
        f'alt="{esc("samples of " + caption)}"><figcaption>{esc(caption)}</figcaption></figure>'
    )


def _fd_curve(f: RunFacts) -> str:
    values = [v for v in f.run.history().get(_FD, []) if not math.isnan(v)]
    if not values:
        return not_applicable(
            f"No per-epoch {_FD} in history.csv (the sample-quality callback did not run)."
        )
    from deepfuse.report.figures import _pyplot, png_bytes

    metrics = f.evaluation.get("metrics") or {}
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    epochs = range(1, len(values) + 1)
    ax.plot(epochs, values, marker="o", label="generator (each epoch)")
    for key, label, style in (
        ("classifier_fd_untrained", "untrained generator", ":"),
        ("classifier_fd_real_train", "real training images", "--"),
    ):
        if isinstance(metrics.get(key), int | float):
            ax.axhline(metrics[key], linestyle=style, color="grey", linewidth=1, label=label)
    if max(values) > 20 * max(min(values), 1e-9):
        ax.set_yscale("log")  # the fall spans orders of magnitude
    ax.set_xlabel("epoch")
    ax.set_ylabel(_FD)
    ax.set_title(f"{_FD}: lower is better")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    caption = f"{_FD_NAME}, per epoch (samples vs validation images)"
    return figure(png_bytes(fig), caption, wide=True)


def quality_section(f: RunFacts) -> str:
    """The "Sample quality" section: final vs untrained generator vs real training images."""
    ev = f.evaluation
    rows = ev.get("rows") if isinstance(ev.get("rows"), Mapping) else None
    if ev.get("task") != "generate" or not rows:
        return not_applicable("No sample-quality evaluation in this run's evaluation.json.")
    parts = [
        f'<div class="warn">{esc(w)}</div>' for w in ev.get("warnings") or [] if isinstance(w, str)
    ]
    parts.append(
        f"<p><strong>{esc(_FD)}</strong>: {esc(_FD_NAME)}. Lower is better; precision: share of "
        "samples that look real, recall: share of real images the samples cover (k-NN "
        "manifolds, k = 3). Read them together: a collapsed generator can score a high "
        "precision, never a high recall.</p>"
    )
    labelled = any("label_accuracy" in (r or {}) for r in rows.values())
    head = [
        "images scored",
        _FD,
        "precision",
        "recall",
        "class entropy",
        *(["label accuracy"] if labelled else []),
    ]
    body = []
    for key, label in (
        ("final", "final generator"),
        ("untrained", "untrained generator (ceiling)"),
        ("real_train", "real training images (floor)"),
    ):
        r = rows.get(key)
        if not isinstance(r, Mapping):
            continue
        hist = r.get("histogram") or {}
        body.append(
            [label, r.get(_FD), r.get("precision"), r.get("recall"), hist.get("normalised_entropy"),
             *([r.get("label_accuracy")] if labelled else [])]
        )  # fmt: skip
    parts.append(table(head, body))
    parts.append(_histogram_table(rows))
    facts = ev.get("scorer") or {}
    if facts:
        parts.append(
            "<h3>The scorer</h3>"
            + kv_table(
                [
                    ("test accuracy", facts.get("test_accuracy")),
                    ("validation accuracy", facts.get("val_accuracy")),
                    ("training images", facts.get("rows")),
                    ("training time (s)", facts.get("seconds")),
                ]
            )
        )
    notes = [
        n
        for n in ev.get("notes") or []
        if isinstance(n, str) and n not in (ev.get("warnings") or [])
    ]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    return "".join(parts)


def _histogram_table(rows: Mapping[str, Any]) -> str:
    """Samples per class (by the scorer): the final generator next to real training images."""
    final = (rows.get("final") or {}).get("histogram") or {}
    real = (rows.get("real_train") or {}).get("histogram") or {}
    counts = final.get("counts") or []
    if not counts:
        return ""
    names = final.get("classes") or [str(i) for i in range(len(counts))]
    shares, real_shares = final.get("shares") or [], real.get("shares") or []
    body = [
        [str(name), count, _pct(shares, i), _pct(real_shares, i)]
        for i, (name, count) in enumerate(zip(names, counts))
    ]
    return "<h3>Classes of the samples (by the scorer)</h3>" + table(
        ["class", "samples", "share", "share of real images"], body
    )


def _pct(shares: Sequence[Any], i: int) -> Markup:
    value = shares[i] if i < len(shares) else None
    return Markup(f"{100 * value:.1f}%") if isinstance(value, int | float) else num(None)
