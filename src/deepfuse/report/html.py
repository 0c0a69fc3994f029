"""HTML building blocks of ``report.html``: escaping, tables, figures, sections and the page.

Everything here returns strings of HTML. Every piece of text that may come from the user (run
and column names, class labels, config values, error messages) goes through :func:`esc`; only
the literal markup written in this module is left as it is. The page needs no JavaScript, no
font and no stylesheet from anywhere: the CSS is inline and images are ``data:`` URIs.

Example:
    >>> esc("<script>alert(1)</script>")
    '&lt;script&gt;alert(1)&lt;/script&gt;'
    >>> print(table(["metric", "value"], [["accuracy", num(0.98765)]]))
    <table><thead><tr><th>metric</th><th>value</th></tr></thead><tbody><tr><td>accuracy</td><td class="n">0.9877</td></tr></tbody></table>
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Markup",
    "Section",
    "esc",
    "failed",
    "figure",
    "fmt_seconds",
    "grid",
    "kv_table",
    "metric_cards",
    "not_applicable",
    "num",
    "page",
    "png_data_uri",
    "scroll",
    "table",
]


class Markup(str):
    """A string that is already HTML (a table cell holding it is not escaped again)."""


def esc(value: Any) -> str:
    """``value`` as text safe inside HTML elements and quoted attributes."""
    return html.escape(str(value), quote=True)


def num(value: Any, digits: int = 4) -> Markup:
    """A number for a table cell: floats with ``digits`` decimals, ints with separators.

    Example:
        >>> num(12345), num(0.5), num(float("nan")), num(None), num(True)
        ('12,345', '0.5000', '—', '—', 'True')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Markup("—")
    if isinstance(value, bool):
        return Markup(str(value))
    if isinstance(value, int):
        return Markup(f"{value:,}")
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 10 ** -(digits - 1)):
            return Markup(f"{value:.{digits}g}")
        return Markup(f"{value:.{digits}f}")
    return Markup(esc(value))


def _cell(value: Any) -> str:
    if isinstance(value, Markup):
        return value
    if value is None:
        return "—"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return num(value)
    return esc(value)


def table(
    headers: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    cls: str = "",
    foot: Iterable[Sequence[Any]] = (),
) -> str:
    """A ``<table>``: text is escaped, numbers formatted (``class="n"``), :class:`Markup` kept."""

    def tr(cells: Sequence[Any], tag: str) -> str:
        out = []
        for c in cells:
            numeric = isinstance(c, int | float) and not isinstance(c, bool)
            attr = ' class="n"' if numeric or (isinstance(c, Markup) and _looks_numeric(c)) else ""
            out.append(f"<{tag}{attr}>{_cell(c)}</{tag}>")
        return "<tr>" + "".join(out) + "</tr>"

    head = "<thead>" + tr(headers, "th") + "</thead>" if headers else ""
    body = "<tbody>" + "".join(tr(r, "td") for r in rows) + "</tbody>"
    footer = "".join(tr(r, "td") for r in foot)
    footer = f"<tfoot>{footer}</tfoot>" if footer else ""
    attr = f' class="{esc(cls)}"' if cls else ""
    return f"<table{attr}>{head}{body}{footer}</table>"


