"""The complaint guard: count spam reports and hard bounces, warn, and pause before it is too late.

Every few minutes the tick judges (content.complaint_metrics) each send started in the last 30
days, each sequence step over the last 30 days and the publication over the last 30 days. A
window over a threshold becomes a `ComplaintAlert` (its unique key makes a rerun add nothing)
and an email to the admins. An unconfirmed pause holds the publication's next send (it stays
scheduled) and, for a step, pauses that step; confirmations and welcomes are transactional
mail and never held. Once an operator confirms, that window is counted afresh from then on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, func, not_, select, update
from sqlalchemy.orm import Session

from content import complaint_metrics as cm
from content.models import ComplaintAlert, Send, SendState
from content.sequence_models import StepClaim
from growth.db import commit, db, insert_ignoring_conflicts, utcnow
from growth.errors import NotFound
from growth.jobs import enqueue, task
from growth.models import Delivery, DeliveryKind, DeliveryState, EmailEvent, EmailEventType, Operator

log = logging.getLogger(__name__)

EVERY = dt.timedelta(minutes=5)
WINDOW = dt.timedelta(days=cm.WINDOW_DAYS)
COUNTED_KINDS = (DeliveryKind.VALUE, DeliveryKind.PITCH)


def unreported() -> frozenset[str]:
    """Gmail's domains and the configured Google-hosted ones."""
    return cm.unreported_domains(current_app.config["MASTHEAD"].google_hosted_domains)


def _reporting(domains: frozenset[str]) -> Any:
    address = func.lower(Delivery.to_email)
    return and_(*(not_(address.like(f"%@{d}")) for d in sorted(domains)))


_HARD_BOUNCE = and_(
    EmailEvent.type == EmailEventType.BOUNCE,
    func.coalesce(func.lower(EmailEvent.bounce_type), "bounce") != "blocked",
)


def _counts_query(domains: frozenset[str], *columns: Any) -> Any:
    reporting = _reporting(domains)
    return (
        select(
            *columns,
            func.count(func.distinct(Delivery.id)),
            func.count(func.distinct(case((reporting, Delivery.id)))),
            func.count(
                func.distinct(
                    case((and_(reporting, EmailEvent.type == EmailEventType.SPAMREPORT), Delivery.id))
                )
            ),
            func.count(func.distinct(case((_HARD_BOUNCE, Delivery.id)))),
        )
        .select_from(Delivery)
        .outerjoin(
            EmailEvent,
            and_(
                EmailEvent.delivery_id == Delivery.id,
                EmailEvent.type.in_([EmailEventType.SPAMREPORT, EmailEventType.BOUNCE]),
            ),
        )
        .where(Delivery.kind.in_(COUNTED_KINDS), Delivery.state == DeliveryState.SENT)
    )


def window_counts(session: Session, domains: frozenset[str], *where: Any) -> cm.Counts:
    """Value and pitch deliveries sent that match `where`, and their complaints and hard bounces."""
    sent, counted, complaints, hard = session.execute(_counts_query(domains).where(*where)).one()
    return cm.Counts(sent=sent, counted=counted, complaints=complaints, hard_bounces=hard)


def step_counts(
    session: Session, domains: frozenset[str], since: dt.datetime, step_ids: Iterable[int] | None = None
) -> dict[int, cm.Counts]:
    """Per sequence step: its deliveries sent since `since`, with complaints and hard bounces."""
    query = (
        _counts_query(domains, StepClaim.step_id)
        .join(StepClaim, StepClaim.delivery_id == Delivery.id)
        .where(Delivery.sent_at >= since)
        .group_by(StepClaim.step_id)
    )
    if step_ids is not None:
        query = query.where(StepClaim.step_id.in_(list(step_ids)))
    return {
        step: cm.Counts(sent=s, counted=c, complaints=n, hard_bounces=h)
        for step, s, c, n, h in session.execute(query)
    }


