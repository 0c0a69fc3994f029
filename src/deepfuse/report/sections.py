"""The facts and figures of ``report.html``, one function per section.

Each section reads what the run directory holds (``config.yaml``, ``metrics.json``,
``evaluation.json``, ``history.csv``, ``model.json``, ``histograms.json``; ``cv.json`` for
``deepfuse cv``) through a :class:`RunFacts`, plus the model and its test rows for the parts that
look inside the model. Every part is independent: :func:`guarded` turns an exception into a
visible "could not be drawn" block and a :class:`ReportWarning`, so one broken plot never costs
the rest of the report.

Example:
    >>> env = environment()
    >>> env["device"], {"python", "torch", "numpy", "deepfuse", "cpu_count"} <= set(env)
    ('cpu', True)
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepfuse.report.figures import (
    plot_reliability,
    plot_residuals,
    plot_steps,
    png_bytes,
)
from deepfuse.report.html import (
    Markup,
    Section,
    esc,
    failed,
    figure,
    not_applicable,
    num,
    table,
)

__all__ = [
    "ReportWarning",
    "RunFacts",
    "data_summary",
    "environment",
    "guarded",
    "run_sections",
]

#: Confidently wrong examples shown (at most).
MAX_ERRORS = 16


class ReportWarning(UserWarning):
    """A part of ``report.html`` could not be made; the page says which and why."""


def guarded(what: str, make: Callable[[], str]) -> str:
    """``make()``, or a visible failure block (and a :class:`ReportWarning`) if it raises."""
    try:
        return make()
    except Exception as exc:  # any failure of one part must leave the rest of the report
        warnings.warn(
            f"report.html: {what} could not be drawn: {type(exc).__name__}: {exc}",
            ReportWarning,
            stacklevel=2,
        )
        return failed(what, exc)


def _viz(name: str) -> Any:
    """A function of :mod:`deepfuse.viz` by name (looked up at use: plots land independently)."""
    viz = importlib.import_module("deepfuse.viz")
    if hasattr(viz, name):
        return getattr(viz, name)
    for module in ("features", "projection", "examples", "images", "histograms"):
        try:
            sub = importlib.import_module(f"deepfuse.viz.{module}")
        except ImportError:
            continue
        if hasattr(sub, name):
            return getattr(sub, name)
    raise ImportError(f"deepfuse.viz has no {name}() in this installation")


# ----------------------------------------------------------------------------- facts


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class RunFacts:
    """What a run directory holds, read once; the model and test rows are loaded on demand."""

    run_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    model: Any = None
    test_data: Any = None
    _probe: Any = None
    _cache: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def config_text(self) -> str:
        path = self.run_dir / "config.yaml"
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    @property
    def config(self) -> dict[str, Any]:
        if "config" not in self._cache:
            import yaml

            self._cache["config"] = yaml.safe_load(self.config_text) or {}
        return self._cache["config"]

    def json(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = _read_json(self.run_dir / name)
        return self._cache[name]

    @property
    def evaluation(self) -> dict[str, Any]:
        return self.json("evaluation.json") or {}

    @property
    def meta(self) -> dict[str, Any]:
        return self.json("model.json") or {}

    @property
    def task(self) -> str | None:
        return self.metrics.get("task") or self.evaluation.get("task")

    @property
    def classes(self) -> list[Any] | None:
        classes = self.metrics.get("classes") or self.evaluation.get("classes")
        return list(classes) if classes else None

    @property
    def class_names(self) -> list[str] | None:
        return None if self.classes is None else [str(c) for c in self.classes]

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.meta.get("name") or self.run_dir.name)

    def loaded_model(self) -> Any:
        """The run's model: the one given, else loaded from the run (safetensors + JSON)."""
        if self.model is None:
            from deepfuse.models.serialization import load_model

            self.model = self._once("model", lambda: load_model(self.run_dir))
        return self.model

    def probe(self) -> Any:
        """One forward pass over at most 1,000 test rows (cached; see :mod:`.probe`)."""
        if self._probe is None:
            from deepfuse.report.probe import probe

            model = self.loaded_model()
            if self.test_data is None:
                from deepfuse.data.routes import test_feed_of

                self.test_data = self._once(
                    "test rows", lambda: test_feed_of(self.config, preprocessor=model.preprocessor)
                )
            self._probe = self._once("probe", lambda: probe(model, self.test_data))
        return self._probe

    def _once(self, what: str, make: Callable[[], Any]) -> Any:
        """``make()``; a failure is remembered, so the parts that need it fail fast, alike."""
        key = f"error:{what}"
        if key in self._cache:
            raise self._cache[key]
        try:
            return make()
        except Exception as exc:
            self._cache[key] = exc
            raise