def _looks_numeric(text: str) -> bool:
    t = text.replace(",", "").replace("—", "").replace("±", "").replace(" ", "").rstrip("%")
    t = t.replace("e-", "").replace("e+", "").replace(".", "").replace("-", "")
    return t.isdigit() or text == "—"


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure(png: bytes, caption: str, *, wide: bool = False) -> str:
    """An embedded PNG with its caption (``wide`` figures span the whole grid row)."""
    cls = "fig wide" if wide else "fig"
    return (
        f'<figure class="{cls}"><img src="{png_data_uri(png)}" alt="{esc(caption)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def failed(what: str, error: BaseException | str) -> str:
    """The block shown where a part of the report could not be made (never a silent gap)."""
    reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return (
        f'<div class="failed"><strong>{esc(what)} could not be drawn.</strong> {esc(reason)}</div>'
    )


def not_applicable(text: str) -> str:
    """A short note for a part that does not apply to this run."""
    return f'<p class="na">{esc(text)}</p>'


@dataclass
class Section:
    """One section of the page: an anchor id, a title for the nav, and its HTML body."""

    id: str
    title: str
    body: str


_CSS = """
:root{--fg:#1f2933;--muted:#52606d;--line:#d9e2ec;--zebra:#f5f7fa;--accent:#2f6fde;
--bad:#b42318;--badbg:#fef3f2;--card:#ffffff;--bg:#f0f3f7}
*{box-sizing:border-box}
html{scroll-behavior:smooth}
body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",
"Liberation Sans",sans-serif}
header.top{background:#102a43;color:#fff;padding:18px 0 0}
header.top .wrap{padding-bottom:0}
header.top h1{margin:0;font-size:24px;font-weight:600;word-break:break-all}
header.top p{margin:4px 0 12px;color:#bcccdc;font-size:13px}
nav{position:sticky;top:0;z-index:5;background:#102a43;border-top:1px solid #243b53}
nav .wrap{display:flex;flex-wrap:wrap;gap:2px;padding-top:0;padding-bottom:0}
nav a{color:#d9e2ec;text-decoration:none;padding:8px 10px;font-size:13px;border-radius:4px}
nav a:hover,nav a:focus{background:#243b53;color:#fff}
.wrap{max-width:1200px;margin:0 auto;padding:16px 24px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;
margin:18px 0;padding:6px 22px 18px;scroll-margin-top:48px}
h2{font-size:19px;font-weight:600;margin:14px 0 10px;padding-bottom:6px;
border-bottom:2px solid var(--line)}
h3{font-size:15px;font-weight:600;margin:18px 0 8px;color:#243b53}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13.5px;min-width:40%}
th,td{border-bottom:1px solid var(--line);padding:5px 10px;text-align:left;vertical-align:top}
th{background:#e4e7eb;font-weight:600;white-space:nowrap}
table.kv td:first-child{color:var(--muted);white-space:nowrap;padding-right:24px}
tbody tr:nth-child(even){background:var(--zebra)}
tfoot td{font-weight:600;background:#eef2f7;border-top:2px solid #bcccdc}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{overflow-x:auto}
.row{display:flex;flex-wrap:wrap;gap:28px;align-items:flex-start}
.row table{min-width:0}
table.folds td,table.folds th{white-space:nowrap}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 14px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:140px;
background:#f8fafc}
.card .k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:16px;
align-items:start}
figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:8px;background:#fff}
figure.wide{grid-column:1/-1}
figure img{display:block;max-width:100%;height:auto;margin:0 auto}
figcaption{font-size:12.5px;color:var(--muted);text-align:center;margin-top:4px}
pre{background:#f5f7fa;border:1px solid var(--line);border-radius:6px;padding:12px;
overflow-x:auto;font:12.5px/1.45 ui-monospace,"SFMono-Regular",Menlo,Consolas,
"Liberation Mono",monospace}
.failed{border:1px solid #fda29b;background:var(--badbg);color:var(--bad);border-radius:6px;
padding:8px 12px;margin:8px 0;font-size:13.5px;word-break:break-word}
.warn{border:1px solid #f5c26b;background:#fffaeb;color:#7a4b00;border-radius:6px;
padding:8px 12px;margin:8px 0;font-size:13.5px;word-break:break-word}
.na{color:var(--muted);font-style:italic;margin:6px 0}
.muted{color:var(--muted);font-size:13px}
.snippet{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;max-width:640px;
word-break:break-word}
footer{color:var(--muted);font-size:12px;text-align:center;padding:8px 0 28px}
@media print{nav{display:none}section{break-inside:avoid-page}}
"""


def page(title: str, subtitle: str, sections: Sequence[Section], footer: str = "") -> str:
    """The whole self-contained document: header, a nav of anchors, the sections."""
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="deepfuse">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<header class="top"><div class="wrap"><h1>{esc(title)}</h1><p>{esc(subtitle)}</p>'
        f'</div></header><nav><div class="wrap">{nav}</div></nav>'
        f'<main class="wrap">{body}</main>'
        f'<footer class="wrap">{esc(footer)}</footer></body></html>\n'
    )


def fmt_seconds(s: Any) -> str:
    """Seconds for a reader: ``"350 ms"``, ``"2.50 s"``, ``"3 min 5 s"`` (``"—"`` if not a number)."""
    if not isinstance(s, int | float) or math.isnan(s):
        return "—"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.2f} s"
    return f"{int(s // 60)} min {s % 60:.0f} s"


def metric_cards(pairs: Sequence[tuple[str, Any]]) -> str:
    """Headline numbers as cards (pairs whose value is not a number are left out)."""
    cards = "".join(
        f'<div class="card"><div class="k">{esc(k)}</div><div class="v">{num(v)}</div></div>'
        for k, v in pairs
        if isinstance(v, int | float)
    )
    return f'<div class="cards">{cards}</div>' if cards else ""


def grid(*parts: str) -> str:
    """The non-empty ``parts`` side by side (two columns on a wide screen)."""
    return f'<div class="grid">{"".join(p for p in parts if p)}</div>'


def scroll(body: str) -> str:
    """``body`` in a box that scrolls sideways (wide tables)."""
    return f'<div class="scroll">{body}</div>'


def kv_table(rows: Sequence[tuple[str, Any]]) -> str:
    """A two-column key/value table (rows whose value is None are left out)."""
    return table([], [(k, v) for k, v in rows if v is not None], cls="kv")
