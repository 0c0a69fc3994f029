"""The "Mistakes" section of ``report.html``: the most confidently wrong sampled test rows, shown
as images, as the text the model read, or as decoded table rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deepfuse.report.context import RunFacts, viz_function
from deepfuse.report.figures import png_bytes
from deepfuse.report.html import Markup, esc, figure, not_applicable, num, scroll, table
from deepfuse.report.inside import NO_TEST_ROWS, image_key

__all__ = ["MAX_ERRORS", "mistakes"]

#: Confidently wrong examples shown (at most).
MAX_ERRORS = 16


def mistakes(f: RunFacts) -> str:
    """The "Mistakes" section: the sampled test rows the model was most sure about and wrong."""
    if f.task == "regression":
        return not_applicable("Regression: see the residuals in the Evaluation section.")
    if f.task not in ("binary", "multiclass"):
        return not_applicable(f"No predicted classes: this {f.task} run is not a classification.")
    if not f.has_test_rows:
        return not_applicable(NO_TEST_ROWS)
    p = f.probe()
    if p.y_true is None:
        return not_applicable("The test rows hold no target.")
    errors = viz_function("confident_errors")(p.outputs, p.y_true.astype("int64"), k=MAX_ERRORS)
    n = len(p.y_true)
    wrong = _count_wrong(p.outputs, p.y_true)
    head = (
        f"<p class='muted'>{num(wrong)} of {num(n)} sampled test rows are misclassified; "
        f"the {len(errors)} the model was most sure about, most confident first.</p>"
    )
    if not errors:
        return head + not_applicable("No misclassified example among the sampled rows.")
    model = f.loaded_model()
    key = image_key(p.rows, model)
    if key is not None:
        fig = viz_function("plot_confident_errors")(p.rows[key], errors, class_names=f.class_names)
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
        return head + note + scroll(table(["true", "predicted", "confidence", "text"], rows))
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
        return head + note + scroll(table(["true", "predicted", "confidence", *columns], rows))
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
