"""The poll syntax of posts and sequence steps, and its HTML: pure functions.

A poll is a block of its own in the Markdown::

    [poll topic] Which topic should we cover next?
    - Privacy
    - Pricing
    [/poll]

`topic` names the poll within its post or step (lower case, digits, `_` or `-`); two to ten
answers, one a line. `[poll role field=role]` also fills the custom field `role` with the
answer. In the email each answer is a link, `[%mh:poll:<key>%]/<n>`: the placeholder becomes
the reader's signed poll URL (content.polls), `n` the answer's index. On the web the answers
are shown without links (a poll is answered from one's own email).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from markupsafe import escape

from growth.errors import ValidationFailed

MAX_ANSWERS = 10
QUESTION_LENGTH = 300
ANSWER_LENGTH = 200
_BLOCK = re.compile(
    r"^\[poll[ \t]+(?P<key>[a-z0-9][a-z0-9_-]{0,39})(?:[ \t]+field=(?P<field>[a-z][a-z0-9_]{0,39}))?\]"
    r"[ \t]*(?P<question>[^\n]*)\n(?P<answers>(?:[ \t]*[-*][ \t]+[^\n]*\n)+)[ \t]*\[/poll\][ \t]*$",
    re.M,
)
_MARKER = "MHPOLLMARKER{}X"
_MARKER_HTML = re.compile(r"<p>MHPOLLMARKER([0-9]{1,3})X</p>")
_LINK = re.compile(r'<a href="\[%mh:poll:([a-z0-9_-]{1,40})%\]/([0-9]{1,2})"[^>]*>(.*?)</a>', re.S)
PLACEHOLDER = re.compile(r"\[%mh:poll:([a-z0-9_-]{1,40})%\]")


@dataclass(frozen=True)
class PollSpec:
    """A poll as written."""

    key: str
    question: str
    answers: tuple[str, ...]
    field: str | None = None


class PollSyntaxError(ValidationFailed):
    """A poll block that cannot be used (the message says why): 422 where a post is saved."""

    code = "invalid_poll"


def placeholder(key: str) -> str:
    """The per-reader placeholder of a poll's URL."""
    return f"[%mh:poll:{key}%]"


def extract(source: str) -> tuple[str, list[PollSpec]]:
    """The Markdown with each poll replaced by a marker paragraph, and the polls in order."""
    specs: list[PollSpec] = []

    def take(match: re.Match[str]) -> str:
        answers = tuple(a.strip()[1:].strip() for a in match.group("answers").splitlines() if a.strip())
        key, question = match.group("key"), match.group("question").strip()
        if not question:
            raise PollSyntaxError(f"poll {key}: the question goes after [poll {key}]")
        if not 2 <= len(answers) <= MAX_ANSWERS or any(not a for a in answers):
            raise PollSyntaxError(f"poll {key}: 2 to {MAX_ANSWERS} answers, one a line")
        if len(question) > QUESTION_LENGTH or any(len(a) > ANSWER_LENGTH for a in answers):
            raise PollSyntaxError(
                f"poll {key}: a question has at most {QUESTION_LENGTH} characters, an answer {ANSWER_LENGTH}"
            )
        if len({a.casefold() for a in answers}) != len(answers):
            raise PollSyntaxError(f"poll {key}: an answer is given twice")
        if any(s.key == key for s in specs):
            raise PollSyntaxError(f"poll {key}: two polls have that name")
        specs.append(PollSpec(key, question, answers, match.group("field")))
        return "\n" + _MARKER.format(len(specs) - 1) + "\n"  # a number: Markdown leaves it be

    return _BLOCK.sub(take, source or ""), specs


def poll_html(spec: PollSpec) -> str:
    """The email HTML of one poll: the question, then one link per answer."""
    items = "".join(
        f'<li><a href="{placeholder(spec.key)}/{i}">{escape(answer)}</a></li>'
        for i, answer in enumerate(spec.answers)
    )
    return f'<div class="poll"><p><strong>{escape(spec.question)}</strong></p><ul>{items}</ul></div>'


def insert_polls(html: str, specs: list[PollSpec]) -> str:
    """Put each poll's HTML where its marker paragraph is (after sanitising: our own markup)."""

    def poll_at(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return poll_html(specs[index]) if index < len(specs) else ""

    return _MARKER_HTML.sub(poll_at, html)


def for_web(html: str) -> str:
    """Poll answers without links, for the web page and the feed."""
    return _LINK.sub(lambda m: f'<span class="poll-answer">{m.group(3)}</span>', html or "")


@functools.lru_cache(maxsize=64)
def keys_in(html: str) -> frozenset[str]:
    """The poll keys whose placeholders a rendered body holds (cached: a batch asks per reader)."""
    return frozenset(PLACEHOLDER.findall(html or ""))
