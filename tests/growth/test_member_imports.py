"""Moving in from another platform: standing kept, consent recorded, a dry run, idempotent re-runs.

Paid members' Stripe side is in tests/billing/test_moving_in.py; here Stripe is not configured.
"""

from __future__ import annotations

import io
import re

import pytest
from flask import g
from sqlalchemy import func, select

from growth import auth, privacy
from growth.db import utcnow
from growth.models import Consent, Membership, Subscriber, SubscriberEvent
from tests.growth import platform_exports as samples
from tests.growth.helpers import messages, signup_and_confirm


@pytest.fixture
def admin(session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "admin@example.com", "long enough pw", "admin")
    token = auth.create_token(session, operator)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def post_export(client, headers, platform: str, body: str, dry_run: bool = False):  # type: ignore[no-untyped-def]
    query = f"?platform={platform}" + ("&dry_run=true" if dry_run else "")
    return client.post(
        f"/api/v1/subscribers/import-members{query}",
        data=body.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model))


def by_email(session) -> dict[str, Subscriber]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return {s.email_normalized: s for s in session.scalars(select(Subscriber))}


def test_a_dry_run_reports_and_writes_nothing(client, session, outbox, admin):
    response = post_export(client, admin, "kit", samples.KIT, dry_run=True)
    assert response.status_code == 200
    report = response.get_json()
    assert report["dry_run"] is True
    assert (report["new"], report["updated"], report["unchanged"]) == (5, 0, 0)
    assert report["new_by_status"] == {
        "active": 1,
        "pending": 1,
        "unsubscribed": 1,
        "bounced": 1,
        "complained": 1,
    }
    assert [(r["line"], r["reason"]) for r in report["invalid"]] == [(7, "unknown Kit state 'sleeping'")]
    assert report["confirmations_queued"] == 0
    assert (count(session, Subscriber), count(session, Consent), count(session, SubscriberEvent)) == (0, 0, 0)
    assert messages(outbox) == []


def test_kit_readers_keep_their_standing_and_only_the_unconfirmed_are_asked(client, session, outbox, admin):
    report = post_export(client, admin, "kit", samples.KIT).get_json()
    assert (report["new"], len(report["invalid"]), report["confirmations_queued"]) == (5, 1, 1)
    rows = by_email(session)
    assert {k: (s.status, s.stage, s.source) for k, s in rows.items()} == {
        "maja@example.com": ("active", "confirmed", "kit"),
        "nils@example.com": ("pending", "signed_up", "kit"),
        "olga@example.com": ("unsubscribed", "confirmed", "kit"),
        "pia@example.com": ("bounced", "confirmed", "kit"),
        "quin@example.com": ("complained", "confirmed", "kit"),
    }
    assert rows["maja@example.com"].name == "Maja"
    # The confirmation goes to the one reader who never confirmed on Kit; nobody else hears.
    assert [m["To"] for m in messages(outbox)] == ["Nils <nils@example.com>"]
    assert {c.action for c in session.scalars(select(Consent))} == {"imported-from-kit"}
    memberships = {m.subscriber_id: m.status for m in session.scalars(select(Membership))}
    assert memberships[rows["maja@example.com"].id] == "active"
    assert memberships[rows["olga@example.com"].id] == "unsubscribed"
    assert memberships[rows["nils@example.com"].id] == "pending"


def test_running_the_same_file_again_changes_nothing(client, session, outbox, admin):
    post_export(client, admin, "ghost", samples.GHOST.format(paying="cus_GHOSTPAY"))
    before = (count(session, Subscriber), count(session, Consent), count(session, SubscriberEvent))
    sent = len(messages(outbox))
    again = post_export(client, admin, "ghost", samples.GHOST.format(paying="cus_GHOSTPAY")).get_json()
    # Stripe is not configured: the paying member's customer could not be linked, so linking it
    # is still to do (counted as an update, and refused again); everyone else is unchanged.
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 1, 3)
    assert [e["email"] for e in again["paid_errors"]] == ["paying@example.com"]
    assert (count(session, Subscriber), count(session, Consent), count(session, SubscriberEvent)) == before
    assert len(messages(outbox)) == sent


