"""Standard Webhooks signing: secrets, the three headers, both signatures during a rotation."""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
ROTATION_OVERLAP = dt.timedelta(hours=24)


def new_secret() -> str:
    """A signing secret: whsec_ + base64 of 24 random bytes (what Standard Webhooks libraries read)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_event_id() -> str:
    """A Standard Webhooks message id, unique and the same on every retry of the event."""
    return "msg_" + secrets.token_urlsafe(18)


def signing_secrets(
    secret: str, previous: str | None, previous_expires_at: dt.datetime | None, now: dt.datetime
) -> list[str]:
    """The secrets that sign at `now`: the current one, and the previous one within its overlap."""
    out = [secret]
    if previous and previous_expires_at is not None and now < previous_expires_at:
        out.append(previous)
    return out


def signed_headers(event_id: str, body: str, keys: list[str], now: dt.datetime) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature (one `v1,<sig>` per key, space-separated)."""
    signatures = " ".join(Webhook(key).sign(event_id, now, body) for key in keys)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
    }