def _confirmed_since(session: Session) -> dict[tuple[str, int], dt.datetime]:
    """Per (scope, id): the last confirmation, from when its window is counted afresh."""
    rows = session.execute(
        select(ComplaintAlert.scope, ComplaintAlert.scope_id, func.max(ComplaintAlert.confirmed_at))
        .where(ComplaintAlert.confirmed_at.is_not(None))
        .group_by(ComplaintAlert.scope, ComplaintAlert.scope_id)
    )
    return {(scope, sid): _aware(at) for scope, sid, at in rows if at is not None}


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def judge_all(session: Session, now: dt.datetime) -> list[tuple[str, int, dt.datetime, cm.Verdict]]:
    """(scope, id, counted since, verdict) of every window the guard looks at now."""
    domains = unreported()
    start = now - WINDOW
    confirmed = _confirmed_since(session)

    def since(scope: str, scope_id: int, floor: dt.datetime) -> dt.datetime:
        return max(floor, confirmed.get((scope, scope_id), floor))

    out: list[tuple[str, int, dt.datetime, cm.Verdict]] = []
    at = since("publication", 0, start)
    publication = window_counts(session, domains, Delivery.sent_at >= at)
    out.append(("publication", 0, at, cm.judge_complaints(publication)))
    for send in session.scalars(
        select(Send).where(Send.state.in_([SendState.SENDING, SendState.DONE]), Send.started_at >= start)
    ):
        at = since("send", send.id, send.started_at or start)
        counts = window_counts(session, domains, Delivery.send_id == send.id, Delivery.sent_at >= at)
        out.append(("send", send.id, at, cm.judge_complaints(counts)))
        out.append(("send", send.id, at, cm.judge_hard_bounces(counts)))
    steps = step_counts(session, domains, start)
    later = {sid: at for (scope, sid), at in confirmed.items() if scope == "step" and at > start}
    if later:  # confirmed within the window: those steps count from their confirmation
        for sid, at in later.items():
            steps.pop(sid, None)
            steps.update(step_counts(session, domains, at, [sid]))
    for sid, counts in sorted(steps.items()):
        out.append(("step", sid, later.get(sid, start), cm.judge_complaints(counts)))
    return out


def run_guard(session: Session, now: dt.datetime) -> dict[str, int]:
    """The tick's work: record a new alert for each window over a threshold, email the admins.

    One alert per window, measure and level until an operator confirms it: the key names the
    last confirmation of that window (none yet: "-"), not the sliding start of the 30 days.
    """
    confirmed = _confirmed_since(session)

    def anchor(scope: str, sid: int) -> str:
        at = confirmed.get((scope, sid))
        return at.isoformat() if at else "-"

    rows = [
        {
            "key": f"{scope}:{sid}:{v.measure}:{v.level}:{anchor(scope, sid)}",
            "scope": scope,
            "scope_id": sid,
            "measure": v.measure,
            "level": str(v.level),
            "numerator": v.numerator,
            "denominator": v.denominator,
            "too_few": v.too_few,
            "created_at": now,
        }
        for scope, sid, _since, v in judge_all(session, now)
        if v.level != cm.Level.OK
    ]
    if rows:
        session.execute(insert_ignoring_conflicts(ComplaintAlert.__table__), rows)
    waiting = list(session.scalars(select(ComplaintAlert.id).where(ComplaintAlert.notified_at.is_(None))))
    for alert_id in waiting:
        enqueue("content.notify_complaint_alert", alert_id)
    return {"over_threshold": len(rows), "to_notify": len(waiting)}


def open_alerts(session: Session) -> list[ComplaintAlert]:
    """Alerts no operator has confirmed yet, pauses first, newest first."""
    return list(
        session.scalars(
            select(ComplaintAlert)
            .where(ComplaintAlert.confirmed_at.is_(None))
            .order_by(case((ComplaintAlert.level == cm.Level.PAUSE, 0), else_=1), ComplaintAlert.id.desc())
        )
    )