# ----------------------------------------------------------------------------- small helpers


def _fmt_seconds(s: Any) -> str:
    if not isinstance(s, int | float) or math.isnan(s):
        return "—"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.2f} s"
    return f"{int(s // 60)} min {s % 60:.0f} s"


def _cards(pairs: Sequence[tuple[str, Any]]) -> str:
    cards = "".join(
        f'<div class="card"><div class="k">{esc(k)}</div><div class="v">{num(v)}</div></div>'
        for k, v in pairs
        if isinstance(v, int | float)
    )
    return f'<div class="cards">{cards}</div>' if cards else ""


def _grid(*parts: str) -> str:
    return f'<div class="grid">{"".join(p for p in parts if p)}</div>'


def _scroll(html: str) -> str:
    return f'<div class="scroll">{html}</div>'


def _kv(rows: Sequence[tuple[str, Any]]) -> str:
    return table([], [(k, v) for k, v in rows if v is not None], cls="kv")


def _history_times(path: Path) -> list[float]:
    """Per-epoch wall times from history.csv's ``time`` column (the epoch's last row)."""
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    last: dict[str, dict[str, str]] = {}
    for row in rows:
        last[row.get("epoch", "")] = row
    out = []
    for row in last.values():
        value = row.get("time")
        if value not in (None, ""):
            out.append(float(value))
    return out


def _has_conv2d(model: Any) -> bool:
    import torch

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d) or (
            type(m).__name__ == "Conv2D" and type(m).__module__.startswith("deepfuse.layers")
        ):
            return True
    return False


def _image_key(rows: Mapping[str, Any], model: Any) -> str | None:
    """The key of a float image input ``(N, C, H, W)`` / ``(N, H, W)``, if the model has one."""
    target = getattr(model, "target_key", None)
    for k, v in rows.items():
        if k != target and v.is_floating_point() and v.dim() in (3, 4):
            return k
    return None


# ----------------------------------------------------------------------------- run sections


def run_sections(facts: RunFacts) -> list[Section]:
    """The sections of a training run's report, in page order."""
    makers = [
        ("summary", "Summary", _summary),
        ("curves", "Curves", _curves),
        ("evaluation", "Evaluation", _evaluation),
        ("inside", "Inside the model", _inside),
        ("mistakes", "Mistakes", _mistakes),
        ("data", "Data", _data),
        ("model", "Model", _model),
        ("config", "Config", _config),
        ("timings", "Timings", _timings),
        ("environment", "Environment", _environment),
    ]
    return [
        Section(sid, title, guarded(f"The {title.lower()} section", lambda f=fn: f(facts)))
        for sid, title, fn in makers
    ]


