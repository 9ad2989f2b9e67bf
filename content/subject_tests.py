"""Subject tests on sends: equal random samples first, the result read once, then the rest.

A send may carry two to four subject lines. When it starts, the eligible audience (pitch rules
applied) is counted, `share` of it is drawn at random (not in id order) and split equally, and
each part gets one subject. At `decide_at` the tick reads each variant's rate once
(`subject_test_metrics.decide`), keeps the result, and the rest of the audience gets the winner,
or with no clear winner the subject with the higher observed rate.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table, case, func, insert, select
from sqlalchemy.orm import Session

from content import pacing, paywall, segments
from content import subject_test_metrics as stm
from content.models import Post, Send, SendState, SubjectTest
from growth import jobs
from growth.db import ids_in
from growth.errors import Conflict, ValidationFailed
from growth.fields import Rule
from growth.models import Delivery, DeliveryState, EmailEvent

METRICS = ("opens", "clicks")
DEFAULT_SHARE = 0.10
DEFAULT_WAIT_MINUTES = 240
MIN_WAIT_MINUTES, MAX_WAIT_MINUTES = 30, 72 * 60
# With no sends of its own to learn from, a newsletter's rate is assumed, and the page says so.
ASSUMED_BASELINE = {"opens": 0.30, "clicks": 0.03}
HISTORY_SENDS = 10
SUBJECT = Rule("subject", 200, min_length=1)
APPLE_NOTE = (
    "Open rates count human opens only: readers whose opens Apple Mail Privacy Protection hides "
    "are left out of an open-based test, so its rates are floors. Clicks are not affected."
)


@dataclass(frozen=True)
class TestPlan:
    """A validated subject test, before it is attached to a send."""

    subjects: list[str]
    share: float
    metric: str
    wait_minutes: int


def parse_plan(
    subjects: object, share: object = None, metric: object = None, wait_minutes: object = None
) -> TestPlan:
    """Check a test's settings (from the API or the admin form); ValidationFailed names the fault."""
    if not isinstance(subjects, list) or not 2 <= len(subjects) <= 4:
        raise ValidationFailed("a subject test takes two to four subject lines", code="invalid_subjects")
    cleaned = [SUBJECT.clean(s) for s in subjects]
    if len({s.casefold() for s in cleaned}) != len(cleaned):
        raise ValidationFailed("the subject lines of a test must differ", code="invalid_subjects")
    if share is None or share == "":
        share_value = DEFAULT_SHARE
    else:
        try:
            share_value = float(cast(Any, share))
        except (TypeError, ValueError):
            raise ValidationFailed(
                "share must be a number between 0.02 and 1", code="invalid_share"
            ) from None
        if isinstance(share, bool) or not 0.02 <= share_value <= 1.0:
            raise ValidationFailed("share must be a number between 0.02 and 1", code="invalid_share")
    metric_value = metric or "opens"
    if metric_value not in METRICS:
        raise ValidationFailed("metric must be opens or clicks", code="invalid_metric")
    if wait_minutes is None or wait_minutes == "":
        wait = DEFAULT_WAIT_MINUTES
    elif isinstance(wait_minutes, int) and not isinstance(wait_minutes, bool):
        wait = wait_minutes
    elif isinstance(wait_minutes, str) and wait_minutes.strip().isdigit() and len(wait_minutes.strip()) < 7:
        wait = int(wait_minutes.strip())
    else:
        raise ValidationFailed("wait_minutes must be a whole number", code="invalid_wait")
    if not MIN_WAIT_MINUTES <= wait <= MAX_WAIT_MINUTES:
        raise ValidationFailed(
            f"wait_minutes must lie between {MIN_WAIT_MINUTES} and {MAX_WAIT_MINUTES}", code="invalid_wait"
        )
    return TestPlan(cleaned, share_value, str(metric_value), wait)


