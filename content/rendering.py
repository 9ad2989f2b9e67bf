"""Markdown to safe HTML: rendered with python-markdown, then cleaned with nh3 (ammonia)."""

from __future__ import annotations

import re

import markdown
import nh3

from content import poll_syntax

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "th": {"align", "colspan", "rowspan"},
    "td": {"align", "colspan", "rowspan"},
    "*": {"id"},
}
URL_SCHEMES = {"http", "https", "mailto"}
TEASER_BLOCKS = 2  # blocks a reader without access sees when the writer placed no marker
# The writer's paywall cut: a line of its own, `<!-- paywall -->` (or WordPress's `<!-- more -->`).
PAYWALL_MARKER = "<!-- paywall -->"
_MARKER = re.compile(r"^[ \t]*<!--\s*(?:paywall|more)\s*-->[ \t]*$", re.I | re.M)

_BLANK_LINES = re.compile(r"\n\s*\n")
_TAGS = re.compile(r"<[^>]+>")


def sanitize(html: str) -> str:
    """Keep formatting, drop scripts, styles, event handlers and javascript: URLs."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Markdown (with tables, footnotes, fenced code) as sanitised HTML; polls as answer links.

    A poll block that cannot be used raises `poll_syntax.PollSyntaxError`.
    """
    text, polls = poll_syntax.extract(source or "")
    html = markdown.markdown(text, extensions=["extra", "sane_lists"], output_format="html")
    return poll_syntax.insert_polls(sanitize(html), polls)


def teaser_markdown(source: str, blocks: int = TEASER_BLOCKS) -> str:
    """What is shown in front of the paywall: the Markdown before the writer's marker.

    Without a marker, the first `blocks` blocks (paragraphs, lists, headings...).
    """
    marker = _MARKER.search(source or "")
    if marker is not None:
        return (source or "")[: marker.start()].strip()
    parts = [p for p in _BLANK_LINES.split((source or "").strip()) if p.strip()]
    return "\n\n".join(parts[:blocks])


def has_paywall_marker(source: str) -> bool:
    """Whether the writer placed the paywall cut."""
    return _MARKER.search(source or "") is not None


def plain_text(html: str) -> str:
    """Text of sanitised HTML, whitespace collapsed (feeds and fallbacks)."""
    return " ".join(_TAGS.sub(" ", html).split())