def _summary(f: RunFacts) -> str:
    m, ev = f.metrics, f.evaluation.get("metrics") or {}
    test = m.get("test") or {}
    if f.task == "regression":
        keys = ("rmse", "mae", "r2")
    elif f.task == "binary":
        keys = ("accuracy", "f1", "roc_auc")
    else:
        keys = ("accuracy", "f1_macro", "roc_auc_macro")
    cards = [(k, ev.get(k, test.get(k))) for k in keys] + [("test loss", test.get("loss"))]
    rows = m.get("rows") or {}
    arch = f.meta.get("architecture") or {}
    facts = [
        ("run", f.name),
        ("folder", f.run_dir.name.removesuffix(".partial")),
        ("task", f.task),
        ("classes", len(f.classes) if f.classes else None),
        ("model", arch.get("name") or arch.get("kind")),
        ("parameters", f.meta.get("num_parameters")),
        ("epochs", m.get("epochs")),
        ("rows (train / validation / test)",
         " / ".join(f"{rows.get(k, 0):,}" for k in ("train", "validation", "test")) if rows else None),
        ("training time", _fmt_seconds(m.get("train_time_s"))),
        ("started", m.get("started_at")),
        ("finished", m.get("finished_at")),
        ("report written", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())),
    ]  # fmt: skip
    test_table = table(["test metric (compiled)", "value"], [(k, v) for k, v in test.items()])
    return _cards(cards) + _grid(_kv(facts), test_table)


def _curves(f: RunFacts) -> str:
    path = f.run_dir / "history.csv"
    if not path.is_file():
        return not_applicable("No history.csv in this run.")

    def draw() -> str:
        history = _viz("read_history")(path)
        history = {k: v for k, v in history.items() if any(not math.isnan(x) for x in v)}
        if not history:
            return not_applicable("history.csv holds no per-epoch values.")
        fig = _viz("plot_curves")(history)
        caption = "training (train) and validation values per epoch"
        return figure(png_bytes(fig), caption, wide=True)

    def draw_steps() -> str:
        steps, loss, lr = _step_rows(path)
        if len(steps) < 2:
            return ""
        caption = "per optimizer step: training loss and learning rate"
        return figure(png_bytes(plot_steps(steps, loss, lr)), caption, wide=True)

    return _grid(guarded("Training curves", draw), guarded("Per-step curves", draw_steps))


