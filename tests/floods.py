"""Webhook floods: the same SendGrid and Stripe events, clean and ordered or shuffled with repeats.

Used by `bench/floods.py` (full size) and `tests/growth/test_floods.py` (small, PostgreSQL).
A scenario is a set of subscribers with sent messages, SendGrid's events about those messages
(processed, delivered, deferred, bounces, drops, opens with Apple's machine opens, clicks with
scanner bursts, unsubscribes, complaints) and Stripe's events about some of them paying
(checkout, subscriptions created, renewed, upgraded, failing, recovering, cancelled, deleted,
a coupon and its discounts), shaped as each provider sends them for the pinned API version.

Both deliveries go through the real webhook endpoints with valid signatures, at one simulated
instant, into databases seeded identically; `snapshot` reads every table (surrogate ids of rows
made by the events replaced by their provider ids) so the two end states can be compared row
for row.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from billing.demo_events import StripeShapes, encode, sign
from tests.fakes.sendgrid_webhook import WebhookSigner, event

DAY = 86400
LINKS = ("https://example.org/story", "https://example.org/shop")
# Wall-clock and lease columns say when a process ran, not what the events did.
UNCOMPARED_TABLES = frozenset({"scheduled_tasks", "alembic_version"})
TIERS = (("Supporter", 800, 8000), ("Patron", 2000, 20000))
COUPON_ID = "FLOOD20"


@dataclass
class Scenario:
    """Who exists before the events, and the events, in the order they happened."""

    now: dt.datetime
    subscribers: int
    deliveries: list[tuple[int, int, int]]  # (subscriber number, delivery number, sent at)
    sendgrid: list[dict[str, Any]] = field(default_factory=list)
    stripe: list[dict[str, Any]] = field(default_factory=list)


def email_of(n: int) -> str:
    return f"reader{n}@example.com"


# --- the scenario ------------------------------------------------------------------------------


def build_scenario(now: dt.datetime, *, sendgrid_events: int, stripe_events: int, seed: int = 1) -> Scenario:
    """Subscribers and their messages, then exactly the numbers of events asked for."""
    rng = random.Random(seed)
    subscribers = max(20, sendgrid_events // 8)
    end = int(now.timestamp()) - 2 * 3600
    deliveries = []
    for number in range(1, subscribers * 3 + 1):
        deliveries.append(((number - 1) % subscribers + 1, number, end - rng.randint(1, 60) * DAY))
    scenario = Scenario(now=now, subscribers=subscribers, deliveries=deliveries)
    scenario.sendgrid = _sendgrid_events(rng, deliveries, sendgrid_events, end)
    scenario.stripe = _stripe_events(rng, subscribers, stripe_events, end, seed)
    return scenario


def _sendgrid_events(
    rng: random.Random, deliveries: list[tuple[int, int, int]], wanted: int, end: int
) -> list[dict[str, Any]]:
    """Each message's life as SendGrid reports it, message after message, until `wanted` events."""
    out: list[dict[str, Any]] = []
    pool = list(deliveries)
    rng.shuffle(pool)
    for reader, number, sent in pool * 10:
        if len(out) >= wanted:
            break
        out.extend(_message_events(rng, reader, number, sent, end))
    out = out[:wanted]
    out.sort(key=lambda e: (e["timestamp"], e["sg_event_id"]))
    return out


