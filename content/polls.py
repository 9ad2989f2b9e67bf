"""One-click polls: signed per-reader links, answers recorded once per reader, scanners ignored.

A poll lives in the Markdown of a post or a sequence step (content.poll_syntax). Each email
carries, per poll, one signed URL for its reader (`/poll/<token>`), and each answer links to it
with the answer's index. The token names the reader, the delivery and the poll's owner and key;
a forged or damaged one is refused. The poll's row is made the first time someone answers it
(sending writes nothing). Every click is kept; a click within SCANNER_CLICK_SECONDS of the
delivery, or a burst that clicks every answer within those seconds, is a security scanner's and
records nothing (a burst also takes back the answers it made). The reader's answer is their
latest human click: one vote per reader, changeable. Each recorded answer is a `poll_answer`
engagement event, may fill a custom field, and enrols in sequences triggered by it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from content import poll_syntax
from content.models import Poll, PollClick, PollVote, Post
from content.sequence_models import SequenceStep
from growth import custom_fields, links, rollups
from growth.engagement import record_web_visit
from growth.errors import NotFound, ValidationFailed
from growth.events import scanner_clicks
from growth.models import Delivery, EmailEvent, EmailEventType, Status, Subscriber
from growth.tokens import InvalidToken, make_token, read_token

log = logging.getLogger(__name__)

PURPOSE = "poll"
POST, STEP = "p", "s"


def poll_url(subscriber_id: int | None, delivery_id: int | None, owner: str, owner_id: int, key: str) -> str:
    """The reader's signed URL of one poll; an answer's link adds `/<index>`."""
    token = make_token(PURPOSE, {"s": subscriber_id, "d": delivery_id, "o": owner, "i": owner_id, "k": key})
    return links.absolute(f"/poll/{token}")


def substitutions(
    subscriber_id: int | None, delivery_id: int | None, owner: str, owner_id: int, html: str
) -> dict[str, str]:
    """{placeholder: URL} for every poll the rendered body holds (none: nothing to sign)."""
    return {
        poll_syntax.placeholder(key): poll_url(subscriber_id, delivery_id, owner, owner_id, key)
        for key in sorted(poll_syntax.keys_in(html))
    }


def sample_substitutions(html: str) -> dict[str, str]:
    """For previews and test sends: links that go nowhere a vote is counted."""
    return {poll_syntax.placeholder(k): links.absolute("/poll/preview") for k in poll_syntax.keys_in(html)}


def _source(
    session: Session, owner: str, owner_id: int
) -> tuple[str | None, Post | None, SequenceStep | None]:
    if owner == POST:
        post = session.get(Post, owner_id)
        return (post.body_markdown if post else None), post, None
    step = session.get(SequenceStep, owner_id)
    return (step.body_markdown if step else None), None, step


def ensure_poll(session: Session, owner: str, owner_id: int, key: str) -> Poll:
    """The poll's row, made from its owner's current text the first time (a racing twin wins)."""
    column = Poll.post_id if owner == POST else Poll.step_id
    found = session.scalars(select(Poll).where(column == owner_id, Poll.key == key)).first()
    source, post, step = _source(session, owner, owner_id)
    spec = None
    if source is not None:
        spec = next((s for s in poll_syntax.extract(source)[1] if s.key == key), None)
    if found is not None:
        if spec is not None:  # the writer may have reworded it; the answers keep their places
            found.question, found.answers, found.field_name = spec.question, list(spec.answers), spec.field
        return found
    if spec is None:
        raise NotFound("This poll is no longer there.", code="poll_not_found")
    poll = Poll(
        key=key,
        question=spec.question,
        answers=list(spec.answers),
        field_name=spec.field,
        post_id=post.id if post else None,
        step_id=step.id if step else None,
    )
    try:
        with session.begin_nested():
            session.add(poll)
            session.flush()
    except IntegrityError:
        poll = session.scalars(select(Poll).where(column == owner_id, Poll.key == key)).one()
    return poll


@dataclass
class Outcome:
    """What one click did."""

    poll: Poll
    answer: str
    recorded: bool  # False: a scanner's click (nothing recorded)
    subscriber_id: int
    token: str


def read_poll_token(token: str) -> dict[str, Any]:
    """The token's payload; InvalidToken when forged, damaged or not a poll's."""
    payload = read_token(PURPOSE, token)
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("s"), int)
        or payload.get("o") not in (POST, STEP)
        or not isinstance(payload.get("i"), int)
        or not isinstance(payload.get("k"), str)
        or not (payload.get("d") is None or isinstance(payload.get("d"), int))
    ):
        raise InvalidToken("This link is not valid.")
    return payload


def answer_poll(session: Session, token: str, index: int, now: dt.datetime, scanner_seconds: int) -> Outcome:
    """Record one click on an answer (see the module docstring)."""
    payload = read_poll_token(token)
    subscriber = session.get(Subscriber, payload["s"])
    if subscriber is None or subscriber.status == Status.ERASED:
        raise InvalidToken("This link is not valid.")
    poll = ensure_poll(session, payload["o"], payload["i"], payload["k"])
    if not 0 <= index < len(poll.answers):
        raise ValidationFailed("This poll has no such answer.", code="no_such_answer", status=404)
    delivery = session.get(Delivery, payload["d"]) if payload.get("d") else None
    click = PollClick(
        poll_id=poll.id,
        subscriber_id=subscriber.id,
        delivery_id=delivery.id if delivery else None,
        answer=index,
        at=now,
    )
    session.add(click)
    session.flush()
    _judge_scanners(session, poll, subscriber.id, delivery, scanner_seconds)
    session.refresh(click)
    if not click.is_scanner:
        record_web_visit(
            session,
            subscriber.id,
            links.absolute(f"/poll/…/{index}"),
            now,
            delivery.id if delivery else None,
            kind=EmailEventType.POLL_ANSWER,
            event_id=_event_id(click.id),
            reason=f"{poll.question} {poll.answers[index]}"[:500],
        )
    _settle_vote(session, poll, subscriber, now)
    return Outcome(poll, poll.answers[index], not click.is_scanner, subscriber.id, token)


def _event_id(click_id: int) -> str:
    return f"poll-{click_id}"


def _judge_scanners(
    session: Session, poll: Poll, subscriber_id: int, delivery: Delivery | None, seconds: int
) -> None:
    """Flag this delivery's clicks on the poll that a scanner made; take back their engagement."""
    same_message = PollClick.delivery_id == delivery.id if delivery else PollClick.delivery_id.is_(None)
    clicks = list(
        session.scalars(
            select(PollClick).where(
                PollClick.poll_id == poll.id, PollClick.subscriber_id == subscriber_id, same_message
            )
        )
    )
    answers = {str(i) for i in range(len(poll.answers))}
    delivered_at = None
    if delivery is not None:  # as growth.events judges clicks: from delivery, else from sending
        delivered_at = session.scalar(
            select(func.min(EmailEvent.at)).where(
                EmailEvent.delivery_id == delivery.id, EmailEvent.type == EmailEventType.DELIVERED
            )
        )
        delivered_at = _aware(delivered_at) if delivered_at is not None else delivery.sent_at
    flagged = scanner_clicks([(c.id, c.at, str(c.answer)) for c in clicks], delivered_at, answers, seconds)
    undone = [c.id for c in clicks if c.id in flagged and not c.is_scanner]
    for c in clicks:
        c.is_scanner = c.is_scanner or c.id in flagged
    session.flush()
    if undone:
        session.execute(delete(EmailEvent).where(EmailEvent.event_id.in_([_event_id(i) for i in undone])))
        rollups.mark_dirty(session, [subscriber_id])


