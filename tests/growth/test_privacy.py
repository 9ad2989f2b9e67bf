"""A reader's data through the core registry: export and erase, the reader's own links, the admin."""

from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy import func, select

from growth import auth, imports, links, privacy
from growth.db import utcnow
from growth.models import (
    Consent,
    Delivery,
    EmailEvent,
    ErasedAddress,
    Subscriber,
)
from growth.tokens import signer
from tests.growth.helpers import link_in, login_as, messages, signup, signup_and_confirm

ANA = "ana@example.com"


@pytest.fixture
def admin(session):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "admin@example.com", "correct horse battery", "admin")
    session.commit()
    return operator


@pytest.fixture
def creator(session):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "creator@example.com", "correct horse battery", "creator")
    session.commit()
    return operator


def ana(client, outbox, session) -> Subscriber:  # type: ignore[no-untyped-def]
    signup_and_confirm(
        client,
        outbox,
        ANA,
        name="Ana Lima",
        utm_campaign="spring",
        referrer_url="https://friends.example/ana-lima/profile?id=7",
        landing_url="http://masthead.test/p/hello?email=ana@example.com",
    )
    session.expire_all()
    return session.scalars(select(Subscriber).where(Subscriber.email_normalized == ANA)).one()


def data_path(client, subscriber: Subscriber, timestamp: int | None = None) -> str:
    with client.application.test_request_context():
        if timestamp is None:
            return f"/me/{links.data_token(subscriber)}"
        payload = {"s": subscriber.id, "e": subscriber.email_normalized}
        return f"/me/{signer('data').sign(payload, timestamp=timestamp)}"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_the_export_has_every_registered_part_and_what_the_core_holds(client, outbox, session):
    reader = ana(client, outbox, session)
    document = privacy.export_subscriber(session, reader, utcnow())
    # the core's parts, then the domains' (each registered from its init_app)
    assert list(document)[:9] == [
        "format",
        "exported_at",
        "subscriber_id",
        "profile",
        "newsletters",
        "consent",
        "history",
        "deliveries",
        "engagement",
    ]
    assert {"referrals", "billing", "sequences"} <= set(document)
    assert document["profile"]["email"] == ANA and document["profile"]["name"] == "Ana Lima"
    assert document["profile"]["signup_ip"] == "127.0.0.1"
    assert [c["action"] for c in document["consent"]] == ["signup", "confirm"]
    assert {d["template"] for d in document["deliveries"]} == {"confirmation", "welcome"}
    assert ("status", "pending", "active") in {(h["field"], h["from"], h["to"]) for h in document["history"]}
    json.dumps(document)  # JSON-ready as it is


def test_a_part_registered_by_a_domain_is_exported_and_erased_before_the_core(client, outbox, session):
    seen: list[str | None] = []
    privacy.register_part(
        "test_part",
        export=lambda s, sub: {"held": sub.email},
        erase=lambda s, sub, now: seen.append(sub.email_normalized),
    )
    try:
        reader = ana(client, outbox, session)
        assert privacy.export_subscriber(session, reader, utcnow())["test_part"] == {"held": ANA}
        privacy.erase_subscriber(session, reader, utcnow())
    finally:
        privacy._parts.pop("test_part")
    assert seen == [ANA]  # it still saw the address: the core removes it last
    assert reader.status == "erased" and reader.email_normalized is None