def _message_events(
    rng: random.Random, reader: int, number: int, sent: int, end: int
) -> list[dict[str, Any]]:
    address = email_of(reader)
    message_id = f"flood{number:07d}.filter0001.{number}.0"
    args = {"delivery_id": str(number), "sg_message_id": message_id}

    def at(offset: int) -> int:
        return min(sent + offset, end)

    def ev(kind: str, offset: int, **fields: Any) -> dict[str, Any]:
        return event(kind, address, at(offset), sg_event_id=f"sg{rng.getrandbits(64):016x}", **args, **fields)

    events = [ev("processed", 0, **{"smtp-id": f"<{message_id}@example.com>"})]
    draw = rng.random()
    if draw < 0.05:
        events.append(ev("bounce", 5, type="bounce", status="5.1.1", reason="550 5.1.1 user unknown"))
        return events
    if draw < 0.07:
        events.append(ev("dropped", 1, reason=rng.choice(["Bounced Address", "Unsubscribed Address"])))
        return events
    if draw < 0.13:  # the receiving server is unhappy for a while
        for attempt in range(1, rng.randint(2, 4)):
            events.append(ev("deferred", attempt * 600, response="451 try again later", attempt=str(attempt)))
        if rng.random() < 0.5:
            events.append(ev("bounce", 4000, type="blocked", status="4.7.1", reason="blocked by policy"))
            return events
    delivered = rng.randint(2, 90)
    events.append(ev("delivered", delivered, response="250 OK"))
    if rng.random() < 0.25:  # Apple Mail fetches the pixel
        events.append(ev("open", delivered + 30, sg_machine_open=True, useragent="Mozilla/5.0"))
    opened = delivered + rng.randint(300, 3 * DAY)
    for k in range(rng.choice([0, 0, 1, 1, 2, 3])):
        events.append(ev("open", opened + k * 3600, sg_machine_open=False, useragent="Mozilla/5.0"))
    if rng.random() < 0.08:  # a security scanner follows both links at once
        for k, url in enumerate(LINKS):
            events.append(ev("click", delivered + 2 + k, url=url, useragent="scanner"))
    for k in range(rng.choice([0, 0, 0, 1, 2])):
        events.append(ev("click", opened + 60 + k * 120, url=rng.choice(LINKS), useragent="Mozilla/5.0"))
    last = rng.random()
    if last < 0.02:
        events.append(ev("spamreport", opened + 600))
    elif last < 0.05:
        events.append(ev("unsubscribe", opened + 600))
    elif last < 0.07:
        events.append(ev("group_unsubscribe", opened + 600, asm_group_id=1))
        if rng.random() < 0.3:
            events.append(ev("group_resubscribe", opened + 1200, asm_group_id=1))
    return events


def _stripe_events(
    rng: random.Random, readers: int, wanted: int, end: int, seed: int
) -> list[dict[str, Any]]:
    """Readers who pay, as Stripe tells it, one reader's year after another, until `wanted`."""
    shapes = StripeShapes(seed + 1000)
    start = end - 300 * DAY
    events = [shapes.event("coupon.created", coupon(shapes, start), start)]
    candidates = list(range(1, readers + 1))
    rng.shuffle(candidates)
    for reader in candidates:
        if len(events) >= wanted:
            break
        events.extend(_paying_life(rng, shapes, reader, rng.randint(start + 60, end - 40 * DAY), end))
    events = events[:wanted]
    events.sort(key=lambda e: (e["created"], e["id"]))
    return events


def coupon(shapes: StripeShapes, created: int) -> dict[str, Any]:
    return shapes.coupon(coupon_id=COUPON_ID, percent_off=20.0, created=created)


