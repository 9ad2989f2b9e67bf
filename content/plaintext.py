"""The plain-text part of an email, rendered from a post's sanitised HTML (never its Markdown)."""

from __future__ import annotations

import textwrap
from html.parser import HTMLParser

WIDTH = 72  # lines wrap here: plain-text mail readers do not reflow
_BLOCKS = {
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "blockquote",
    "pre",
    "table",
    "figure",
    "figcaption",
    "dl",
    "hr",
    "tr",
}


class _Text(HTMLParser):
    """Collects paragraphs: each block element ends one, links keep their address."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, int | None]] = []  # (text, the list it is an item of)
        self.list_number = 0
        self.line: list[str] = []
        self.lists: list[list[int | None]] = []  # per open list: [counter or None for bullets, its id]
        self.quote = 0
        self.pre = 0
        self.heading: str | None = None
        self.link: tuple[str, int] | None = None  # href, where its text starts in self.line
        self._in_item = False

    def _flush(self) -> None:
        text = "".join(self.line)
        self.line = []
        if self.pre:
            if text.strip("\n"):
                self.blocks.append((text.strip("\n"), None))
            return
        text = " ".join(text.split())
        if not text:
            return
        if self.heading is not None:
            text = text.upper() if self.heading in ("h1", "h2") else text
        prefix = "> " * self.quote
        indent = "  " * max(len(self.lists) - 1, 0)
        lead = ""
        if self.lists and self.heading is None and self._in_item:
            counter = self.lists[-1]
            lead = "- " if counter[0] is None else f"{counter[0]}. "
        wrapped = textwrap.wrap(
            text,
            WIDTH - len(prefix) - len(indent),
            initial_indent=indent + lead,
            subsequent_indent=indent + " " * len(lead),
            break_long_words=False,
            break_on_hyphens=False,
        )
        self.blocks.append(
            ("\n".join(prefix + line for line in wrapped), self.lists[-1][1] if lead else None)
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in _BLOCKS or tag == "li":
            self._flush()
        if tag in ("ul", "ol"):
            self.list_number += 1
            self.lists.append([None if tag == "ul" else 0, self.list_number])
        elif tag == "li":
            self._in_item = True
            if self.lists and self.lists[-1][0] is not None:
                self.lists[-1][0] = int(self.lists[-1][0] or 0) + 1
        elif tag == "blockquote":
            self.quote += 1
        elif tag == "pre":
            self.pre += 1
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.heading = tag
        elif tag == "br":
            if self.pre:
                self.line.append("\n")
            else:
                self._flush()
        elif tag == "hr":
            self.blocks.append(("-" * 20, None))
        elif tag == "a":
            self.link = (attributes.get("href") or "", len(self.line))
        elif tag == "img":
            alt = (attributes.get("alt") or "").strip()
            self.line.append(f"[{alt}]" if alt else "[image]")
        elif tag in ("td", "th") and self.line:
            self.line.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.link is not None:
            href, start = self.link
            self.link = None
            text = " ".join("".join(self.line[start:]).split())
            if href and href != text and not href.startswith("#"):
                self.line.append(f" ({href})")
            return
        if tag in _BLOCKS or tag == "li":
            self._flush()
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._in_item = bool(self.lists)
        elif tag == "li":
            self._in_item = False
        elif tag == "blockquote":
            self.quote = max(self.quote - 1, 0)
        elif tag == "pre":
            self.pre = max(self.pre - 1, 0)
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.heading = None

    def handle_data(self, data: str) -> None:
        self.line.append(data)


def html_to_text(html: str) -> str:
    """Readable text of sanitised post HTML: paragraphs, bullets, `text (url)` for links."""
    parser = _Text()
    parser.feed(html or "")
    parser.close()
    parser._flush()
    out = ""
    for i, (text, item) in enumerate(parser.blocks):
        # Items of one list stay together; every other block is a paragraph of its own.
        if i:
            out += "\n" if item is not None and parser.blocks[i - 1][1] == item else "\n\n"
        out += text
    return out