def attach(session: Session, send: Send, plan: TestPlan) -> SubjectTest:
    """Give a send (not yet started) its test."""
    if pacing.rate_of(session, send.newsletter_id) is not None:
        raise ValidationFailed(
            "this newsletter has a send-rate cap: its samples could not all go out together, so it "
            "cannot run a subject test until the cap is lifted",
            code="capped_newsletter",
        )
    test = SubjectTest(
        send_id=send.id,
        subjects=plan.subjects,
        share=plan.share,
        metric=plan.metric,
        wait_minutes=plan.wait_minutes,
    )
    session.add(test)
    session.flush()
    return test


def test_of(session: Session, send_id: int) -> SubjectTest | None:
    """The send's subject test, if it has one."""
    return session.get(SubjectTest, send_id)


def subject_for(session: Session, send: Send, post: Post) -> str:
    """The subject the rest of a send gets: its test's choice once decided, else the post's title."""
    test = test_of(session, send.id)
    if test is not None and test.chosen is not None:
        return test.subjects[test.chosen]
    return post.title


def already_have(session: Session, send_id: int, subscriber_ids: list[int]) -> set[int]:
    """Which of these subscribers this send already has a delivery for (its test's samples)."""
    if not subscriber_ids:
        return set()
    return set(
        session.scalars(
            select(Delivery.subscriber_id).where(
                Delivery.send_id == send_id,
                Delivery.subscriber_id.between(min(subscriber_ids), max(subscriber_ids)),
            )
        )
    )


def _eligible(session: Session, send: Send, now: dt.datetime) -> list[segments.Candidate]:
    """Everyone the send would reach now, in id order (pitch rules applied)."""
    config = current_app.config["MASTHEAD"]
    segment = segments.parse_segment(send.segment)
    out: list[segments.Candidate] = []
    cursor = 0
    while True:
        page, last = segments.candidate_page(
            session, send.newsletter_id, segment, now, cursor, config.send_batch_size
        )
        if last is None:
            return out
        reasons = segments.skips_for_send(session, send, [c.id for c in page], now, config)
        out.extend(c for c in page if c.id not in reasons)
        cursor = last


def start(session: Session, send: Send, test: SubjectTest, now: dt.datetime) -> None:
    """Draw the samples, queue one batch per subject (and edition), and wait for the decision.

    Too small an audience for one reader per subject, or a cap set since the test was made: no
    test, and the whole send goes with the first subject, the result saying why.
    """
    from content.sending import FULL, TEASER, new_batch

    config = current_app.config["MASTHEAD"]
    post = session.get(Post, send.post_id)
    assert post is not None
    k = len(test.subjects)
    eligible = _eligible(session, send, now)
    per = stm.sample_sizes(len(eligible), k, test.share)
    test.started_at = now
    send.started_at = now
    if per == 0 or pacing.rate_of(session, send.newsletter_id) is not None:
        reason = "audience too small for a sample per subject" if per == 0 else "the newsletter was capped"
        _settle(session, send, test, now, chosen=0, result={"tested": False, "reason": reason})
        return
    test.seed = secrets.randbelow(2**31)
    test.per_variant = per
    drawn = random.Random(test.seed).sample(eligible, per * k)  # random order: slices are random too
    size = config.send_batch_size
    batches = []
    for variant, subject in enumerate(test.subjects):
        group = drawn[variant * per : (variant + 1) * per]
        readers = paywall.full_readers(session, post.audience, [(c.id, c.stage) for c in group])
        rows = [
            {
                "subscriber_id": c.id,
                "newsletter_id": send.newsletter_id,
                "send_id": send.id,
                "kind": send.kind,
                "template": "post",
                "state": DeliveryState.QUEUED,
                "to_email": c.email,
                "subject": subject,
                "attempts": 0,
                "error": None,
                "created_at": now,
            }
            for c in group
        ]
        session.execute(insert(cast(Table, Delivery.__table__)), rows)
        ids = {
            sid: did
            for sid, did in session.execute(
                select(Delivery.subscriber_id, Delivery.id).where(
                    Delivery.send_id == send.id, ids_in(Delivery.subscriber_id, [c.id for c in group])
                )
            )
        }
        for edition, members in (
            (FULL, [c.id for c in group if readers is None or c.id in readers]),
            (TEASER, [c.id for c in group if readers is not None and c.id not in readers]),
        ):
            members.sort()
            for i in range(0, len(members), size):
                chunk = sorted(ids[sid] for sid in members[i : i + size])
                batches.append(
                    new_batch(session, send.id, chunk, now, edition, subject=subject, variant=variant)
                )
    test.decide_at = now + dt.timedelta(minutes=test.wait_minutes)
    send.state = SendState.TESTING
    session.flush()
    for batch in batches:
        jobs.enqueue("content.deliver_batch", batch.id)