def _paying_life(
    rng: random.Random, shapes: StripeShapes, reader: int, at: int, end: int
) -> list[dict[str, Any]]:
    """Checkout, then each month a renewal, a failed payment, an upgrade or a cancellation."""
    tier = 1 if rng.random() < 0.25 else 0
    metadata = {"subscriber_id": str(reader), "tier_index": str(tier)}
    plan: dict[str, Any] = {
        "sub_id": shapes.new_id("sub"),
        "customer": shapes.new_id("cus"),
        "item_id": shapes.new_id("si"),
        "tier": tier,
        "period_start": at,
        "period_end": at + 30 * DAY,
        "status": "active",
        "discounts": [],
        "cancelling": False,
        "metadata": metadata,
    }

    def subscription(**overrides: Any) -> dict[str, Any]:
        name, monthly, _ = TIERS[plan["tier"]]
        values: dict[str, Any] = dict(
            sub_id=plan["sub_id"],
            customer=plan["customer"],
            price_id=f"price_flood_{name.lower()}_month",
            unit_amount=monthly,
            currency="usd",
            interval="month",
            period_start=plan["period_start"],
            period_end=plan["period_end"],
            metadata=plan["metadata"],
            status=plan["status"],
            discounts=plan["discounts"],
            cancel_at_period_end=plan["cancelling"],
            item_id=plan["item_id"],
        )
        values.update(overrides)
        return shapes.subscription(**values)

    def invoice(when: int, paid: bool, amount: int | None = None) -> dict[str, Any]:
        full = TIERS[plan["tier"]][1]
        due = full * 80 // 100 if plan["discounts"] else full
        return shapes.invoice(
            customer=plan["customer"],
            email=email_of(reader),
            subscription=plan["sub_id"],
            amount=due if amount is None else amount,
            currency="usd",
            period_start=plan["period_start"],
            period_end=plan["period_end"],
            metadata=plan["metadata"],
            paid=paid,
            at=when,
            next_attempt=when + 3 * DAY,
        )

    discount = None
    if rng.random() < 0.2:
        discount = shapes.discount(
            coupon_id=COUPON_ID, customer=plan["customer"], subscription=plan["sub_id"], start=at
        )
        plan["discounts"] = [discount["id"]]
    paid = invoice(at, True)
    checkout = shapes.checkout_session(
        customer=plan["customer"],
        email=email_of(reader),
        subscription=plan["sub_id"],
        metadata=metadata,
        amount=paid["amount_paid"],
        currency="usd",
    )
    out = [
        shapes.event("checkout.session.completed", checkout, at),
        shapes.event("customer.subscription.created", subscription(), at),
        shapes.event("invoice.paid", paid, at + 1),
    ]
    if discount is not None:
        out.append(shapes.event("customer.discount.created", discount, at))
    while plan["period_end"] < end:
        when = plan["period_end"]
        before = subscription()["items"]
        draw = rng.random()
        if plan["cancelling"]:
            plan["status"] = "canceled"
            out.append(shapes.event("customer.subscription.deleted", subscription(canceled_at=when), when))
            break
        plan["period_start"], plan["period_end"] = when, when + 30 * DAY
        if draw < 0.1:
            plan["status"] = "past_due"
            out.append(shapes.event("invoice.payment_failed", invoice(when, False), when))
            out.append(
                shapes.event(
                    "customer.subscription.updated",
                    subscription(),
                    when + 1,
                    {"status": "active", "items": before},
                )
            )
            retry = when + 3 * DAY
            if rng.random() < 0.5:
                plan["status"] = "active"
                out.append(shapes.event("invoice.paid", invoice(retry, True), retry))
                out.append(
                    shapes.event(
                        "customer.subscription.updated", subscription(), retry + 1, {"status": "past_due"}
                    )
                )
            else:
                plan["status"] = "canceled"
                out.append(
                    shapes.event("customer.subscription.deleted", subscription(canceled_at=retry), retry)
                )
                break
        else:
            out.append(shapes.event("invoice.paid", invoice(when, True), when))
            out.append(
                shapes.event("customer.subscription.updated", subscription(), when + 1, {"items": before})
            )
        mid = when + 10 * DAY
        if mid < end and rng.random() < 0.1:
            plan["cancelling"] = True
            out.append(
                shapes.event(
                    "customer.subscription.updated",
                    subscription(),
                    mid,
                    {"cancel_at_period_end": False, "cancel_at": None},
                )
            )
        elif mid < end and plan["tier"] == 0 and rng.random() < 0.1:
            before = subscription()["items"]
            plan["tier"] = 1
            plan["metadata"] = {**plan["metadata"], "tier_index": "1"}
            out.append(shapes.event("customer.subscription.updated", subscription(), mid, {"items": before}))
            out.append(shapes.event("invoice.paid", invoice(mid + 1, True, amount=800), mid + 1))
    return out


# --- the database before the events -------------------------------------------------------------