def _step_rows(path: Path) -> tuple[list[float], list[float], list[float]]:
    """``global_step``, ``loss`` and ``lr`` of every per-step row of history.csv."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("global_step") and r.get("loss")]
    steps = [float(r["global_step"]) for r in rows]
    loss = [float(r["loss"]) for r in rows]
    lr = [float(r["lr"]) if r.get("lr") else math.nan for r in rows]
    return steps, loss, lr


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
    return _scroll(table(["class", *cols], rows, foot=foot))


def _evaluation(f: RunFacts) -> str:
    ev = f.evaluation
    if not ev:
        return not_applicable("No evaluation.json in this run (run 'deepfuse evaluate RUN').")
    metrics = ev.get("metrics") or {}
    head = f"<p class='muted'>{num(ev.get('n'))} test rows.</p>"
    tables = table(["metric", "value"], list(metrics.items())) + _per_class_table(ev)
    parts = [head, f'<div class="row">{tables}</div>']
    figs = []
    matrix = ev.get("confusion_matrix")
    if matrix:
        figs.append(
            guarded(
                "Confusion matrix",
                lambda: figure(
                    png_bytes(
                        _viz("plot_confusion_matrix")(matrix["counts"], matrix.get("labels")),
                        tight=len(matrix["counts"]) <= 4,  # small figure, long title: crop
                    ),
                    "confusion matrix: colour = share of the true class, numbers = rows",
                ),
            )
        )
    curves = ev.get("curves") or {}
    if curves.get("roc"):
        figs.append(
            guarded(
                "ROC curves",
                lambda: figure(
                    png_bytes(_viz("plot_roc")(curves["roc"])), "ROC, one curve per class"
                ),
            )
        )
    if curves.get("pr"):
        figs.append(
            guarded(
                "Precision-recall curves",
                lambda: figure(
                    png_bytes(_viz("plot_pr")(curves["pr"])),
                    "precision-recall, one curve per class",
                ),
            )
        )
    if ev.get("calibration"):
        cal = ev["calibration"]
        figs.append(
            guarded(
                "Reliability curve",
                lambda: figure(
                    png_bytes(plot_reliability(cal)),
                    f"calibration: observed rate per bin of {cal.get('of') or 'confidence'}",
                ),
            )
        )
    if ev.get("residuals"):
        res = ev["residuals"]
        figs.append(
            guarded(
                "Residual plots",
                lambda: figure(
                    png_bytes(plot_residuals(res)), "residuals (sampled rows)", wide=True
                ),
            )
        )
        q = res.get("quantiles") or {}
        parts.append(
            "<h3>Residuals</h3>"
            + table(
                ["mean", "std", "min", *(f"q{k}" for k in q), "max"],
                [[res.get("mean"), res.get("std"), res.get("min"), *q.values(), res.get("max")]],
            )
        )
    parts.append(_grid(*figs))
    notes = ev.get("notes") or []
    if notes:
        parts.append("<h3>Notes</h3><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    return "".join(parts)


def _inside(f: RunFacts) -> str:
    parts = [
        "<h3>Feature maps</h3>" + guarded("Feature maps", lambda: _feature_maps(f)),
        "<h3>Convolution filters</h3>" + guarded("Convolution filters", lambda: _filters(f)),
        "<h3>Weights and gradients across epochs</h3>"
        + guarded("Weight and gradient histograms", lambda: _histograms(f)),
        "<h3>Projection of the penultimate features</h3>"
        + guarded("The 2-D projection", lambda: _projection(f)),
    ]
    return "".join(parts)


def _feature_maps(f: RunFacts) -> str:
    model = f.loaded_model()
    if not _has_conv2d(model):
        return not_applicable("The model has no 2-D convolution: no feature maps to show.")
    rows = f.probe().rows
    key = _image_key(rows, model)
    if key is None:
        return not_applicable("The model's input is not an image: no feature maps to show.")
    fig = _viz("plot_feature_maps")(model, rows[key][0], max_channels=8)
    return figure(png_bytes(fig), "activations of each convolution for one test image", wide=True)


def _filters(f: RunFacts) -> str:
    model = f.loaded_model()
    if not _has_conv2d(model):
        return not_applicable("The model has no 2-D convolution: no filters to show.")
    fig = _viz("plot_filters")(model, max_filters=16)  # one axes each: matplotlib time grows
    return figure(png_bytes(fig), "kernels of the first 2-D convolution (at most 16)")


def _histograms(f: RunFacts) -> str:
    path = f.run_dir / "histograms.json"
    if not path.is_file():
        return not_applicable("Not recorded: this run has no histograms.json.")
    histograms = dict(_viz("read_histograms")(path))
    matrices = _matrix_names(f)
    for kind in ("weights", "gradients"):  # weight matrices and kernels tell the story
        per_param = histograms.get(kind) or {}
        chosen = {k: v for k, v in per_param.items() if k in matrices}
        histograms[kind] = chosen or per_param
    figs = []
    for kind in ("weights", "gradients"):

        def draw(kind: str = kind) -> str:
            fig = _viz("plot_histograms")(histograms, kind=kind, max_layers=6)
            caption = (
                f"{kind} of the weight matrices and kernels (biases and normalisation scales "
                "left out), one line per epoch"
            )
            return figure(png_bytes(fig, dpi=80), caption, wide=True)

        figs.append(guarded(f"The {kind} histograms", draw))
    return _grid(*figs)


def _matrix_names(f: RunFacts) -> set[str]:
    """Names of the parameters with 2+ dimensions (weight matrices, kernels): not biases or
    normalisation scales, whose histograms say little (by name when the model cannot load)."""
    try:
        params = f.loaded_model().named_parameters()
        return {name for name, p in params if p.dim() >= 2}
    except Exception:
        names = (f.json("histograms.json") or {}).get("weights") or {}
        return {n for n in names if n.endswith("weight")}


def _projection(f: RunFacts) -> str:
    p = f.probe()
    if p.features is None:
        return not_applicable("The model has no linear layer whose input could be projected.")
    if len(p.features) < 3:
        return not_applicable("Too few test rows to project.")
    points = _viz("project_2d")(p.features, method="pca", seed=0)
    labels = None
    if f.task != "regression" and p.y_true is not None:
        labels = p.y_true.astype("int64")
    fig = _viz("plot_projection")(
        points,
        labels,
        class_names=f.class_names,
        title=f"PCA of the last layer's inputs ({len(points):,} test rows)",
    )
    caption = "penultimate features of test rows in 2-D (PCA), coloured by true class"
    return figure(png_bytes(fig), caption)


# ----------------------------------------------------------------------------- mistakes


def _mistakes(f: RunFacts) -> str:
    if f.task not in ("binary", "multiclass"):
        return not_applicable("Regression: see the residuals in the Evaluation section.")
    p = f.probe()
    if p.y_true is None:
        return not_applicable("The test rows hold no target.")
    errors = _viz("confident_errors")(p.outputs, p.y_true.astype("int64"), k=MAX_ERRORS)
    n = len(p.y_true)
    wrong = _count_wrong(p.outputs, p.y_true)
    head = (
        f"<p class='muted'>{num(wrong)} of {num(n)} sampled test rows are misclassified; "
        f"the {len(errors)} the model was most sure about, most confident first.</p>"
    )
    if not errors:
        return head + not_applicable("No misclassified example among the sampled rows.")
    model = f.loaded_model()
    key = _image_key(p.rows, model)
    if key is not None:
        fig = _viz("plot_confident_errors")(p.rows[key], errors, class_names=f.class_names)
        return head + figure(png_bytes(fig), "confidently wrong: true / predicted (confidence)")
    pre = getattr(model, "preprocessor", None)
    text_cols = [] if pre is None else list(pre.schema.names("text"))
    names = f.class_names or []

    def label(c: int) -> str:
        return names[c] if 0 <= c < len(names) else str(c)

    if text_cols:
        vocab = {c: pre.get_config()["encoders"][c].get("vocab") or [] for c in text_cols}
        rows = []
        for e in errors:
            i = int(e["index"])
            text = " / ".join(_decode_text(p.rows[c][i], vocab[c]) for c in text_cols)
            rows.append([label(e["true"]), label(e["predicted"]), e["confidence"],
                         Markup(f'<span class="snippet">{esc(text)}</span>')])  # fmt: skip
        note = (
            "<p class='muted'>Texts as the model read them (lower-cased words after "
            "truncation; ⟨?⟩ = a word outside the vocabulary).</p>"
        )
        return head + note + _scroll(table(["true", "predicted", "confidence", "text"], rows))
    if pre is not None:
        columns, decoded = _decode_table(pre, p.rows, [int(e["index"]) for e in errors])
        rows = [
            [label(e["true"]), label(e["predicted"]), e["confidence"], *values]
            for e, values in zip(errors, decoded)
        ]
        note = (
            "<p class='muted'>Feature values decoded from the model inputs (a missing number "
            "shows as the training mean; an unseen or missing category as ⟨missing⟩).</p>"
        )
        return head + note + _scroll(table(["true", "predicted", "confidence", *columns], rows))
    return head + table(
        ["test row", "true", "predicted", "confidence"],
        [[e["index"], label(e["true"]), label(e["predicted"]), e["confidence"]] for e in errors],
    )


def _count_wrong(outputs: Any, y: Any) -> int:
    import numpy as np

    o = np.asarray(outputs)
    pred = (o >= 0.5).astype(np.int64) if o.ndim == 1 else o.argmax(axis=1)
    return int((pred != np.asarray(y).astype(np.int64)).sum())


def _decode_text(tokens: Any, vocab: Sequence[str], limit: int = 60) -> str:
    """Token ids (0 = pad, 1 = OOV, i >= 2 = ``vocab[i - 2]``) back to words, first ``limit``."""
    words = []
    for t in tokens.tolist():
        if t == 0:
            continue
        words.append(vocab[t - 2] if 2 <= t < len(vocab) + 2 else "⟨?⟩")
    more = len(words) > limit
    return " ".join(words[:limit]) + (" …" if more else "")


def _decode_table(pre: Any, rows: Mapping[str, Any], index: list[int]) -> tuple[list[str], list]:
    """Raw-looking values of the chosen rows from the Preprocessor's numeric/categorical blocks."""
    encoders = pre.get_config()["encoders"]
    columns: list[str] = []
    values: list[list[Any]] = [[] for _ in index]
    if "numeric" in rows:
        block = rows["numeric"]
        for j, name in enumerate(pre.numeric_columns):
            enc = encoders.get(name) or {}
            columns.append(name)
            for r, i in enumerate(index):
                v = float(block[i, j])
                if "values" in enc:  # binary column: 0/1 -> its two values
                    vals = enc["values"] or []
                    shown = vals[int(v)] if v in (0.0, 1.0) and int(v) < len(vals) else "⟨missing⟩"
                    values[r].append(str(shown))
                else:
                    values[r].append(v * float(enc.get("std", 1.0)) + float(enc.get("mean", 0.0)))
    if "categorical" in rows:
        block = rows["categorical"]
        for j, name in enumerate(pre.categorical_columns):
            cats = (encoders.get(name) or {}).get("categories") or []
            columns.append(name)
            for r, i in enumerate(index):
                k = int(block[i, j])
                values[r].append(str(cats[k - 1]) if 1 <= k <= len(cats) else "⟨missing⟩")
    return columns, values