def holding_alert(session: Session) -> ComplaintAlert | None:
    """The unconfirmed pause that holds the publication's sends, if any."""
    return session.scalars(
        select(ComplaintAlert)
        .where(ComplaintAlert.confirmed_at.is_(None), ComplaintAlert.level == cm.Level.PAUSE)
        .order_by(ComplaintAlert.id)
        .limit(1)
    ).first()


def paused_step_ids(session: Session) -> set[int]:
    """Sequence steps paused by an unconfirmed pause."""
    return set(
        session.scalars(
            select(ComplaintAlert.scope_id).where(
                ComplaintAlert.confirmed_at.is_(None),
                ComplaintAlert.level == cm.Level.PAUSE,
                ComplaintAlert.scope == "step",
            )
        )
    )


def confirm_alert(
    session: Session, alert_id: int, operator_id: int | None, now: dt.datetime
) -> ComplaintAlert:
    """An operator has read the alert: a pause lifts, and its window counts afresh from now."""
    alert = session.get(ComplaintAlert, alert_id)
    if alert is None:
        raise NotFound("No such alert.", code="alert_not_found")
    if alert.confirmed_at is None:
        alert.confirmed_at = now
        alert.confirmed_by = operator_id
        session.flush()
    return alert


def describe(alert: ComplaintAlert) -> str:
    """'Send #12: complaint rate 0.42% (5 of 1,200): paused until an operator confirms'."""
    where = {"send": f"Send #{alert.scope_id}", "step": f"Sequence step #{alert.scope_id}"}.get(
        alert.scope, "The publication (last 30 days)"
    )
    verdict = cm.Verdict(
        alert.measure,
        cm.Level(alert.level),
        cm.rate(alert.numerator, alert.denominator),
        alert.numerator,
        alert.denominator,
        alert.too_few,
    )
    return f"{where}: {verdict.sentence}"


def admin_notices(session: Session) -> list[tuple[str, str]]:
    """The admin banner's lines: what the guard holds or warns about (growth.notices)."""
    alerts = open_alerts(session)
    if not alerts:
        return []
    held = [a for a in alerts if a.level == cm.Level.PAUSE]
    if held:
        text = f"Complaint guard: {describe(held[0])}. The next send is held."
    else:
        text = f"Complaint guard: {describe(alerts[0])}."
    if len(alerts) > 1:
        text += f" ({len(alerts)} alerts in all.)"
    return [(text, "/admin/complaints")]


@task("content.notify_complaint_alert")
def notify_complaint_alert(alert_id: int) -> int:
    """Email the alert to every admin once: claimed (notified_at) and committed before sending."""
    from growth.mailer import OutgoingMessage, SendError, get_backend

    session = db.session
    claimed = session.execute(
        update(ComplaintAlert)
        .where(ComplaintAlert.id == alert_id, ComplaintAlert.notified_at.is_(None))
        .values(notified_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    commit()
    alert = session.get(ComplaintAlert, alert_id)
    if not claimed or alert is None:
        return 0
    config = current_app.config["MASTHEAD"]
    text = (
        f"{describe(alert)}.\n\n"
        f"See {config.base_url}/admin/complaints to confirm or read the figures.\n"
        "Gmail and Google-hosted addresses are not in this rate (Gmail reports complaints only in "
        f"aggregate): see Postmaster Tools, {cm.POSTMASTER_TOOLS_URL}\n"
    )
    sent = 0
    for email in session.scalars(select(Operator.email).where(Operator.role == "admin")):
        message = OutgoingMessage(
            to_email=email,
            subject=f"Complaint guard: {describe(alert)}"[:300],
            text=text,
            custom_args={"kind": "operator"},
            template="complaint_alert",
        )
        try:
            get_backend().send(message)
            sent += 1
        except SendError as exc:  # claimed: not retried, the admin banner still shows it
            log.warning("complaint alert %s: email to %s failed: %s", alert_id, email, exc)
    return sent
