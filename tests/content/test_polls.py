"""One-click polls: the syntax, signed links forged, repeated, changed and clicked by a scanner,
the tally, engagement, segments and triggers on answers and fields."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from content import poll_syntax, polls, sequences
from content.models import Poll, PollClick, PollVote
from content.rendering import render_markdown
from content.segments import parse_segment, preview
from content.sequence_models import Enrolment
from content.sequences import SequenceInput, StepInput
from growth import custom_fields, links
from growth.custom_fields import FieldInput
from growth.db import commit, simulated_clock
from growth.engagement import engaged_value_counts
from growth.errors import ValidationFailed
from growth.models import EmailEvent
from growth.subscribers import default_newsletter
from tests.content.conftest import NOW, add_subscribers, make_post
from tests.fakes.engagement_data import make_delivery, make_subscriber

BODY = "Hello.\n\n[poll topic] Which topic next?\n- Privacy\n- Pricing\n- Tools\n[/poll]\n\nBye."
LATER = NOW + dt.timedelta(minutes=5)  # well after the delivery: a reader, not a scanner


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("[poll a] Q?\n- only one\n[/poll]", "2 to 10 answers"),
        ("[poll a]\n- x\n- y\n[/poll]", "the question"),
        ("[poll a] Q?\n- Yes\n- yes\n[/poll]", "given twice"),
        ("[poll a] Q?\n- x\n- y\n[/poll]\n\n[poll a] R?\n- x\n- y\n[/poll]", "two polls"),
        ("[poll a] Q?\n" + "".join(f"- {i}\n" for i in range(11)) + "[/poll]", "2 to 10 answers"),
    ],
)
def test_bad_polls_are_refused_when_saved(source, message):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed, match=message):
        render_markdown(source)


def test_a_poll_renders_as_one_link_per_answer_and_without_links_on_the_web():
    html = render_markdown("[poll best_tool field=tool] Your <i>tool</i>?\n- Vim & co\n- Emacs\n[/poll]")
    assert '<a href="[%mh:poll:best_tool%]/0">Vim &amp; co</a>' in html
    assert '<a href="[%mh:poll:best_tool%]/1">Emacs</a>' in html
    assert "Your &lt;i&gt;tool&lt;/i&gt;?" in html  # the question is text, never markup
    assert poll_syntax.keys_in(html) == {"best_tool"}
    web = poll_syntax.for_web(html)
    assert "[%mh" not in web and '<span class="poll-answer">Emacs</span>' in web
    _, [spec] = poll_syntax.extract("[poll best_tool field=tool] Q?\n- a\n- b\n[/poll]")
    assert spec.field == "tool"


@pytest.fixture
def reader(session):  # type: ignore[no-untyped-def]
    """A post with a poll, a reader and the delivery of that post to them (sent at NOW)."""
    post = make_post(session, body_markdown=BODY)
    sub = make_subscriber(session, "reader@example.com", confirmed_at=NOW - dt.timedelta(days=30))
    delivery = make_delivery(session, sub, NOW)
    commit()
    url = polls.poll_url(sub.id, delivery.id, polls.POST, post.id, "topic")
    return post, sub, delivery, url.removeprefix(links.absolute(""))


def click(client, path: str, answer: int, at: dt.datetime):  # type: ignore[no-untyped-def]
    with simulated_clock(lambda: at):
        return client.get(f"{path}/{answer}")


def votes(session):  # type: ignore[no-untyped-def]
    session.expire_all()
    return [(v.answer, v.answer_text) for v in session.scalars(select(PollVote))]


def poll_events(session):  # type: ignore[no-untyped-def]
    return list(session.scalars(select(EmailEvent).where(EmailEvent.type == "poll_answer")))


def test_a_click_records_once_per_reader_and_may_be_changed(client, session, reader):  # type: ignore[no-untyped-def]
    post, sub, delivery, path = reader
    page = click(client, path, 1, LATER)
    assert page.status_code == 200 and "Your answer: <strong>Pricing</strong>" in page.get_data(as_text=True)
    assert votes(session) == [(1, "Pricing")]
    click(client, path, 1, LATER + dt.timedelta(minutes=1))  # the same again: still one vote
    assert votes(session) == [(1, "Pricing")]
    changed = click(client, path, 2, LATER + dt.timedelta(hours=1))
    assert "Your answer: <strong>Tools</strong>" in changed.get_data(as_text=True)
    assert votes(session) == [(2, "Tools")]
    [poll] = session.scalars(select(Poll))
    assert polls.tally(session, poll) == [("Privacy", 0), ("Pricing", 0), ("Tools", 1)]
    assert polls.tally_by_day(session, poll) == [(LATER.date(), [0, 0, 1])]
    # Each recorded click is a human engagement with the value email it came in.
    assert len(poll_events(session)) == 3
    assert engaged_value_counts(session, [sub.id]) == {sub.id: 1}


def test_a_scanner_click_records_nothing(client, session, reader):  # type: ignore[no-untyped-def]
    _, _, _, path = reader
    page = click(client, path, 0, NOW + dt.timedelta(seconds=3))  # seconds after delivery
    assert page.status_code == 200  # the scanner sees a page; nothing is counted
    assert votes(session) == [] and poll_events(session) == []
    assert [c.is_scanner for c in session.scalars(select(PollClick))] == [True]
    assert client.head(f"{path}/1").status_code == 200
    assert len(list(session.scalars(select(PollClick)))) == 1  # a HEAD is not even a click


def test_a_burst_over_every_answer_is_a_scanner_and_takes_back_what_it_made(client, session, reader):  # type: ignore[no-untyped-def]
    _, _, _, path = reader
    click(client, path, 0, LATER)
    assert votes(session) == [(0, "Privacy")]
    click(client, path, 1, LATER + dt.timedelta(seconds=2))
    click(client, path, 2, LATER + dt.timedelta(seconds=4))  # every answer within 10 s
    assert votes(session) == [] and poll_events(session) == []
    click(client, path, 1, LATER + dt.timedelta(minutes=10))  # the reader, later
    assert votes(session) == [(1, "Pricing")]


def test_forged_and_wrong_links_are_refused(client, session, reader):  # type: ignore[no-untyped-def]
    _, sub, _, path = reader
    token = path.removeprefix("/poll/")
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert click(client, f"/poll/{forged}", 0, LATER).status_code == 400
    other_purpose = links.manage_token(sub)  # a real token, of another purpose
    assert click(client, f"/poll/{other_purpose}", 0, LATER).status_code == 400
    assert click(client, path, 3, LATER).status_code == 404  # no fourth answer
    gone = polls.poll_url(sub.id, None, polls.POST, 999999, "topic").removeprefix(links.absolute(""))
    assert click(client, gone, 0, LATER).status_code == 404
    assert votes(session) == [] and list(session.scalars(select(PollClick))) == []


def test_a_send_gives_each_reader_their_own_poll_links(sg_app, session, fake_sendgrid):  # type: ignore[no-untyped-def]
    from tests.content.test_sending import start

    post = make_post(session, body_markdown=BODY)
    add_subscribers(session, 2)
    commit()
    start(sg_app, post.id)
    [body] = fake_sendgrid.requests
    html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
    assert '[%mh:poll:topic%]/0">Privacy' in html
    urls = [p["substitutions"]["[%mh:poll:topic%]"] for p in body["personalizations"]]
    assert len(set(urls)) == 2 and all(re.fullmatch(r"http://masthead\.test/poll/\S+", u) for u in urls)


def test_segments_and_triggers_on_answers_and_fields(client, session, reader, outbox):  # type: ignore[no-untyped-def]
    post, sub, _, path = reader
    role = custom_fields.define_field(
        session, FieldInput("role", "Role", "choice", ("Editor", "Reader")), NOW
    )
    other = make_subscriber(session, "other@example.com", confirmed_at=NOW - dt.timedelta(days=30))
    custom_fields.set_values(session, other.id, {role.id: "Editor"}, "admin", NOW)
    commit()
    click(client, path, 2, LATER)
    [poll] = session.scalars(select(Poll))
    newsletter = default_newsletter(session)

    def reached(segment: str) -> int:
        return preview(session, newsletter.id, parse_segment(segment), "value", LATER, 3, 7).will_receive

    assert reached(f"poll:{poll.id}=tools") == 1  # the answer's words, whatever their case
    assert reached(f"poll:{poll.id}=Privacy") == 0
    assert reached("field:role=editor") == 1
    assert reached("field:role=Reader") == 0
    for bad in ("field:Role=x", "field:role=", "poll:x=Tools", "poll:1"):
        with pytest.raises(ValidationFailed):
            parse_segment(bad)

    by_poll = sequences.create_sequence(
        session,
        SequenceInput(
            name="Tools fans", trigger=f"poll:{poll.id}=Tools", steps=[StepInput(subject="Tools!")]
        ),
        NOW,
    )
    by_field = sequences.create_sequence(
        session,
        SequenceInput(name="Editors", trigger="field:role=Reader", steps=[StepInput(subject="Hi")]),
        NOW,
    )
    with pytest.raises(ValidationFailed):
        sequences.create_sequence(session, SequenceInput(name="x", trigger="field:role", steps=[]), NOW)
    commit()
    click(client, path, 1, LATER + dt.timedelta(hours=1))
    click(client, path, 2, LATER + dt.timedelta(hours=2))  # answering Tools again enrols
    custom_fields.set_values(session, sub.id, {role.id: "Reader"}, "reader", LATER)
    commit()
    enrolled = {(e.sequence_id, e.subscriber_id) for e in session.scalars(select(Enrolment))}
    assert enrolled == {(by_poll.id, sub.id), (by_field.id, sub.id)}


def test_a_poll_fills_its_custom_field(client, session):  # type: ignore[no-untyped-def]
    custom_fields.define_field(session, FieldInput("role", "Role", "choice", ("Editor", "Reader")), NOW)
    post = make_post(session, body_markdown="[poll role field=role] You are?\n- Editor\n- Reader\n[/poll]")
    sub = make_subscriber(session, "r@example.com")
    delivery = make_delivery(session, sub, NOW)
    commit()
    path = polls.poll_url(sub.id, delivery.id, polls.POST, post.id, "role").removeprefix(links.absolute(""))
    click(client, path, 1, LATER)
    assert custom_fields.values_of(session, [sub.id])[sub.id] == {"role": "Reader"}


def test_the_admin_tally_page(client, session, reader):  # type: ignore[no-untyped-def]
    from growth import auth
    from tests.growth.helpers import login_as

    _, _, _, path = reader
    click(client, path, 0, LATER)
    [poll] = session.scalars(select(Poll))
    creator = auth.create_operator(session, "w@example.com", "long enough pw", "creator")
    commit()
    login_as(client, creator)
    listing = client.get("/admin/polls").get_data(as_text=True)
    assert "Which topic next?" in listing
    page = client.get(f"/admin/polls/{poll.id}").get_data(as_text=True)
    assert "<td>Privacy</td><td>1</td><td>100%</td>" in page
    assert LATER.date().isoformat() in page
    assert client.get("/admin/polls/999999").status_code == 404


def test_web_page_shows_polls_without_links(client, session):  # type: ignore[no-untyped-def]
    post = make_post(session, body_markdown=BODY)
    commit()
    page = client.get(f"/p/{post.slug}").get_data(as_text=True)
    assert "Which topic next?" in page and "[%mh" not in page and 'class="poll-answer"' in page


def test_answers_are_in_the_readers_data(client, session, reader):  # type: ignore[no-untyped-def]
    from growth import privacy

    _, sub, _, path = reader
    click(client, path, 2, LATER)
    document = privacy.export_subscriber(session, session.get(type(sub), sub.id), LATER)
    assert [(p["poll"], p["answer"]) for p in document["polls"]] == [("Which topic next?", "Tools")]


def test_the_admin_starts_a_sequence_on_an_answer(client, session):  # type: ignore[no-untyped-def]
    from flask import g

    from content.sequence_models import Sequence
    from growth import auth
    from tests.content.conftest import csrf_from
    from tests.growth.helpers import login_as

    operator = auth.create_operator(session, "creator@example.com", "a-long-password", "creator")
    session.commit()
    g.pop("operator", None)
    login_as(client, operator)
    token = csrf_from(client.get("/admin/sequences").text)
    form = {"name": "Editors", "trigger": "confirmed", "newsletter": "main", "csrf_token": token}
    made = client.post("/admin/sequences", data={**form, "trigger_answer": "field:role=Editor"})
    assert made.status_code == 302
    assert (
        session.scalars(select(Sequence.trigger).where(Sequence.name == "Editors")).one()
        == "field:role=Editor"
    )
    refused = client.post("/admin/sequences", data={**form, "name": "Bad", "trigger_answer": "field:role"})
    assert refused.status_code == 422
    page = client.get(made.headers["Location"]).text
    assert 'value="field:role=Editor"' in page


def test_a_scanner_is_judged_from_the_delivered_event_when_there_is_one(client, session, reader):  # type: ignore[no-untyped-def]
    from tests.fakes.engagement_data import make_event

    _, sub, delivery, path = reader
    make_event(session, sub, "delivered", NOW + dt.timedelta(minutes=3), delivery=delivery)
    commit()
    click(client, path, 0, NOW + dt.timedelta(minutes=3, seconds=4))  # 4 s after delivery
    assert votes(session) == []
    click(client, path, 0, NOW + dt.timedelta(minutes=30))
    assert votes(session) == [(0, "Privacy")]


@pytest.mark.parametrize("answer", ["x", "-1", "٣", "100", "1.0"])
def test_an_answer_that_is_not_a_small_number_names_nothing(client, session, reader, answer):  # type: ignore[no-untyped-def]
    _, _, _, path = reader
    assert client.get(f"{path}/{answer}").status_code == 404
    assert list(session.scalars(select(PollClick))) == []