# ----------------------------------------------------------------------------- data


def data_summary(prep: Any) -> dict[str, Any]:
    """Facts about the data that only the training process sees, for ``metrics.json["data"]``:
    class counts per split (classification) or target statistics (regression).

    Splits that are lazy streams (the streaming route) are left out.

    Example:
        >>> import torch
        >>> from types import SimpleNamespace as NS
        >>> prep = NS(train={"y": torch.tensor([0, 1, 1])}, val=None, test={"y": torch.tensor([1])},
        ...           target="y", task="binary", classes=["a", "b"])
        >>> data_summary(prep)["class_balance"]
        {'train': {'a': 1, 'b': 2}, 'test': {'a': 0, 'b': 1}}
    """
    import torch

    out: dict[str, Any] = {}
    splits = {"train": prep.train, "validation": prep.val, "test": prep.test}
    for split, tensors in splits.items():
        if not isinstance(tensors, Mapping) or prep.target not in tensors:
            continue
        y = torch.as_tensor(tensors[prep.target]).reshape(-1)
        if prep.task in ("binary", "multiclass") and prep.classes:
            counts = torch.bincount(y.long(), minlength=len(prep.classes)).tolist()
            out.setdefault("class_balance", {})[split] = {
                str(c): int(n) for c, n in zip(prep.classes, counts)
            }
        elif len(y):
            v = y.double()
            out.setdefault("target", {})[split] = {
                "mean": float(v.mean()),
                "std": float(v.std(unbiased=False)),
                "min": float(v.min()),
                "max": float(v.max()),
            }
    return out


