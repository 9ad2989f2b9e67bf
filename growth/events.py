"""SendGrid Event Webhook: verify, store each event once, suppress bad addresses, flag machines.

The webhook view only verifies the signature, parses the batch and queues it; `process_events`
runs in the background job. A replayed or redelivered batch changes nothing: every event is
stored under SendGrid's `sg_event_id` (unique), and only newly stored events have effects.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import html
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from growth import jobs, rollups, stages, telemetry
from growth.engagement import bring_back, recompute_stages
from growth.errors import DomainError, Forbidden, InvalidRequest
from growth.models import Delivery, EmailEvent, EmailEventType, Status, Subscriber
from growth.schemas import has_nul, load_json

log = logging.getLogger(__name__)

SIGNATURE_HEADER = EventWebhookHeader.SIGNATURE
TIMESTAMP_HEADER = EventWebhookHeader.TIMESTAMP
PROVIDER_TYPES = frozenset(EmailEventType) - {EmailEventType.WEB_VISIT}
SOFT_FAILURES = ("blocked", "deferred")
# SendGrid drops mail to addresses on its own suppression lists; the reason names the list.
DROP_REASONS = {
    "bounced address": Status.BOUNCED,
    "spam reporting address": Status.COMPLAINED,
    "unsubscribed address": Status.UNSUBSCRIBED,
}
HREF_RE = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
TEXT_LINK_RE = re.compile(r"https?://[^\s<>\"']+")
MAX_SIGNED_AGE_SECONDS = 24 * 3600
MAX_SIGNED_AHEAD_SECONDS = 300


# --- the request: signature first, then parsing -------------------------------------------


def load_public_key(key: str) -> Any:
    """The EC public key from SendGrid's base64 DER (SubjectPublicKeyInfo); ValueError if bad."""
    try:
        return EventWebhook().convert_public_key_to_ecdsa(key.strip())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError("SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 DER public key") from exc


def signature_holds(public_key: Any, body: bytes, signature: str | None, timestamp: str | None) -> bool:
    """True when SendGrid signed timestamp + body with the key's private half."""
    if not signature or not timestamp:
        return False
    try:
        payload = body.decode("utf-8")
        return bool(EventWebhook().verify_signature(payload, signature, timestamp, public_key))
    except (UnicodeDecodeError, binascii.Error, ValueError, InvalidSignature):
        return False


def parse_batch(body: bytes) -> list[dict[str, Any]]:
    """The JSON array of events; InvalidRequest (400) when it is not one."""
    batch = load_json(body)
    if not isinstance(batch, list):
        raise InvalidRequest("The body must be a JSON array of events.", code="malformed_batch")
    return batch


def signed_time_is_fresh(timestamp: str | None, now: dt.datetime) -> bool:
    """The signed timestamp is a unix time at most a day old and at most 5 minutes ahead.

    Replays are already harmless (each sg_event_id is stored once); this bounds how long a
    captured request stays usable at all.
    """
    if not timestamp or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    age = now.timestamp() - int(timestamp)
    return -MAX_SIGNED_AHEAD_SECONDS <= age <= MAX_SIGNED_AGE_SECONDS


def receive_webhook(
    public_key: Any | None,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: dt.datetime | None = None,
) -> int:
    """Verify and queue one webhook POST; returns how many events were queued.

    Nothing is parsed before the signature holds: unsigned, forged, unverifiable or signed
    outside the time window -> 403.
    """
    if public_key is None:
        log.warning("SendGrid webhook refused: SENDGRID_WEBHOOK_PUBLIC_KEY is not set (or not valid)")
        raise Forbidden("Event webhook verification is not configured.", code="webhook_not_configured")
    if not signature_holds(public_key, body, signature, timestamp):
        log.warning("SendGrid webhook refused: signature does not verify")
        raise Forbidden("The signature does not verify.", code="invalid_signature")
    if not signed_time_is_fresh(timestamp, now or dt.datetime.now(dt.UTC)):
        log.warning(
            "SendGrid webhook refused: signed timestamp %r is outside the window", (timestamp or "")[:20]
        )
        raise Forbidden(
            "The signed timestamp is more than a day old or in the future.", code="stale_timestamp"
        )
    batch = parse_batch(body)
    received = now or dt.datetime.now(dt.UTC)
    for event in batch:
        stamp = event.get("timestamp") if isinstance(event, dict) else None
        if isinstance(stamp, int | float) and not isinstance(stamp, bool):
            telemetry.observe_webhook_lag("sendgrid", stamp, received)
    if batch:
        jobs.enqueue("process_sendgrid_events", batch, must_succeed=True)
    return len(batch)