def seed(session: Session, scenario: Scenario) -> None:
    """The subscribers, their messages and the tiers: the same rows, with the same ids, every time."""
    from billing import service
    from billing.models import Tier
    from growth.acquisition_models import AcquisitionRule
    from growth.models import Delivery, Membership, Newsletter, Stage, Status, Subscriber

    newsletter = session.scalars(select(Newsletter).where(Newsletter.is_default.is_(True))).one()
    signed_up = scenario.now - dt.timedelta(days=400)
    newsletter.created_at = signed_up  # made by the migrations, at the wall clock
    session.execute(update(AcquisitionRule).values(updated_at=signed_up))  # so are the default rules
    for n in range(1, scenario.subscribers + 1):
        subscriber = Subscriber(
            id=n,
            email=email_of(n),
            email_normalized=email_of(n),
            status=Status.ACTIVE,
            stage=Stage.CONFIRMED,
            referral_code=f"flood{n:06d}",
            created_at=signed_up,
            confirmed_at=signed_up,
            status_changed_at=signed_up,
            stage_changed_at=signed_up,
        )
        session.add(subscriber)
        session.add(
            Membership(
                subscriber=subscriber,
                newsletter_id=newsletter.id,
                status="active",
                created_at=signed_up,
                confirmed_at=signed_up,
            )
        )
    session.flush()
    html = "".join(f'<p><a href="{url}">{url}</a></p>' for url in LINKS)
    for reader, number, sent in scenario.deliveries:
        session.add(
            Delivery(
                id=number,
                subscriber_id=reader,
                newsletter_id=newsletter.id,
                kind="value",
                template="post",
                state="sent",
                to_email=email_of(reader),
                subject="A story",
                message={"html": html, "text": " ".join(LINKS)},
                provider="sendgrid",
                provider_message_id=f"flood{number:07d}",
                attempts=1,
                created_at=dt.datetime.fromtimestamp(sent, dt.UTC),
                sent_at=dt.datetime.fromtimestamp(sent, dt.UTC),
            )
        )
    for name, monthly, yearly in TIERS:
        service.create_tier(
            session,
            service.TierInput(
                name=name, monthly_price_cents=monthly, yearly_price_cents=yearly, currency="usd"
            ),
            signed_up,
        )
    session.flush()
    # The metadata names tiers by index; give the events the ids this database gave them.
    tier_ids = [t.id for t in session.scalars(select(Tier).order_by(Tier.id))]
    for payload in scenario.stripe:
        meta = _metadata_of(payload["data"]["object"])
        if meta is not None and "tier_index" in meta:
            meta["tier_id"] = str(tier_ids[int(meta["tier_index"])])
    _reset_sequences(session)


def _metadata_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj.get("object") == "invoice":
        return obj["parent"]["subscription_details"]["metadata"]  # type: ignore[no-any-return]
    return obj.get("metadata")


def _reset_sequences(session: Session) -> None:
    """Rows given explicit ids leave PostgreSQL's sequences behind: move them on."""
    from sqlalchemy import text

    if session.get_bind().dialect.name != "postgresql":
        return
    for table in ("subscribers", "deliveries"):
        session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        )


# --- delivering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    """One webhook request: a SendGrid batch or one Stripe event."""

    provider: str
    events: list[dict[str, Any]]


def ordered_posts(scenario: Scenario, batch: int = 100) -> list[Post]:
    """A clean delivery: every event once, in time order, SendGrid in batches as it sends them."""
    items = [(e["timestamp"], 0, "sendgrid", e) for e in scenario.sendgrid]
    items += [(e["created"], 1, "stripe", e) for e in scenario.stripe]
    items.sort(key=lambda i: (i[0], i[1]))
    posts: list[Post] = []
    for _, _, provider, payload in items:
        if (
            provider == "sendgrid"
            and posts
            and posts[-1].provider == "sendgrid"
            and len(posts[-1].events) < batch
        ):
            posts[-1].events.append(payload)
        else:
            posts.append(Post(provider, [payload]))
    return posts


