"""A plain-text rendering of an HTML mail body, for the text/plain alternative of a mail that
was written in HTML only.

It keeps what a reader needs: the words, paragraph and line breaks, list items as ``- item``,
and the address of each link after its text. Scripts, styles and the head are dropped.
Entities are decoded. It is a reading aid, not a layout engine: tables become one cell per line.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "div",
        "dl",
        "dt",
        "dd",
        "fieldset",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "main",
        "nav",
        "ol",
        "p",
        "section",
        "table",
        "tr",
        "ul",
    }
)
_CELLS = frozenset({"td", "th"})
_HIDDEN = frozenset({"head", "script", "style", "title", "template"})
_SPACES = re.compile(r"[ \t\r\n\f]+")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._hidden = 0
        self._pre = 0
        self._links: list[tuple[str | None, int]] = []

    def _newline(self, count: int = 1) -> None:
        self.pieces.append("\n" * count)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "br":
            self._newline()
        elif tag == "hr":
            self._newline()
            self.pieces.append("----")
            self._newline()
        elif tag == "li":
            self._newline()
            self.pieces.append("- ")
        elif tag in _BLOCKS:
            self._newline(2 if tag in ("p", "table", "ul", "ol", "blockquote") else 1)
        elif tag in _CELLS:
            self._newline()
        elif tag == "pre":
            self._pre += 1
            self._newline(2)
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self.pieces)))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.pieces.append(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
            self._newline(2)
        elif tag in _BLOCKS:
            self._newline(2 if tag in ("p", "table", "ul", "ol", "blockquote") else 1)
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            label = "".join(self.pieces[start:]).strip()
            shown = (href or "").removeprefix("mailto:")
            if shown and not shown.startswith("#") and label not in (shown, f"<{shown}>"):
                self.pieces.append(f" ({shown})")

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        self.pieces.append(data if self._pre else _SPACES.sub(" ", data))


def html_to_text(html: str) -> str:
    """The text of ``html`` as a person would read it, lines trimmed, at most one blank line in
    a row."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.pieces).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