def test_erasure_removes_personal_data_everywhere_in_the_core(client, outbox, session):
    reader = ana(client, outbox, session)
    queued = Delivery(
        subscriber_id=reader.id, kind="value", template="post", to_email=ANA, subject="Issue 2", message={}
    )
    session.add(queued)
    session.add(
        EmailEvent(
            event_id="sg-1",
            type="open",
            subscriber_id=reader.id,
            email=ANA,
            at=utcnow(),
            payload={"email": ANA, "ip": "10.1.2.3", "useragent": "Mail"},
        )
    )
    session.commit()
    assert any(ANA in p.read_text() for p in outbox.glob("*.eml"))
    privacy.erase_subscriber(session, reader, utcnow())
    session.commit()
    session.expire_all()
    row = session.get(Subscriber, reader.id)
    assert (row.status, row.email_normalized, row.name, row.signup_ip) == ("erased", None, None, None)
    assert row.email == f"erased-{row.id}@erased.invalid"
    # attribution free text: the site they came from and the page they landed on, nothing more
    assert row.referrer_url == "https://friends.example"
    assert row.landing_url == "http://masthead.test/p/hello"
    assert row.utm_campaign == "spring"  # a campaign label the operator chose: reports group by it
    assert all(c.ip is None and c.user_agent is None for c in session.scalars(select(Consent)))
    deliveries = list(session.scalars(select(Delivery).where(Delivery.subscriber_id == reader.id)))
    assert all(d.to_email == row.email and d.message is None for d in deliveries)
    assert session.get(Delivery, queued.id).state == "skipped"  # never leaves
    event_row = session.scalars(select(EmailEvent)).one()
    assert (event_row.email, event_row.payload, event_row.type) == (None, None, "open")
    assert not any(ANA in p.read_text() for p in outbox.glob("*.eml"))  # the outbox's copies
    digest = privacy.address_hash(ANA)
    assert session.scalars(select(ErasedAddress.address_hash)).all() == [digest]
    # the export of what is left names nobody
    assert ANA not in json.dumps(privacy.export_subscriber(session, row, utcnow()))


def test_an_erased_address_is_never_imported_again_but_may_sign_up_afresh(client, outbox, session):
    reader = ana(client, outbox, session)
    privacy.erase_subscriber(session, reader, utcnow())
    privacy.erase_subscriber(session, reader, utcnow())  # twice: harmless, one hash
    session.commit()
    assert session.scalar(select(func.count()).select_from(ErasedAddress)) == 1
    for confirmed in (True, False):
        report = imports.import_subscribers(
            session, [{"email": "ANA@example.com"}], utcnow(), confirmed=confirmed
        )
        assert (report.created, report.erased) == (0, 1)
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 1
    # the reader's own signup is a fresh consent: a new row, double opt-in again, nothing resumed
    assert signup(client, ANA).status_code == 202
    fresh = session.scalars(select(Subscriber).where(Subscriber.email_normalized == ANA)).one()
    assert fresh.id != reader.id and fresh.status == "pending"
    assert (
        session.scalar(select(func.count()).select_from(Delivery).where(Delivery.subscriber_id == fresh.id))
        == 1
    )


def test_erasure_keeps_the_counts(client, outbox, session):
    for n in range(3):
        signup_and_confirm(client, outbox, f"r{n}@example.com")
    signup(client, "pending@example.com")
    session.expire_all()

    def by_status() -> dict[str, int]:
        return dict(
            session.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status)).all()
        )

    before = by_status()
    deliveries_before = session.scalar(select(func.count()).select_from(Delivery))
    target = session.scalars(select(Subscriber).where(Subscriber.email_normalized == "r1@example.com")).one()
    privacy.erase_subscriber(session, target, utcnow())
    session.commit()
    after = by_status()
    assert sum(after.values()) == sum(before.values()) == 4
    assert after == {**before, "active": before["active"] - 1, "erased": 1}
    assert session.scalar(select(func.count()).select_from(Delivery)) == deliveries_before


# -- the reader's own page -------------------------------------------------------------------


def test_the_readers_page_links_a_data_download_that_lasts_a_day(client, outbox, session):
    reader = ana(client, outbox, session)
    [welcome] = messages(outbox, "welcome")
    page = client.get(link_in(welcome, "/me/")).get_data(as_text=True)
    found = re.search(r'href="(/me/[^"/]+/data)"', page)
    assert found, page
    download = client.get(found.group(1))
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.get_json()["profile"]["email"] == ANA
    # forged, of another purpose, or older than a day: refused
    good = data_path(client, reader)
    assert client.get(good[:-3] + "xyz/data").status_code == 400
    assert client.get(link_in(welcome, "/me/") + "/data").status_code == 400  # a manage token
    old = data_path(client, reader, timestamp=int(time.time()) - links.DATA_LINK_MAX_AGE - 60)
    expired = client.get(old + "/data")
    assert expired.status_code == 400 and b"expired" in expired.data
    assert client.get(old + "/erase").status_code == 400