def _data(f: RunFacts) -> str:
    m = f.metrics
    rows = m.get("rows") or {}
    parts = []
    total = sum(int(v or 0) for v in rows.values())
    split_rows = [
        (k, n, Markup(f"{100 * n / total:.1f}%" if total else "—"))
        for k in ("train", "validation", "test")
        for n in [int(rows.get(k) or 0)]
    ]
    parts.append(
        "<h3>Rows per split</h3>"
        + table(["split", "rows", "share"], split_rows, foot=[["total", total, ""]])
    )
    parts.append(_feature_table(f))
    parts.append(_class_balance(f))
    return "".join(parts)


def _feature_table(f: RunFacts) -> str:
    pre = f.meta.get("preprocessing")
    if not pre:
        spec = f.meta.get("input_spec") or {}
        rows = [(k, "image" if len(s.get("shape") or []) >= 2 else "tensor",
                 " × ".join(str(x) for x in s.get("shape") or []), s.get("dtype"))
                for k, s in spec.items()]  # fmt: skip
        note = "<p class='muted'>Built-in dataset: no table preprocessing, no missing values.</p>"
        return "<h3>Features</h3>" + note + table(["input", "type", "shape", "dtype"], rows)
    schema = pre.get("schema") or {}
    feats = schema.get("features") or []
    rows, missing_rows = [], []
    for feat in feats:
        stats = feat.get("stats") or {}
        detail = _stats_text(feat.get("type"), stats)
        rows.append([feat.get("name"), feat.get("type"), feat.get("reason"), detail])
        if "missing" in stats:
            missing_rows.append([feat.get("name"), feat.get("type"), int(stats["missing"])])
    target = schema.get("target") or {}
    html = "<h3>Features</h3>" + _scroll(table(["column", "type", "why", "statistics"], rows))
    if target:
        html += (
            f"<p class='muted'>Target: <strong>{esc(target.get('name'))}</strong> "
            f"({esc(target.get('task'))}; {esc(target.get('reason') or '')}).</p>"
        )
    n_train = int((f.metrics.get("rows") or {}).get("train") or 0)
    body = [
        [name, kind, n, Markup(f"{100 * n / n_train:.1f}%" if n_train else "—")]
        for name, kind, n in missing_rows
    ]
    html += (
        "<h3>Missing values</h3><p class='muted'>Counted in the training rows when the "
        "preprocessing was fitted.</p>"
        + (
            table(["column", "type", "missing", "share of training rows"], body)
            if body
            else not_applicable("No column of these types records missing values.")
        )
    )
    return html