def _settle(
    session: Session, send: Send, test: SubjectTest, now: dt.datetime, chosen: int, result: dict[str, Any]
) -> None:
    test.chosen = chosen
    test.decided_at = now
    test.result = result
    send.state = SendState.SENDING
    session.flush()
    jobs.enqueue("content.run_send", send.id)


def variant_counts(session: Session, send_id: int, metric: str) -> dict[str, dict[str, int]]:
    """{subject: {sent, delivered, successes}} over a send's deliveries, counted in the database."""
    success = (
        (EmailEvent.type == "open") & EmailEvent.is_machine.is_(False)
        if metric == "opens"
        else (EmailEvent.type == "click") & EmailEvent.is_scanner.is_(False)
    )
    sent = dict(
        session.execute(
            select(Delivery.subject, func.count())
            .where(Delivery.send_id == send_id, Delivery.state == DeliveryState.SENT)
            .group_by(Delivery.subject)
        ).all()
    )
    events = {
        subject: (int(delivered or 0), int(hits or 0))
        for subject, delivered, hits in session.execute(
            select(
                Delivery.subject,
                func.count(func.distinct(case((EmailEvent.type == "delivered", Delivery.id)))),
                func.count(func.distinct(case((success, Delivery.id)))),
            )
            .join(EmailEvent, EmailEvent.delivery_id == Delivery.id)
            .where(Delivery.send_id == send_id)
            .group_by(Delivery.subject)
        )
    }
    subjects = set(sent) | set(events)
    return {
        s: {
            "sent": int(sent.get(s, 0)),
            "delivered": events.get(s, (0, 0))[0],
            "successes": events.get(s, (0, 0))[1],
        }
        for s in subjects
    }


def judge(counts: list[dict[str, int]]) -> tuple[stm.Decision, str]:
    """The decision over per-variant counts, and which denominator it used.

    Delivered emails (the provider's `delivered` events) when any were reported; without event
    webhooks (the outbox, a provider not yet set up) sent emails stand in for them.
    """
    basis = "delivered" if any(c["delivered"] for c in counts) else "sent"
    results = [(min(c["successes"], c[basis]), c[basis]) for c in counts]
    return stm.decide(results), basis


def decide(session: Session, test: SubjectTest, now: dt.datetime) -> None:
    """Read the test once, keep what it found, and release the rest of the send."""
    send = session.get(Send, test.send_id)
    assert send is not None
    if test.decided_at is not None or send.state != SendState.TESTING:
        return
    by_subject = variant_counts(session, send.id, test.metric)
    counts = [by_subject.get(s, {"sent": 0, "delivered": 0, "successes": 0}) for s in test.subjects]
    decision, basis = judge(counts)
    result = {
        "tested": True,
        "metric": test.metric,
        "basis": basis,
        "confidence": decision.confidence,
        "winner": decision.winner,
        "chosen": decision.chosen,
        "variants": [
            {"subject": s, **c, "rate": decision.rates[i]}
            for i, (s, c) in enumerate(zip(test.subjects, counts, strict=True))
        ],
        "comparisons": [
            {"a": c.a, "b": c.b, "difference": c.difference, "low": c.low, "high": c.high}
            for c in decision.comparisons
        ],
    }
    _settle(session, send, test, now, chosen=decision.chosen, result=result)