def test_erase_me_asks_once_needs_the_csrf_token_and_then_every_link_dies(client, outbox, session):
    reader = ana(client, outbox, session)
    [welcome] = messages(outbox, "welcome")
    manage = link_in(welcome, "/me/")
    path = data_path(client, reader)
    confirm = client.get(path + "/erase")
    assert confirm.status_code == 200 and b"Erase my data" in confirm.data
    assert client.post(path + "/erase").status_code == 400  # no CSRF token
    session.expire_all()
    assert session.get(Subscriber, reader.id).status == "active"
    done = client.post(path + "/erase", data={"csrf_token": csrf_of(confirm.get_data(as_text=True))})
    assert done.status_code == 200 and b"Your data is erased" in done.data
    session.expire_all()
    assert session.get(Subscriber, reader.id).status == "erased"
    for dead in (manage, path + "/data", path + "/erase"):
        assert client.get(dead).status_code == 400, dead


# -- the admin -------------------------------------------------------------------------------


def test_admin_downloads_and_erases_a_subscriber_and_creators_may_not(
    client, outbox, session, admin, creator
):
    reader = ana(client, outbox, session)
    data = f"/admin/subscribers/{reader.id}/data"
    erase = f"/admin/subscribers/{reader.id}/erase"
    login_as(client, creator)
    assert client.get(data).status_code == 403
    assert client.get(erase).status_code == 403
    login_as(client, admin)
    assert client.get("/admin/subscribers/999999/data").status_code == 404
    download = client.get(data)
    assert download.status_code == 200 and download.get_json()["profile"]["email"] == ANA
    page = client.get(erase)
    assert page.status_code == 200 and ANA.encode() in page.data
    assert client.post(erase).status_code == 400  # CSRF
    done = client.post(erase, data={"csrf_token": csrf_of(page.get_data(as_text=True))})
    assert done.status_code == 302
    assert b"Erased" in client.get(erase).data
    session.expire_all()
    assert session.get(Subscriber, reader.id).status == "erased"


def test_api_export_and_both_erase_endpoints(client, outbox, session, admin, creator):
    reader = ana(client, outbox, session)
    signup_and_confirm(client, outbox, "bo@example.com")
    bo = session.scalars(select(Subscriber).where(Subscriber.email_normalized == "bo@example.com")).one()
    admin_token, creator_token = auth.create_token(session, admin), auth.create_token(session, creator)
    session.commit()
    as_admin = {"Authorization": f"Bearer {admin_token}"}
    as_creator = {"Authorization": f"Bearer {creator_token}"}
    assert client.get(f"/api/v1/subscribers/{reader.id}/data", headers=as_creator).status_code == 403
    assert client.post(f"/api/v1/subscribers/{reader.id}/erase", headers=as_creator).status_code == 403
    exported = client.get(f"/api/v1/subscribers/{reader.id}/data", headers=as_admin)
    assert exported.status_code == 200 and exported.get_json()["format"] == privacy.EXPORT_FORMAT
    assert client.get("/api/v1/subscribers/999999/data", headers=as_admin).status_code == 404
    assert client.post("/api/v1/subscribers/999999/erase", headers=as_admin).status_code == 404
    erased = client.post(f"/api/v1/subscribers/{reader.id}/erase", headers=as_admin)
    assert erased.status_code == 200 and erased.get_json()["status"] == "erased"
    assert client.delete(f"/api/v1/subscribers/{bo.id}", headers=as_admin).get_json()["status"] == "erased"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ErasedAddress)) == 2
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "post" in paths["/api/v1/subscribers/{subscriber_id}/erase"]
    assert "delete" in paths["/api/v1/subscribers/{subscriber_id}"]
    assert "get" in paths["/api/v1/subscribers/{subscriber_id}/data"]