def _stats_text(kind: Any, stats: Mapping[str, Any]) -> str:
    if kind == "numeric" and "mean" in stats:
        return f"mean {stats['mean']:.4g}, std {stats.get('std', float('nan')):.4g}"
    if kind == "categorical":
        return f"{stats.get('categories', '?')} categories"
    if kind == "binary":
        return "values " + ", ".join(str(v) for v in stats.get("values") or [])
    if kind == "text":
        return f"vocabulary {stats.get('vocab_size', '?')}, length {stats.get('max_len', '?')}"
    if kind == "image":
        return f"shape {stats.get('shape')}"
    return ", ".join(f"{k} {v}" for k, v in stats.items() if not isinstance(v, dict | list))[:200]


def _class_balance(f: RunFacts) -> str:
    data = f.metrics.get("data") or {}
    balance = data.get("class_balance")
    if balance is None and f.evaluation.get("per_class"):  # older runs: the test split only
        balance = {"test": {str(r["label"]): r.get("support") for r in f.evaluation["per_class"]}}
    if balance:
        splits = [s for s in ("train", "validation", "test") if s in balance]
        labels = list(next(iter(balance.values())))
        totals = {s: sum(int(v or 0) for v in balance[s].values()) for s in splits}
        rows = []
        for label in labels:
            row: list[Any] = [label]
            for s in splits:
                n = int(balance[s].get(label) or 0)
                row += [n, Markup(f"{100 * n / totals[s]:.1f}%" if totals[s] else "—")]
            rows.append(row)
        headers = ["class"] + [h for s in splits for h in (s, "share")]
        foot = [["total"] + [x for s in splits for x in (totals[s], "")]]
        return "<h3>Class balance</h3>" + _scroll(table(headers, rows, foot=foot))
    target = data.get("target")
    if target:
        rows = [[s, v["mean"], v["std"], v["min"], v["max"]] for s, v in target.items()]
        return "<h3>Target</h3>" + table(["split", "mean", "std", "min", "max"], rows)
    return ""