# --- the job: store once, then act -----------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The thresholds processing uses (from Config)."""

    soft_bounce_threshold: int = 3
    scanner_click_seconds: int = 10
    policy: stages.Policy = stages.Policy()

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        return cls(
            config.soft_bounce_threshold,
            config.scanner_click_seconds,
            stages.Policy.from_config(config),
        )


def _valid(raw: Any) -> bool:
    if not isinstance(raw, dict):
        return False
    event_id, kind, ts = raw.get("sg_event_id"), raw.get("event"), raw.get("timestamp")
    return (
        isinstance(event_id, str)
        and 0 < len(event_id) <= 200
        and kind in PROVIDER_TYPES
        and isinstance(ts, int | float)
        and not isinstance(ts, bool)
        and 0 <= ts < 2**37
        and not has_nul(raw)  # text columns refuse NUL: this event is malformed, not the batch
    )


def _text(raw: dict[str, Any], key: str, limit: int) -> str | None:
    value = raw.get(key)
    return str(value)[:limit] if value not in (None, "") else None


def _int_arg(raw: dict[str, Any], key: str) -> int | None:
    """A custom arg that is an id (custom args come back as strings)."""
    value = raw.get(key)
    if isinstance(value, str) and value.isdigit() and len(value) < 12:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    return None


def _email_key(raw_email: Any) -> str | None:
    if not isinstance(raw_email, str) or not raw_email.strip():
        return None
    return _normalized(raw_email)


@functools.lru_cache(maxsize=4096)
def _normalized(raw_email: str) -> str:
    from growth.subscribers import normalize_email

    try:
        return normalize_email(raw_email)[1]
    except DomainError:
        return raw_email.strip().lower()


def process_events(session: Session, events: Iterable[Any], now: dt.datetime, config: Any) -> dict[str, int]:
    """Store each new event once and apply its effects; returns counts of what happened."""
    settings = config if isinstance(config, Settings) else Settings.from_config(config)
    events = list(events)
    valid = sorted((e for e in events if _valid(e)), key=lambda e: e["timestamp"])
    counts = {"stored": 0, "duplicate": 0, "ignored": len(events) - len(valid)}
    if counts["ignored"]:
        log.warning(
            "SendGrid webhook: %d events without id, type or timestamp, or holding a NUL, ignored",
            counts["ignored"],
        )
    known = _existing_ids(session, [e["sg_event_id"] for e in valid])  # a replay stops here
    unique = list({e["sg_event_id"]: e for e in valid if e["sg_event_id"] not in known}.values())
    deliveries, by_email = _targets(session, unique)
    values = []
    for raw in unique:
        delivery = deliveries.get(_int_arg(raw, "delivery_id") or -1)
        if (
            delivery is not None
            and raw.get("email")
            and _email_key(raw["email"]) != _email_key(delivery.to_email)
        ):
            delivery = None  # custom args of another message: trust the address instead
        subscriber_id = (
            delivery.subscriber_id if delivery else by_email.get(_email_key(raw.get("email")) or "")
        )
        values.append(_row_values(raw, delivery, subscriber_id, now))
    stored = _insert_new(session, values)
    counts["stored"] = len(stored)
    counts["duplicate"] = len(valid) - len(stored)
    rejudged = _flag_scanner_clicks(session, stored, deliveries, settings)
    subscribers = _load_subscribers(session, {r.subscriber_id for r in stored if r.subscriber_id})
    soft: set[int] = set()
    for row in stored:
        subscriber = subscribers.get(row.subscriber_id or -1)
        if subscriber is not None:
            _apply(session, row, subscriber, deliveries.get(row.delivery_id or -1), now, soft)
    for subscriber_id in sorted(soft):
        if soft_failures(session, subscriber_id) >= settings.soft_bounce_threshold:
            suppress(session, subscribers[subscriber_id], Status.BOUNCED, now, "repeated_soft_bounces")
    session.flush()
    # Readers move up the funnel as they read, not only when the nightly run comes.
    # A click judged again (a late `delivered`, the rest of a scanner's burst) counts as well:
    # the stage it moved is moved back.
    readers = {r.subscriber_id for r in stored if r.subscriber_id and _is_engagement(r)} | rejudged
    rollups.mark_dirty(session, (r.subscriber_id for r in stored if r.type == "open" or _is_engagement(r)))
    rollups.mark_dirty(session, rejudged)
    if readers:
        recompute_stages(session, now, settings.policy, readers)
    return counts


