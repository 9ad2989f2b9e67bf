"""Helpers for referral tests: readers who sign up through each other's links."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from growth import auth
from growth.models import Subscriber
from referrals.models import Referral
from tests.growth.helpers import link_in, messages

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"


def by_email(session, email: str) -> Subscriber:  # type: ignore[no-untyped-def]
    return session.scalars(select(Subscriber).where(Subscriber.email_normalized == email.lower())).one()


def join(client, outbox: Path, email: str, ip: str = "198.51.100.1", **extra):  # type: ignore[no-untyped-def]
    """Sign up through the API (with `ref` or not) and click the confirmation link."""
    env = {"REMOTE_ADDR": ip}
    outbox = Path(client.application.config["MASTHEAD"].outbox_dir)  # apps from app_factory have their own
    response = client.post("/api/v1/subscribers", json={"email": email, **extra}, environ_base=env)
    assert response.status_code == 202
    mails = [m for m in messages(outbox, "confirmation") if email.lower() in str(m["To"]).lower()]
    confirmation = mails[-1]
    return client.get(link_in(confirmation, "/confirm/"), environ_base=env)


def refer(client, session, outbox: Path, referrer: str, email: str, ip: str = "198.51.100.1", **extra):  # type: ignore[no-untyped-def]
    """`email` joins through `referrer`'s code; returns their referral row."""
    code = by_email(session, referrer).referral_code
    join(client, outbox, email, ip=ip, ref=code, **extra)
    referred = by_email(session, email)
    session.expire_all()
    return session.scalars(select(Referral).where(Referral.referred_id == referred.id)).one()


def operator_token(session) -> str:  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "ops@example.com", "correct horse battery staple")
    token = auth.create_token(session, operator)
    session.flush()
    return token