# ----------------------------------------------------------------------------- model


def _model(f: RunFacts) -> str:
    meta = f.meta
    arch = meta.get("architecture") or {}
    head = [
        ("architecture", f"{arch.get('kind', '?')}: {arch.get('name') or ''}".rstrip(": ")),
        ("parameters", meta.get("num_parameters")),
        ("output activation", meta.get("output_activation")),
        ("target", meta.get("target_key")),
    ]

    def layers() -> str:
        from deepfuse.models.summary import layer_rows

        model = f.loaded_model()
        rows = layer_rows(model)
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        foot = [["total", "", "", total], ["trainable", "", "", trainable]]
        return _scroll(table(["layer", "type", "output shape", "parameters"], rows, foot=foot))

    side = "<h3>Overview</h3>" + _kv(head)
    compile_cfg = meta.get("compile") or {}
    if compile_cfg:
        side += "<h3>Compiled with</h3>" + _kv([(k, _compact(v)) for k, v in compile_cfg.items()])
    if arch.get("kwargs"):
        side += "<h3>Builder arguments</h3>" + _kv(
            [(k, _compact(v)) for k, v in arch["kwargs"].items()]
        )
    layer_html = "<h3>Layers</h3>" + guarded("The layer table", layers)
    return f'<div class="grid"><div>{layer_html}</div><div>{side}</div></div>'


def _compact(value: Any) -> Any:
    """A config value for a table cell: containers as one-line JSON, None as a dash."""
    if value is None:
        return Markup("—")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, separators=(", ", ": "), default=str)
    return value


def _config(f: RunFacts) -> str:
    text = f.config_text
    if not text:
        return not_applicable("No config.yaml in this folder.")
    return (
        "<p class='muted'>The resolved config (defaults filled in), as config.yaml holds it.</p>"
        + (f"<pre>{esc(text)}</pre>")
    )


def _timings(f: RunFacts) -> str:
    m = f.metrics
    times = _history_times(f.run_dir / "history.csv")
    rows = m.get("rows") or {}
    train_rows = rows.get("train") or 0
    summary = [
        ("training (fit)", _fmt_seconds(m.get("train_time_s"))),
        ("evaluation of the test split", _fmt_seconds(m.get("eval_time_s"))),
        ("report.html at the end of training", _fmt_seconds(m.get("report_time_s"))),
        ("this report (until written)", _fmt_seconds(time.perf_counter() - f.started)),
    ]
    if "report_time_s" not in m:  # being written by training itself: the line below says it
        summary.pop(2)
    if times and train_rows:
        summary.append(("training rows per second (mean epoch)",
                        num(train_rows / (sum(times) / len(times)), 0)))  # fmt: skip
    html = _kv(summary)
    if times:
        html += "<h3>Per epoch</h3>" + table(
            ["epoch", "time"], [(i + 1, _fmt_seconds(t)) for i, t in enumerate(times)]
        )
    return html


def environment(model: Any = None) -> dict[str, Any]:
    """Versions, machine and device facts (recorded in ``metrics.json`` at training time)."""
    import numpy
    import torch

    import deepfuse

    device = "cpu"
    if model is not None:
        device = str(next((p.device for p in model.parameters()), torch.device("cpu")))
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "deepfuse": getattr(deepfuse, "__version__", None) or _dist_version("deepfuse"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "cuda": torch.cuda.is_available(),
        "executable": sys.executable,
    }
    try:
        import matplotlib

        out["matplotlib"] = matplotlib.__version__
    except ImportError:
        pass
    return out


def _dist_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _environment(f: RunFacts) -> str:
    recorded = f.metrics.get("environment")
    note = "<p class='muted'>Recorded when the run was trained.</p>"
    if not recorded:
        recorded = environment()
        note = (
            "<p class='muted'>This run did not record its environment; shown is the one "
            "that wrote this report.</p>"
        )
    return note + _kv(list(recorded.items()))
