"""Signs SendGrid Event Webhook batches as SendGrid does, with a key pair made in the test."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


class WebhookSigner:
    """An ECDSA P-256 key pair; `public_key` is base64 DER SubjectPublicKeyInfo, as SendGrid's."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()

    def sign(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        """The two headers SendGrid sends: base64 DER signature of timestamp + body."""
        timestamp = timestamp or str(int(time.time()))
        signature = self.private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: timestamp}

    def signed(self, events: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
        """A batch body and its headers."""
        body = json.dumps(events, separators=(",", ":")).encode()
        return body, {"Content-Type": "application/json", **self.sign(body)}


def event(event_type: str, email: str, timestamp: Any, /, **fields: Any) -> dict[str, Any]:
    """One event as SendGrid posts it; custom args go in `fields` as top-level keys."""
    return {
        "email": email,
        "timestamp": timestamp,
        "event": event_type,
        "sg_event_id": fields.pop("sg_event_id", None) or uuid.uuid4().hex,
        "sg_message_id": fields.pop("sg_message_id", "msg1.filter0001.1234.0"),
        **fields,
    }
