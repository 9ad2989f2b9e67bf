"""The sanitiser, and the pure figures of the content domain (hand-computed)."""

from __future__ import annotations

import datetime as dt

from content.metrics import pitch_skip_reason, preview_sentence, send_progress, value_to_pitch_ratio
from content.posts import slugify
from content.rendering import render_markdown, sanitize, teaser_markdown

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def test_sanitiser_removes_scripts_and_event_handlers():  # type: ignore[no-untyped-def]
    html = render_markdown(
        "Hi <script>alert(1)</script>\n\n"
        '<img src="x.png" onerror="alert(2)"> <a href="javascript:alert(3)">x</a> '
        '<a href="https://ok.example" onclick="steal()">ok</a> <iframe src="https://evil"></iframe>'
        '<style>body{display:none}</style><div onmouseover="x()">d</div>'
    )
    for bad in (
        "<script",
        "alert(1)",
        "onerror",
        "javascript:",
        "onclick",
        "<iframe",
        "<style",
        "onmouseover",
    ):
        assert bad not in html, bad
    assert '<a href="https://ok.example" rel="noopener noreferrer">ok</a>' in html
    assert '<img src="x.png">' in html


def test_markdown_formatting_survives():  # type: ignore[no-untyped-def]
    html = render_markdown(
        "# Title\n\n**bold** and `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two"
    )
    for good in (
        "<h1>Title</h1>",
        "<strong>bold</strong>",
        "<code>code</code>",
        "<table>",
        "<li>one</li>",
    ):
        assert good in html
    assert sanitize('<p style="color:red">x</p>') == "<p>x</p>"


def test_teaser_is_the_first_blocks():  # type: ignore[no-untyped-def]
    assert teaser_markdown("one\n\ntwo\n\n  \n\nthree") == "one\n\ntwo"
    assert slugify("Ça va? Hello, World!") == "ca-va-hello-world"
    assert slugify("!!!") == "post"


def test_pitch_rules_with_a_fixed_clock():  # type: ignore[no-untyped-def]
    assert pitch_skip_reason(2, None, NOW, 3, 7) == "not_nurtured"
    assert pitch_skip_reason(3, None, NOW, 3, 7) is None
    assert pitch_skip_reason(3, NOW - dt.timedelta(days=6, hours=23), NOW, 3, 7) == "pitch_cooldown"
    assert pitch_skip_reason(3, NOW - dt.timedelta(days=7), NOW, 3, 7) is None  # exactly 7 days: allowed
    assert pitch_skip_reason(0, NOW - dt.timedelta(days=1), NOW, 3, 7) == "not_nurtured"  # first reason wins


def test_value_to_pitch_ratio():  # type: ignore[no-untyped-def]
    assert value_to_pitch_ratio(6, 2) == 3.0  # 6 value emails / 2 pitches
    assert value_to_pitch_ratio(5, 0) is None  # no pitch: nothing under the ratio
    assert value_to_pitch_ratio(0, 4) == 0.0


def test_send_progress_by_hand():  # type: ignore[no-untyped-def]
    # total = 50 sent + 5 failed + 10 unknown + 5 sending + 30 queued = 100; done = 50 / 100
    figures = send_progress(
        {"sent": 50, "failed": 5, "unknown": 10, "sending": 5, "queued": 30, "skipped": 7},
        {"not_nurtured": 4, "pitch_cooldown": 3},
    )
    assert figures["total"] == 100 and figures["done"] == 0.5 and figures["skipped"] == 7
    assert figures["unknown"] == 10 and figures["in_flight"] == 5
    assert send_progress({}, {})["done"] is None


def test_preview_sentence():  # type: ignore[no-untyped-def]
    assert (
        preview_sentence(4210, {"not_nurtured": 380}) == "4,210 will receive, 380 skipped: not yet nurtured"
    )
    assert preview_sentence(0, {}) == "0 will receive"