def flooded_posts(
    scenario: Scenario, *, seed: int = 2, duplicated: float = 0.1, batch: int = 100
) -> list[Post]:
    """The same events, a share of them twice, all shuffled; SendGrid's cut into batches of 1-`batch`."""
    rng = random.Random(seed)
    items = [("sendgrid", e) for e in scenario.sendgrid] + [("stripe", e) for e in scenario.stripe]
    items += rng.sample(items, round(len(items) * duplicated))
    rng.shuffle(items)
    posts: list[Post] = []
    pending: list[dict[str, Any]] = []
    size = rng.randint(1, batch)
    for provider, payload in items:
        if provider == "stripe":
            posts.append(Post("stripe", [payload]))
            continue
        pending.append(payload)
        if len(pending) >= size:
            posts.append(Post("sendgrid", pending))
            pending, size = [], rng.randint(1, batch)
    if pending:
        posts.append(Post("sendgrid", pending))
    rng.shuffle(posts)
    return posts


class Keys:
    """The signing keys both webhooks are verified with."""

    def __init__(self) -> None:
        self.sendgrid = WebhookSigner()
        self.stripe_secret = "whsec_flood_" + "0" * 24


def deliver(app: Flask, posts: list[Post], keys: Keys) -> float:
    """POST every request to the real endpoints, signed now; seconds taken. Any non-200 raises."""
    client = app.test_client()
    started = time.perf_counter()
    for post in posts:
        if post.provider == "sendgrid":
            body, headers = keys.sendgrid.signed(post.events)
            answer = client.post("/webhooks/sendgrid", data=body, headers=headers)
        else:
            body = encode(post.events[0])
            signature = sign(body, keys.stripe_secret, int(time.time()))
            answer = client.post(
                "/webhooks/stripe",
                data=body,
                headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            )
        if answer.status_code != 200:
            raise AssertionError(
                f"{post.provider} answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}"
            )
    return time.perf_counter() - started


def count_events(posts: list[Post]) -> int:
    return sum(len(p.events) for p in posts)


# --- the state afterwards -----------------------------------------------------------------------


def _natural_keys(tables: list[Table]) -> dict[str, str]:
    """Per table, a single unique column other than the id (a provider id, an address)."""
    keys: dict[str, str] = {}
    for table in tables:
        for column in table.columns:
            if column.unique and not column.primary_key:
                keys[table.name] = column.name
                break
    return keys


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dict | list):
        return _scrub(json.dumps(value, sort_keys=True))
    return value


# Drawn when a message is made, so different in every run: the signed links' timestamps and
# signatures, and the local outbox's message ids.
SIGNED_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27}")
OUTBOX_MESSAGE_ID = re.compile(r"\d+\.\d+\.\d+@masthead\.local")