def _aware(value: Any) -> dt.datetime:
    """min() loses the column type on SQLite: parse and make UTC again."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _settle_vote(session: Session, poll: Poll, subscriber: Subscriber, now: dt.datetime) -> PollVote | None:
    """The reader's vote is their latest human click (none: no vote); fills the poll's field."""
    latest = session.scalars(
        select(PollClick)
        .where(
            PollClick.poll_id == poll.id,
            PollClick.subscriber_id == subscriber.id,
            PollClick.is_scanner.is_(False),
        )
        .order_by(PollClick.at.desc(), PollClick.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        session.execute(
            delete(PollVote).where(PollVote.poll_id == poll.id, PollVote.subscriber_id == subscriber.id)
        )
        return None
    text = poll.answers[latest.answer] if latest.answer < len(poll.answers) else str(latest.answer)
    vote = session.scalars(
        select(PollVote).where(PollVote.poll_id == poll.id, PollVote.subscriber_id == subscriber.id)
    ).first()
    changed = vote is None or vote.answer != latest.answer
    if vote is None:
        vote = PollVote(
            poll_id=poll.id,
            subscriber_id=subscriber.id,
            answer=latest.answer,
            answer_text=text[:200],
            first_at=latest.at,
            answered_at=latest.at,
        )
        try:
            with session.begin_nested():
                session.add(vote)
                session.flush()
        except IntegrityError:  # a racing click of the same reader: theirs or ours, the latest wins
            session.execute(
                update(PollVote)
                .where(PollVote.poll_id == poll.id, PollVote.subscriber_id == subscriber.id)
                .values(answer=latest.answer, answer_text=text[:200], answered_at=latest.at)
                .execution_options(synchronize_session=False)
            )
    else:
        vote.answer, vote.answer_text, vote.answered_at = latest.answer, text[:200], latest.at
    session.flush()
    if changed:
        _after_vote(session, poll, subscriber, text, now)
    return vote


def _after_vote(session: Session, poll: Poll, subscriber: Subscriber, text: str, now: dt.datetime) -> None:
    """A new or changed answer: fill the poll's custom field, enrol in sequences it triggers."""
    from content import sequences

    if poll.field_name:
        field = custom_fields.field_named(session, poll.field_name)
        if field is not None:
            try:
                value = custom_fields.clean_value(field, text)
                custom_fields.set_values(session, subscriber.id, {field.id: value}, "poll", now)
            except ValidationFailed as exc:  # the answer is not one of the field's: the vote stands
                log.info("poll %s: answer does not fit field %s: %s", poll.id, field.name, exc.message)
    sequences.enrol_on(session, subscriber, f"poll:{poll.id}={text}"[:64], now)