def _insert_new(session: Session, values: list[dict[str, Any]]) -> list[EmailEvent]:
    """INSERT ... ON CONFLICT (event_id) DO NOTHING: the rows this call stored, in time order.

    The unique index decides, so two workers on the same batch store each event once.
    """
    if not values:
        return []
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = (
        insert(EmailEvent)  # type: ignore[attr-defined]  # both dialects' Insert have it
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(EmailEvent.id)
    )
    # executemany with RETURNING: SQLAlchemy sends it as a few multi-row INSERTs.
    ids = list(session.scalars(statement, values))
    if not ids:
        return []
    rows = session.scalars(select(EmailEvent).where(EmailEvent.id.in_(ids))).all()
    return sorted(rows, key=lambda r: (r.at, r.id))


def _existing_ids(session: Session, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(session.scalars(select(EmailEvent.event_id).where(EmailEvent.event_id.in_(chunk))))
    return found


def _load_subscribers(session: Session, ids: set[int | None]) -> dict[int, Subscriber]:
    """The subscribers to act on, locked (in id order, so workers cannot deadlock) until commit."""
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    query = select(Subscriber).where(Subscriber.id.in_(wanted)).order_by(Subscriber.id)
    return {s.id: s for s in session.scalars(query.with_for_update())}


def _is_engagement(row: EmailEvent) -> bool:
    return stages.Fact(row.type, row.at, row.is_machine, row.is_scanner).is_human


def _targets(session: Session, events: list[dict[str, Any]]) -> tuple[dict[int, Delivery], dict[str, int]]:
    """Deliveries named by custom args, and subscriber ids by address, in two queries."""
    delivery_ids = sorted({i for e in events if (i := _int_arg(e, "delivery_id")) is not None})
    deliveries = (
        {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(delivery_ids)))}
        if delivery_ids
        else {}
    )
    keys = sorted({k for e in events if (k := _email_key(e.get("email")))})
    by_email: dict[str, int] = {}
    for start in range(0, len(keys), 500):
        rows = session.execute(
            select(Subscriber.email_normalized, Subscriber.id).where(
                Subscriber.email_normalized.in_(keys[start : start + 500])
            )
        )
        by_email.update({k: i for k, i in rows if k})
    return deliveries, by_email


def _row_values(
    raw: dict[str, Any], delivery: Delivery | None, subscriber_id: int | None, now: dt.datetime
) -> dict[str, Any]:
    kind = raw["event"]
    return {
        "event_id": raw["sg_event_id"],
        "type": kind,
        "subscriber_id": subscriber_id,
        "delivery_id": delivery.id if delivery else None,
        "email": _text(raw, "email", 320),
        "at": dt.datetime.fromtimestamp(raw["timestamp"], dt.UTC),
        "url": _text(raw, "url", 2000),
        "reason": _text(raw, "reason", 2000) or _text(raw, "response", 2000),
        "bounce_type": _text(raw, "type", 32) if kind == EmailEventType.BOUNCE else None,
        "is_machine": kind == EmailEventType.OPEN and raw.get("sg_machine_open") is True,
        "is_scanner": False,
        "payload": raw,
        "received_at": now,
    }


# --- security scanners ---------------------------------------------------------------------


def message_links(delivery: Delivery) -> set[str]:
    """The distinct links of a delivered message (its HTML part when it has one)."""
    stored = delivery.message or {}
    if stored.get("html"):
        found = {html.unescape(h) for h in HREF_RE.findall(stored["html"])}
    else:
        found = set(TEXT_LINK_RE.findall(stored.get("text") or ""))
    return {_clean(u) for u in found if u.startswith(("http://", "https://"))}