def _scrub(text: str) -> str:
    return OUTBOX_MESSAGE_ID.sub("<message-id>", SIGNED_TOKEN.sub("<signed>", text))


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted; ids of rows made by events replaced by their natural key."""
    from growth.db import Base

    tables = [t for t in Base.metadata.sorted_tables if t.name not in UNCOMPARED_TABLES]
    natural = _natural_keys(tables)
    lookup: dict[str, dict[Any, Any]] = {}
    for name, column in natural.items():
        table = Base.metadata.tables[name]
        lookup[name] = (
            dict(session.execute(select(table.c.id, table.c[column])).all()) if "id" in table.c else {}
        )
    state: dict[str, list[tuple[Any, ...]]] = {}
    for table in tables:
        # Surrogate ids follow the order rows were made in: left out, references translated.
        columns = [c for c in table.columns if not (c.primary_key and c.name == "id")]
        rows = []
        for row in session.execute(select(*columns)).all():
            values = []
            for column, value in zip(columns, row, strict=True):
                foreign = next(iter(column.foreign_keys), None)
                target = foreign.column.table.name if foreign is not None else None
                if target in natural and value is not None:
                    value = (natural[target], lookup[target].get(value))
                values.append((column.name, _plain(value)))
            rows.append(tuple(values))
        state[table.name] = sorted(rows, key=repr)
    return state


# What a flood may still leave different from a clean delivery, and why (bench/floods.py shows
# how much). Everything else must be equal row for row.
ORDER_SENSITIVE: dict[str, frozenset[str] | None] = {
    # The history records when each change was learned: an old event arriving late adds or
    # moves rows (a stage entered on a click later judged a scanner's, then left).
    "subscriber_events": None,
    # Built from that history (entered `nurtured` at, funnel cells).
    "report_facts": None,
    "report_cells": None,
    # "Unknown keeps the stage": a stage entered on a click later judged a scanner's stays while
    # only machine opens follow; unsubscribed_at is set only when the unsubscribe came first.
    "subscribers": frozenset({"stage", "stage_changed_at", "unsubscribed_at"}),
    # Mail is decided when its event arrives: a dunning email already sent is not unsent when
    # the complaint that would have stopped it arrives later.
    "deliveries": frozenset({"state", "provider", "provider_message_id", "attempts", "error", "sent_at"}),
}


def strict(state: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """The snapshot without its ORDER_SENSITIVE parts."""
    out = {}
    for name, rows in state.items():
        if name in ORDER_SENSITIVE and ORDER_SENSITIVE[name] is None:
            continue
        dropped = ORDER_SENSITIVE.get(name) or frozenset()
        out[name] = sorted((tuple(cell for cell in row if cell[0] not in dropped) for row in rows), key=repr)
    return out


def differences(
    ordered: dict[str, list[tuple[Any, ...]]], flooded: dict[str, list[tuple[Any, ...]]], examples: int = 3
) -> list[str]:
    """What differs between two snapshots, table by table (empty when they are equal).

    Rows that share their first column (a provider id, an address) are shown column by column.
    """
    out = []
    for name in sorted(set(ordered) | set(flooded)):
        a, b = ordered.get(name, []), flooded.get(name, [])
        if a == b:
            continue
        set_a, set_b = set(a), set(b)
        only_a = [r for r in a if r not in set_b]
        only_b = [r for r in b if r not in set_a]
        out.append(
            f"{name}: {len(a)} rows ordered, {len(b)} flooded; {len(only_a)} only in ordered, "
            f"{len(only_b)} only in flooded"
        )
        by_key = {r[0]: r for r in only_b}
        for row in only_a[:examples]:
            twin = by_key.get(row[0])
            if twin is None:
                out.append(f"    ordered only: {_short(row)}")
                continue
            changed = [
                f"{col}: {_short(x)} -> {_short(y)}"
                for (col, x), (_, y) in zip(row, twin, strict=True)
                if x != y
            ]
            out.append(f"    {_short(row[0])}: " + "; ".join(changed))
        for row in only_b[:examples]:
            if row[0] not in {r[0] for r in only_a}:
                out.append(f"    flooded only: {_short(row)}")
    return out


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def row_counts(state: dict[str, list[tuple[Any, ...]]]) -> dict[str, int]:
    return {name: len(rows) for name, rows in state.items() if rows}


# --- one run ------------------------------------------------------------------------------------


def run(
    app: Flask, scenario: Scenario, posts: list[Post], keys: Keys
) -> tuple[float, dict[str, list[tuple[Any, ...]]]]:
    """Seed, deliver and settle (the tick's Stripe, engagement and report work) at one instant."""
    from growth import scheduler
    from growth.db import db, simulated_clock

    with simulated_clock(lambda: scenario.now), app.app_context():
        seed(db.session, scenario)
        db.session.commit()
        seconds = deliver(app, posts, keys)
        scheduler.tick(only=["process-stripe-events", "engagement", "report-rollups"])
        db.session.commit()
        state = snapshot(db.session)
        db.session.rollback()
    return seconds, state


def config_overrides(keys: Keys) -> dict[str, Any]:
    return {
        "sendgrid_webhook_public_key": keys.sendgrid.public_key,
        "stripe_webhook_secret": keys.stripe_secret,
        "redis_url": None,
    }


def instant() -> dt.datetime:
    """The simulated instant both deliveries run at: an hour ahead of the wall clock.

    Requests are signed with the wall clock; SendGrid's signed time may be up to a day old and
    Stripe's at most 5 minutes ahead of our (simulated) clock, so both hold for an hour's run.
    """
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