def test_ghost_without_stripe_imports_paid_members_as_readers_and_says_so(client, session, admin):
    report = post_export(client, admin, "ghost", samples.GHOST.format(paying="cus_GHOSTPAY")).get_json()
    assert report["new"] == 4
    assert report["paid_found"] == 1 and report["paid_linked"] == 0
    assert [(e["line"], e["email"]) for e in report["paid_errors"]] == [(3, "paying@example.com")]
    assert any("STRIPE_SECRET_KEY" in w for w in report["warnings"])
    assert {(r["line"], r["reason"]) for r in report["invalid"]} == {
        (6, "the member was deleted in Ghost"),
        (7, "stripe_customer_id is not a Stripe customer id (cus_...): 'acct_123'"),
    }
    assert [n["line"] for n in report["notes"]] == [5]  # the complimentary member
    rows = by_email(session)
    assert rows["quiet@example.com"].status == "unsubscribed"
    assert rows["paying@example.com"].stage == "confirmed"  # not paying until its customer is linked


def test_known_readers_are_left_as_they_are(client, session, outbox, admin):
    signup_and_confirm(client, outbox, "maja@example.com")
    url = messages(outbox, "welcome")[0]["List-Unsubscribe"].strip("<>").removeprefix("http://masthead.test")
    client.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    report = post_export(client, admin, "kit", samples.KIT).get_json()
    assert (report["new"], report["unchanged"]) == (4, 1)
    assert by_email(session)["maja@example.com"].status == "unsubscribed"  # Kit's "active" does not resurrect


def test_an_erased_address_is_never_imported_again(client, session, admin):
    privacy.remember_erased(session, "maja@example.com", utcnow())
    session.commit()
    report = post_export(client, admin, "kit", samples.KIT).get_json()
    assert (report["new"], report["erased"]) == (4, 1)
    assert "maja@example.com" not in by_email(session)


NOT_AN_ADDRESS = "An email address must have an @-sign."


def test_substack_email_list_and_repeated_rows(client, session, admin):
    body = (
        samples.SUBSTACK_EMAIL_LIST + "FREE.reader@example.com,false,,false,false,2021-03-02T10:11:12.000Z\n"
    )
    report = post_export(client, admin, "substack", body).get_json()
    assert report["new"] == 4
    assert [(r["line"], r["reason"]) for r in report["invalid"]] == [
        (6, "the reader asked Substack to delete them"),
        (7, NOT_AN_ADDRESS),
        (8, "the same address as line 2"),
    ]
    rows = by_email(session)
    assert rows["left.email@example.com"].status == "unsubscribed"
    assert rows["free.reader@example.com"].status == "active"


def test_beehiiv_sample(client, session, outbox, admin):
    report = post_export(client, admin, "beehiiv", samples.BEEHIIV.format(premium="cus_PREM0001")).get_json()
    assert report["new"] == 5 and report["confirmations_queued"] == 1
    assert [r["line"] for r in report["invalid"]] == [7]
    rows = by_email(session)
    assert rows["lorem@example.com"].name == "Lorem Ipsum"
    assert rows["gone@example.com"].status == "unsubscribed"
    assert rows["waiting@example.com"].status == "pending"
    assert [m["To"] for m in messages(outbox)] == ["waiting@example.com"]