def _clean(url: str) -> str:
    return url.strip().rstrip(".,;:)>]")


def scanner_clicks(
    clicks: list[tuple[int, dt.datetime, str | None]],
    delivered_at: dt.datetime | None,
    links: set[str],
    seconds: int,
) -> set[int]:
    """Ids of clicks a security scanner made (pure).

    A click no later than `seconds` after delivery is a scanner's; so is every click of a burst,
    no longer than `seconds`, that covers every link of a message with two links or more.
    """
    window = dt.timedelta(seconds=seconds)
    flagged = {cid for cid, at, _ in clicks if delivered_at is not None and at <= delivered_at + window}
    if len(links) >= 2:
        ordered = sorted(clicks, key=lambda c: c[1])
        for i, (_, start, _) in enumerate(ordered):
            burst = [c for c in ordered[i:] if c[1] <= start + window]
            if links <= {_clean(u or "") for _, _, u in burst}:
                flagged.update(cid for cid, _, _ in burst)
    return flagged


def _flag_scanner_clicks(
    session: Session, stored: list[EmailEvent], deliveries: dict[int, Delivery], settings: Settings
) -> set[int]:
    """Re-judge every click of the messages this batch brought clicks or deliveries for.

    Events come out of order: a late `delivered` or the last click of a burst changes the verdict
    on clicks stored earlier. Returns the subscribers of clicks stored earlier whose verdict changed.
    """
    changed: set[int] = set()
    new_ids = {r.id for r in stored}
    touched = sorted(
        {
            r.delivery_id
            for r in stored
            if r.delivery_id and r.type in (EmailEventType.CLICK, EmailEventType.DELIVERED)
        }
    )
    if not touched:
        return changed
    rows = session.scalars(
        select(EmailEvent).where(
            EmailEvent.delivery_id.in_(touched),
            EmailEvent.type.in_([EmailEventType.CLICK, EmailEventType.DELIVERED]),
        )
    ).all()
    by_delivery: dict[int, list[EmailEvent]] = {}
    for row in rows:
        by_delivery.setdefault(row.delivery_id or -1, []).append(row)
    for delivery_id, events in by_delivery.items():
        delivery = deliveries.get(delivery_id)
        clicks = [r for r in events if r.type == EmailEventType.CLICK]
        if delivery is None or not clicks:
            continue
        delivered = [r.at for r in events if r.type == EmailEventType.DELIVERED]
        delivered_at = min(delivered) if delivered else delivery.sent_at
        flagged = scanner_clicks(
            [(r.id, r.at, r.url) for r in clicks],
            delivered_at,
            message_links(delivery),
            settings.scanner_click_seconds,
        )
        for row in clicks:
            verdict = row.id in flagged
            if row.is_scanner != verdict and row.id not in new_ids and row.subscriber_id:
                changed.add(row.subscriber_id)
            row.is_scanner = verdict
    return changed


def forget_erased(subscriber: Subscriber, *, session: Session, field: str, new: str, **_: Any) -> None:
    """On erasure, drop the address SendGrid's events carry (in email, reason and payload)."""
    if field != "status" or new != Status.ERASED:
        return
    session.execute(
        update(EmailEvent)
        .where(EmailEvent.subscriber_id == subscriber.id)
        .values(email=None, reason=None, payload=None)
        .execution_options(synchronize_session=False)
    )


# --- effects -------------------------------------------------------------------------------


def suppress(session: Session, subscriber: Subscriber, status: str, now: dt.datetime, reason: str) -> bool:
    """Stop mail to a bad address at once; a complaint is never downgraded to a bounce."""
    from growth.subscribers import set_status

    if subscriber.status in {Status.ERASED, Status.COMPLAINED} or subscriber.status == status:
        return False
    log.info("subscriber %s suppressed: %s (%s)", subscriber.id, status, reason)
    return set_status(session, subscriber, status, now, reason=reason)