def tally(session: Session, poll: Poll) -> list[tuple[str, int]]:
    """(answer, readers whose current answer it is), in the poll's order."""
    query = select(PollVote.answer, func.count()).where(PollVote.poll_id == poll.id).group_by(PollVote.answer)
    counts = Counter(dict(session.execute(query).all()))
    return [(answer, counts.get(i, 0)) for i, answer in enumerate(poll.answers)]


def tally_by_day(session: Session, poll: Poll) -> list[tuple[dt.date, list[int]]]:
    """Per day (UTC) of the latest answer: how many current answers of each, oldest day first."""
    days: dict[dt.date, list[int]] = {}
    for answer, at in session.execute(
        select(PollVote.answer, PollVote.answered_at).where(PollVote.poll_id == poll.id)
    ):
        row = days.setdefault(at.date(), [0] * len(poll.answers))
        if 0 <= answer < len(row):
            row[answer] += 1
    return sorted(days.items())


def all_polls(session: Session) -> list[tuple[Poll, int, str]]:
    """Every poll with its votes and where it is (post or step), newest first."""
    votes = dict(session.execute(select(PollVote.poll_id, func.count()).group_by(PollVote.poll_id)).all())
    out = []
    for poll in session.scalars(select(Poll).order_by(Poll.id.desc())):
        where = f"post #{poll.post_id}" if poll.post_id else f"sequence step #{poll.step_id}"
        out.append((poll, votes.get(poll.id, 0), where))
    return out


def get_poll(session: Session, poll_id: int) -> Poll:
    poll = session.get(Poll, poll_id)
    if poll is None:
        raise NotFound("No such poll.", code="poll_not_found")
    return poll