@pytest.mark.parametrize(
    ("query", "body", "status", "code"),
    [
        ("?platform=myspace", "email\na@example.com\n", 400, "unknown_platform"),
        ("", "email\na@example.com\n", 400, "unknown_platform"),
        ("?platform=ghost", "email,name\na@example.com,A\n", 400, "not_platform_export"),
        ("?platform=kit", "name\nA\n", 400, "not_platform_export"),
        ("?platform=ghost", "", 400, "not_platform_export"),
        ("?platform=kit&dry_run=ture", "email_address\na@example.com\n", 400, "invalid_dry_run"),
        ("?platform=ghost", 'email,subscribed_to_emails\n"a@example.com,true\n', 200, None),
    ],
)
def test_bad_files_answer_a_clear_400(client, admin, query, body, status, code):
    response = client.post(
        f"/api/v1/subscribers/import-members{query}",
        data=body.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert response.status_code == status
    if code:
        assert response.get_json()["error"]["code"] == code


def test_a_file_that_is_not_utf8_is_refused(client, admin):
    response = client.post(
        "/api/v1/subscribers/import-members?platform=kit",
        data="email_address\nzoë@example.com\n".encode("latin-1"),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_encoding"


def test_the_api_needs_an_admin(client):
    response = client.post("/api/v1/subscribers/import-members?platform=kit", data=b"email_address\n")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"]


def test_the_operation_is_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/subscribers/import-members"]["post"]
    platform = next(p for p in operation["parameters"] if p["name"] == "platform")
    assert platform["schema"]["enum"] == ["substack", "beehiiv", "ghost", "kit"]
    assert "MemberImportReport" in document["components"]["schemas"]


def test_the_admin_page_runs_a_dry_run_then_the_import(app, client, session, outbox):
    from tests.growth.helpers import login_as

    auth.create_operator(session, "admin@example.com", "long enough pw", "admin")
    session.commit()
    login_as(client, session.scalars(select(auth.Operator)).one())
    page = client.get("/admin/subscribers/import")
    assert page.status_code == 200 and b"Move in from another platform" in page.data
    assert b"Up to 2 MB here (about 17,000 members)" in page.data

    def token() -> str:
        g.pop("csrf_token", None)
        page = client.get("/admin/subscribers/import").get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    def upload(dry_run: bool):  # type: ignore[no-untyped-def]
        data = {
            "platform": "kit",
            "csrf_token": token(),
            "file": (io.BytesIO(samples.KIT.encode()), "kit.csv"),
        }
        if dry_run:
            data["dry_run"] = "1"
        return client.post("/admin/subscribers/import", data=data, content_type="multipart/form-data")

    dry = upload(True)
    assert dry.status_code == 200, dry.data.decode()[-1500:]
    assert b"nothing was written" in dry.data
    assert count(session, Subscriber) == 0
    done = upload(False)
    assert done.status_code == 200 and b"What the import did" in done.data
    assert b"unknown Kit state" in done.data
    assert count(session, Subscriber) == 5
    assert {c.form for c in session.scalars(select(Consent))} == {"kit:kit.csv"}
    wrong = client.post(
        "/admin/subscribers/import",
        data={"platform": "ghost", "csrf_token": token(), "file": (io.BytesIO(b"email,name\n"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 400 and b"does not look like a ghost export" in wrong.data


def test_the_cli_imports_and_dry_runs(app, session, tmp_path):
    path = tmp_path / "ghost.csv"
    path.write_text(samples.GHOST.format(paying="cus_GHOSTPAY"), encoding="utf-8")
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["import-members", "--platform", "ghost", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would import 4 new" in dry.output and "dry run: nothing was written" in dry.output
    assert count(session, Subscriber) == 0
    done = runner.invoke(args=["import-members", "--platform", "ghost", str(path)])
    assert done.exit_code == 0, done.output
    assert "imported 4 new" in done.output and "paid members found 1" in done.output
    assert count(session, Subscriber) == 4
    wrong = runner.invoke(args=["import-members", "--platform", "kit", str(path)])
    assert wrong.exit_code == 1 and "does not look like a kit export" in wrong.output


def test_an_address_taken_between_the_plan_and_the_write_is_left_out_of_its_chunk(app, session):
    """What a concurrent run does (PostgreSQL test in tests/billing/test_moving_in_race.py), here
    by hand: the chunk's flush clashes, its rows go one by one, the taken one is skipped."""
    from growth import member_imports, subscribers
    from growth.models import Status
    from growth.platforms import Member

    now = utcnow()
    rows = [
        member_imports.PlannedRow(line, Member(email=e, status=Status.ACTIVE), e, e, action="new")
        for line, e in ((2, "a@example.com"), (3, "taken@example.com"), (4, "b@example.com"))
    ]
    session.add(
        Subscriber(
            email="taken@example.com",
            email_normalized="taken@example.com",
            referral_code=subscribers.new_referral_code(),
            status="active",
            stage="confirmed",
        )
    )
    session.flush()
    newsletters = subscribers.resolve_newsletters(session, None)
    made = member_imports._create_chunk(session, "kit", rows, now, newsletters, "kit:test")
    assert sorted(made) == [2, 4]
    assert {s.email_normalized for s in made.values()} == {"a@example.com", "b@example.com"}
    assert count(session, Consent) == 2
    assert count(session, Subscriber) == 3
