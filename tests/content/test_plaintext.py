"""The plain-text part is rendered from the post, and the paywall cut sits at the writer's marker."""

from __future__ import annotations

from content import rendering
from content.plaintext import html_to_text
from content.send_control import preview_message
from tests.content.conftest import make_post

SOURCE = """# A big heading

Some **bold** and _italic_ text with [a link](https://example.com/a) and <span>raw html</span>.

<!-- more -->

- first item
- second item

1. one
2. two

> A quote that is here.

```
code   kept
  as is
```

![A chart of growth](https://example.com/chart.png)
"""


def test_html_to_text_by_hand():  # type: ignore[no-untyped-def]
    text = html_to_text(rendering.render_markdown(SOURCE))
    assert text == (
        "A BIG HEADING\n\n"
        "Some bold and italic text with a link (https://example.com/a) and raw\nhtml.\n\n"
        "- first item\n- second item\n\n"
        "1. one\n2. two\n\n"
        "> A quote that is here.\n\n"
        "code   kept\n  as is\n\n"
        "[A chart of growth]"
    )


def test_long_lines_wrap_and_a_bare_link_is_not_repeated():  # type: ignore[no-untyped-def]
    text = html_to_text(rendering.render_markdown("word " * 40 + "\n\n<https://example.com/x>"))
    lines = text.splitlines()
    assert all(len(line) <= 72 for line in lines)
    assert lines[-1] == "https://example.com/x"


def test_the_text_part_of_a_post_email_has_no_markdown(app, session):  # type: ignore[no-untyped-def]
    post = make_post(session, title="Plain", body_markdown=SOURCE)
    text = preview_message(post, post.newsletter).text
    for leftover in ("**", "<!--", "<span>", "](", "```", "# A big"):
        assert leftover not in text, leftover
    assert "Some bold and italic text with a link (https://example.com/a)" in text
    teaser = preview_message(post, post.newsletter, teaser=True).text
    assert "raw\nhtml." in teaser and "first item" not in teaser  # cut at the marker


def test_marker_sets_the_teaser_and_without_it_two_blocks():  # type: ignore[no-untyped-def]
    assert rendering.teaser_markdown("a\n\nb\n\n<!-- paywall -->\n\nc\n\nd") == "a\n\nb"
    assert rendering.teaser_markdown("a\n\n  <!--PAYWALL-->  \n\nb") == "a"
    assert rendering.teaser_markdown("a\n\nb\n\nc") == "a\n\nb"
    # Only a marker on its own line counts: one quoted inside a paragraph is text.
    assert rendering.teaser_markdown("a `<!-- paywall -->` b\n\nc\n\nd") == "a `<!-- paywall -->` b\n\nc"
    assert rendering.has_paywall_marker("x\n<!-- more -->\ny")
    assert "paywall" not in rendering.render_markdown("a\n\n<!-- paywall -->\n\nb")
