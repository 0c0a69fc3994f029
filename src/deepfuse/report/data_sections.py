"""The "Data" and "Model" sections of ``report.html``: what the run's ``metrics.json`` and
``model.json`` record about the data (rows, features, missing values, class balance) and about
the model (layers, parameters, compile arguments)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from deepfuse.report.context import RunFacts, guarded
from deepfuse.report.html import Markup, esc, kv_table, not_applicable, scroll, table

__all__ = ["data_section", "model_section"]


def data_section(f: RunFacts) -> str:
    """The "Data" section: rows per split, features and missing values, class balance."""
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
    html = "<h3>Features</h3>" + scroll(table(["column", "type", "why", "statistics"], rows))
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
        return "<h3>Class balance</h3>" + scroll(table(headers, rows, foot=foot))
    target = data.get("target")
    if target:
        rows = [[s, v["mean"], v["std"], v["min"], v["max"]] for s, v in target.items()]
        return "<h3>Target</h3>" + table(["split", "mean", "std", "min", "max"], rows)
    return ""


def model_section(f: RunFacts) -> str:
    """The "Model" section: the layer table, the architecture and how it was compiled."""
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
        return scroll(table(["layer", "type", "output shape", "parameters"], rows, foot=foot))

    side = "<h3>Overview</h3>" + kv_table(head)
    compile_cfg = meta.get("compile") or {}
    if compile_cfg:
        side += "<h3>Compiled with</h3>" + kv_table(
            [(k, _compact(v)) for k, v in compile_cfg.items()]
        )
    if arch.get("kwargs"):
        side += "<h3>Builder arguments</h3>" + kv_table(
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