def decide_due(session: Session, now: dt.datetime) -> int:
    """The tick: decide every test whose time has come. Returns how many."""
    due = session.scalars(
        select(SubjectTest)
        .join(Send, Send.id == SubjectTest.send_id)
        .where(
            Send.state == SendState.TESTING, SubjectTest.decided_at.is_(None), SubjectTest.decide_at <= now
        )
    ).all()
    for test in due:
        decide(session, test, now)
    return len(due)


def decide_now(session: Session, send: Send, now: dt.datetime) -> None:
    """An operator ends the wait early; the rule is the same, read now."""
    test = test_of(session, send.id)
    if test is None or send.state != SendState.TESTING:
        raise Conflict("this send is not waiting for a subject test", code="not_testing")
    decide(session, test, now)


def baseline(session: Session, newsletter_id: int, metric: str) -> tuple[float, bool]:
    """The newsletter's rate over its last sends, and whether it came from them (else assumed)."""
    recent = list(
        session.scalars(
            select(Send.id)
            .where(Send.newsletter_id == newsletter_id, Send.state == SendState.DONE)
            .order_by(Send.id.desc())
            .limit(HISTORY_SENDS)
        )
    )
    total = {"sent": 0, "delivered": 0, "successes": 0}
    for send_id in recent:
        for c in variant_counts(session, send_id, metric).values():
            for key in total:
                total[key] += c[key]
    basis = total["delivered"] or total["sent"]
    if basis < 100:
        return ASSUMED_BASELINE[metric], False
    return total["successes"] / basis, True


def outlook(
    session: Session, newsletter_id: int, plan: TestPlan | SubjectTest, audience: int
) -> dict[str, Any]:
    """What a test of this audience can tell apart, shown before it goes."""
    k = len(plan.subjects)
    per = stm.sample_sizes(audience, k, plan.share)
    rate, measured = baseline(session, newsletter_id, plan.metric)
    lift = stm.detectable_lift(per, k, rate)
    return {
        "audience": audience,
        "per_variant": per,
        "rest": max(0, audience - per * k),
        "baseline_rate": rate,
        "baseline_measured": measured,
        "detectable_lift": lift,
        "note": APPLE_NOTE if plan.metric == "opens" else None,
    }


def outlook_for_send(session: Session, send: Send, test: SubjectTest, now: dt.datetime) -> dict[str, Any]:
    """The outlook of a send's test before it starts, on the audience it would reach now."""
    post = session.get(Post, send.post_id)
    assert post is not None
    config = current_app.config["MASTHEAD"]
    audience = segments.preview_post(session, post, segments.parse_segment(send.segment), now, config)
    return outlook(session, send.newsletter_id, test, audience.will_receive)


def plan_from_form(form: Any) -> TestPlan | None:
    """A test from the admin's send form (subjects, share in percent), None when no subject is typed."""
    subjects = [s for s in form.getlist("subjects") if isinstance(s, str) and s.strip()]
    if not subjects:
        return None
    share_text = (form.get("test_share") or "").strip()
    try:
        share: object = float(share_text) / 100 if share_text else None
    except ValueError:
        raise ValidationFailed("the samples' share must be a percentage", code="invalid_share") from None
    return parse_plan(subjects, share, form.get("test_metric") or None, form.get("test_wait_minutes") or None)


def test_json(session: Session, test: SubjectTest) -> dict[str, Any]:
    """The API shape of a send's test."""
    return {
        "subjects": test.subjects,
        "share": test.share,
        "metric": test.metric,
        "wait_minutes": test.wait_minutes,
        "per_variant": test.per_variant,
        "started_at": test.started_at.isoformat() if test.started_at else None,
        "decide_at": test.decide_at.isoformat() if test.decide_at else None,
        "decided_at": test.decided_at.isoformat() if test.decided_at else None,
        "chosen": test.chosen,
        "result": test.result,
    }