def _apply(
    session: Session,
    row: EmailEvent,
    subscriber: Subscriber,
    delivery: Delivery | None,
    now: dt.datetime,
    soft: set[int],
) -> None:
    """The effect of one newly stored event; soft failures are collected into `soft`."""
    from growth.subscribers import unsubscribe

    kind = row.type
    if subscriber.status == Status.ERASED:  # a late event of an erased reader: keep no address
        row.email = row.reason = row.payload = None
        return
    if kind == EmailEventType.BOUNCE and (row.bounce_type or "bounce").lower() != "blocked":
        suppress(session, subscriber, Status.BOUNCED, now, "hard_bounce")
    elif kind in (EmailEventType.BOUNCE, EmailEventType.DEFERRED):
        soft.add(subscriber.id)
    elif kind == EmailEventType.SPAMREPORT:
        suppress(session, subscriber, Status.COMPLAINED, now, "spam_report")
    elif kind == EmailEventType.DROPPED:
        status = DROP_REASONS.get((row.reason or "").strip().lower())
        if status == Status.UNSUBSCRIBED:
            unsubscribe(session, subscriber, now, reason="provider_unsubscribed")
        elif status is not None:
            suppress(session, subscriber, status, now, f"dropped: {row.reason}")
    elif kind == EmailEventType.UNSUBSCRIBE:
        unsubscribe(session, subscriber, now, reason="provider_unsubscribe")
    elif kind == EmailEventType.GROUP_UNSUBSCRIBE:
        # A group is mapped to the newsletter of the message it was clicked in; unknown: all.
        newsletter_id = delivery.newsletter_id if delivery is not None else None
        unsubscribe(
            session,
            subscriber,
            now,
            newsletter_id=newsletter_id,
            reason="provider_group_unsubscribe",
        )
    elif (kind == EmailEventType.CLICK and not row.is_scanner) or (
        kind == EmailEventType.OPEN and not row.is_machine
    ):
        # A reader's click or open (never a scanner's or Apple's) ends a sunset, if it came after.
        bring_back(session, subscriber, now, reason=kind, at=row.at)
    # processed, delivered, group_resubscribe: recorded only (a resubscription needs our own
    # confirmation, not a provider's flag). Bounces, drops, complaints and unsubscribes above
    # apply whatever their timestamp.


def soft_failures(session: Session, subscriber_id: int) -> int:
    """Messages that failed softly (blocked, deferred) since the subscriber's last delivery.

    A deferred message that was delivered in the end does not count; one message deferred five
    times counts once.
    """
    rows = session.execute(
        select(
            EmailEvent.type,
            EmailEvent.bounce_type,
            EmailEvent.delivery_id,
            EmailEvent.payload,
            EmailEvent.at,
        ).where(
            EmailEvent.subscriber_id == subscriber_id,
            EmailEvent.type.in_([EmailEventType.DELIVERED, EmailEventType.DEFERRED, EmailEventType.BOUNCE]),
        )
    ).all()
    return count_soft_failures([(t, bt, _message_key(did, payload), at) for t, bt, did, payload, at in rows])


def _message_key(delivery_id: int | None, payload: dict[str, Any] | None) -> str:
    if delivery_id is not None:
        return f"d{delivery_id}"
    message_id = str((payload or {}).get("sg_message_id") or "")
    # sg_message_id is SendGrid's X-Message-Id followed by ".filter..." routing detail.
    return "m" + message_id.split(".", 1)[0] if message_id else f"e{id(payload)}"


def count_soft_failures(events: list[tuple[str, str | None, str, dt.datetime]]) -> int:
    """Pure: distinct messages with a blocked bounce or deferral after the last delivered one.

    `events` are (type, bounce_type, message_key, at).
    """
    delivered = [(key, at) for kind, _, key, at in events if kind == EmailEventType.DELIVERED]
    delivered_keys = {key for key, _ in delivered}
    last_delivered = max((at for _, at in delivered), default=None)
    failed = {
        key
        for kind, bounce_type, key, at in events
        if (
            kind == EmailEventType.DEFERRED
            or (kind == EmailEventType.BOUNCE and (bounce_type or "").lower() == "blocked")
        )
        and key not in delivered_keys
        and (last_delivered is None or at > last_delivered)
    }
    return len(failed)
