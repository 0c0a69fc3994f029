"""Helpers of the report tests: hostile text, the expected sections, an HTML reader."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

#: The words of the synthetic text reviews (conftest's text run; its Mistakes show them).
TEXT_WORDS = [
    "the",
    "movie",
    "was",
    "a",
    "plot",
    "actors",
    "really",
    "and",
    "story",
    "great",
    "awful",
    "fun",
    "dull",
]


HOSTILE = "<script>alert(1)</script>"
#: A run name (config names may not hold "/").
HOSTILE_NAME = "<img src=x onerror=alert(1)>"

#: Every section a training run's report has, in page order.
RUN_SECTIONS = [
    "summary",
    "compare",
    "classes",
    "search",
    "curves",
    "evaluation",
    "anomaly",
    "inside",
    "mistakes",
    "reconstruction",
    "data",
    "model",
    "config",
    "timings",
    "environment",
]

VOID = {"meta", "img", "br", "hr", "input", "link", "source", "wbr", "col", "area", "base"}


class Page(HTMLParser):
    """What the tests look at in report.html: nesting errors, section ids, images, links,
    script/link tags, and every table as rows of cell texts (with its class and the id of the
    section it is in)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.section_ids: list[str] = []
        self.images: list[str] = []
        self.hrefs: list[str] = []
        self.scripts = 0
        self.links = 0
        self.tables: list[dict] = []
        self.failed = 0
        self.attributes: list[tuple[str, str, str]] = []
        self._section = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._part = "tbody"
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.attributes += [(tag, k, v or "") for k, v in attrs]
        if tag == "section":
            self.section_ids.append(a.get("id"))
            self._section = a.get("id")
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "a" and "href" in a:
            self.hrefs.append(a["href"])
        if tag == "script":
            self.scripts += 1
        if tag == "link":
            self.links += 1
        if tag == "div" and "failed" in (a.get("class") or ""):
            self.failed += 1
        if tag == "table":
            self.tables.append(
                {"class": a.get("class", ""), "section": self._section, "tbody": [], "tfoot": []}
            )
        if tag in ("thead", "tbody", "tfoot"):
            self._part = tag
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None and self.tables:
            if self._part in ("tbody", "tfoot"):
                self.tables[-1][self._part].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, section: str) -> list[list[str]]:
        """Every body and footer row of the tables in ``section``."""
        out = []
        for t in self.tables:
            if t["section"] == section:
                out += t["tbody"] + t["tfoot"]
        return out


def read_page(run: Path) -> tuple[str, Page]:
    text = (run / "report.html").read_text(encoding="utf-8")
    return text, Page(text)
