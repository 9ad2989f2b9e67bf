"""The mail gateway: one Mailer, two backends (a local outbox of .eml files, or SendGrid)."""

from __future__ import annotations

import email.policy
import logging
import uuid
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Protocol

from flask import Flask, current_app
from sqlalchemy import update

from growth.db import commit, db, utcnow
from growth.fields import header_safe, single_line
from growth.jobs import task
from growth.models import Delivery, DeliveryKind, DeliveryState, Status, Subscriber

log = logging.getLogger(__name__)

# No folding: a link in a text/plain part must never be broken across lines.
EML_POLICY = email.policy.SMTP.clone(max_line_length=0)


class SendError(Exception):
    """The provider refused or failed a message."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None):
        super().__init__(message)
        self.transient = transient
        self.status = status


class UnsendableMessage(SendError):
    """The message cannot be built (an address that is not one, text that cannot be encoded).

    Nothing reached the provider; sending it again would fail the same way.
    """

    def __init__(self, message: str):
        super().__init__(message, transient=False)


def _encodable(*texts: str | None) -> bool:
    """No lone surrogate in any of the texts (one encode of them all: a batch asks per recipient)."""
    try:
        "".join(t for t in texts if t).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def address_problem(address: str) -> str | None:
    """Why an address cannot go into a To header, or None."""
    if not address or "@" not in address or not single_line(address) or address != address.strip():
        return f"not a usable address: {address[:80]!r}"
    return None


def check_recipient(recipient: BatchRecipient) -> None:
    """Raise UnsendableMessage when this recipient of a batch cannot be sent.

    Cheap, for it runs per recipient of a bulk send: the address only, the one value stored as
    it came. Headers and substitutions are our own signed links and header-safe names; the name
    is made header-safe wherever a header is built.
    """
    problem = address_problem(recipient.to_email)
    if problem is not None:
        raise UnsendableMessage(problem)


def check_message(message: OutgoingMessage) -> None:
    """Raise UnsendableMessage when a one-off message cannot be sent."""
    problem = address_problem(message.to_email)
    if problem is None and not all(single_line(v) for v in message.headers.values()):
        problem = "a header value is not one line"
    # Names and subjects need no check: header_safe makes them fit wherever a header is built.
    if problem is None and not _encodable(message.text, message.html):
        problem = "text that cannot be encoded"
    if problem is not None:
        raise UnsendableMessage(problem)


def header_address(addr: str, name: str | None = None) -> Address:
    """An address header value: the policy quotes or encodes the (header-safe) name itself.

    formataddr() is not enough: it leaves specials outside an encoded word ("[ ¡" loses the
    address when read back).
    """
    return Address(display_name=header_safe(name), addr_spec=addr)


def safe_address(value: str) -> Address:
    """'Name <email>' as a header value with a header-safe display name."""
    name, addr = parseaddr(value)
    return header_address(addr, name)


@dataclass
class OutgoingMessage:
    """One rendered email to one recipient."""

    to_email: str
    subject: str
    text: str
    html: str | None = None
    to_name: str | None = None
    from_email: str | None = None
    reply_to: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    custom_args: dict[str, str] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    template: str = "message"


@dataclass
class BatchRecipient:
    """One recipient of a batch: the values that replace the message's placeholders."""

    to_email: str
    to_name: str | None = None
    substitutions: dict[str, str] = field(default_factory=dict)
    custom_args: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class BatchMessage:
    """One message rendered once, sent to many recipients in a single provider request."""

    subject: str
    text: str
    html: str | None
    recipients: list[BatchRecipient]
    from_email: str | None = None
    reply_to: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    custom_args: dict[str, str] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    template: str = "message"

    def for_recipient(self, recipient: BatchRecipient) -> OutgoingMessage:
        """The single message one recipient gets, placeholders replaced (test sends, outbox)."""
        return OutgoingMessage(
            to_email=recipient.to_email,
            to_name=recipient.to_name,
            subject=substitute(self.subject, recipient.substitutions),
            text=substitute(self.text, recipient.substitutions),
            html=substitute(self.html, recipient.substitutions) if self.html else None,
            from_email=self.from_email,
            reply_to=self.reply_to,
            headers={**self.headers, **recipient.headers},
            custom_args={**self.custom_args, **recipient.custom_args},
            categories=list(self.categories),
            template=self.template,
        )


def substitute(text: str, substitutions: dict[str, str]) -> str:
    """Replace each placeholder key by its value, as SendGrid's substitutions do."""
    for key, value in substitutions.items():
        text = text.replace(key, value)
    return text


class MailBackend(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> str:
        """Send one message; return the provider's message id."""

    def send_batch(self, batch: BatchMessage) -> str:
        """Send one message to every recipient of the batch in one request; return its id."""


class OutboxBackend:
    """Writes each message as an RFC 5322 .eml file into OUTBOX_DIR (local runs and tests)."""

    name = "outbox"

    def __init__(self, directory: Path, mail_from: str):
        self.directory = Path(directory)
        self.mail_from = mail_from

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The RFC 5322 message, with a UTF-8 text part that is never folded; names made header-safe."""
        msg = EmailMessage(policy=EML_POLICY)
        msg["From"] = safe_address(message.from_email or self.mail_from)
        msg["To"] = header_address(message.to_email, message.to_name)
        msg["Subject"] = header_safe(message.subject)
        msg["Date"] = format_datetime(utcnow())
        msg["Message-ID"] = make_msgid(domain="masthead.local")
        msg["X-Masthead-Kind"] = message.template
        if message.reply_to:
            msg["Reply-To"] = safe_address(message.reply_to)
        for name, value in message.headers.items():
            msg[name] = value
        msg.set_content(message.text, subtype="plain", charset="utf-8", cte="8bit")
        if message.html:
            msg.add_alternative(message.html, subtype="html", charset="utf-8", cte="8bit")
        return msg

    def render(self, message: OutgoingMessage) -> tuple[str, bytes]:
        """(Message-ID, the .eml bytes); UnsendableMessage when it cannot be built."""
        check_message(message)
        try:
            msg = self.build(message)
            return msg["Message-ID"].strip("<>"), msg.as_bytes(policy=EML_POLICY)
        except (ValueError, TypeError, UnicodeError) as exc:
            raise UnsendableMessage(f"cannot build the message: {exc}") from exc

    def write(self, message: OutgoingMessage, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        delivery = message.custom_args.get("delivery_id", "x")
        path = self.directory / f"{stamp}-{delivery}-{message.template}.eml"
        path.write_bytes(data)
        log.info("outbox: wrote %s to %s (%s)", message.template, message.to_email, path)

    def send(self, message: OutgoingMessage) -> str:
        message_id, data = self.render(message)
        self.write(message, data)
        return message_id

    def send_batch(self, batch: BatchMessage) -> str:
        """One .eml per recipient, placeholders replaced as the provider would.

        Every message is built before the first is written: one that cannot be built fails the
        request before anything went out, as a provider's refusal would.
        """
        messages = [batch.for_recipient(r) for r in batch.recipients]
        rendered = [self.render(m) for m in messages]
        for message, (_, data) in zip(messages, rendered, strict=True):
            self.write(message, data)
        return rendered[0][0] if rendered else ""


class SendGridBackend:
    """SendGrid v3 Mail Send through the official SDK."""

    name = "sendgrid"

    def __init__(self, api_key: str, host: str, mail_from: str):
        from sendgrid import SendGridAPIClient

        self.client = SendGridAPIClient(api_key=api_key, host=host)
        self.mail_from = mail_from

    @staticmethod
    def address(value: str) -> dict[str, str]:
        """A SendGrid address object from 'Name <email>'."""
        name, addr = parseaddr(value)
        name = header_safe(name)
        return {"email": addr, "name": name} if name else {"email": addr}

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        """The v3 Mail Send body for one message."""
        to: dict[str, str] = {"email": message.to_email}
        if header_safe(message.to_name):
            to["name"] = header_safe(message.to_name)
        content = [{"type": "text/plain", "value": message.text}]
        if message.html:
            content.append({"type": "text/html", "value": message.html})
        body: dict[str, Any] = {
            "personalizations": [{"to": [to]}],
            "from": self.address(message.from_email or self.mail_from),
            "subject": header_safe(message.subject),
            "content": content,
            "headers": {"X-Masthead-Kind": message.template, **message.headers},
            "custom_args": {k: str(v) for k, v in message.custom_args.items()},
            # We send our own List-Unsubscribe headers; SendGrid's link would be a second one.
            "tracking_settings": {"subscription_tracking": {"enable": False}},
        }
        if message.reply_to:
            body["reply_to"] = self.address(message.reply_to)
        if message.categories:
            body["categories"] = message.categories
        return body

    def post(self, body: dict[str, Any]) -> str:
        """POST a Mail Send body; return SendGrid's X-Message-Id."""
        from python_http_client.exceptions import HTTPError

        try:
            response = self.client.send(body)
        except HTTPError as exc:
            status = getattr(exc, "status_code", None)
            transient = status is None or status == 429 or status >= 500
            raise SendError(f"SendGrid answered {status}", transient=transient, status=status) from exc
        except OSError as exc:
            raise SendError(f"SendGrid unreachable: {exc}", transient=True) from exc
        headers = {k.lower(): v for k, v in dict(response.headers or {}).items()}
        return str(headers.get("x-message-id") or uuid.uuid4())

    def send(self, message: OutgoingMessage) -> str:
        check_message(message)
        return self.post(self.payload(message))

    def batch_payload(self, batch: BatchMessage) -> dict[str, Any]:
        """The v3 Mail Send body: one personalization per recipient, with its substitutions."""
        if not 1 <= len(batch.recipients) <= 1000:
            raise ValueError("SendGrid takes 1 to 1000 personalizations per request")
        personalizations = []
        for r in batch.recipients:
            to: dict[str, str] = {"email": r.to_email}
            if header_safe(r.to_name):
                to["name"] = header_safe(r.to_name)
            p: dict[str, Any] = {"to": [to]}
            if r.substitutions:
                p["substitutions"] = r.substitutions
            if r.custom_args:
                p["custom_args"] = {k: str(v) for k, v in r.custom_args.items()}
            if r.headers:
                p["headers"] = r.headers
            personalizations.append(p)
        content = [{"type": "text/plain", "value": batch.text}]
        if batch.html:
            content.append({"type": "text/html", "value": batch.html})
        body: dict[str, Any] = {
            "personalizations": personalizations,
            "from": self.address(batch.from_email or self.mail_from),
            "subject": header_safe(batch.subject),
            "content": content,
            "headers": {"X-Masthead-Kind": batch.template, **batch.headers},
            "tracking_settings": {"subscription_tracking": {"enable": False}},
        }
        if batch.custom_args:
            body["custom_args"] = {k: str(v) for k, v in batch.custom_args.items()}
        if batch.reply_to:
            body["reply_to"] = self.address(batch.reply_to)
        if batch.categories:
            body["categories"] = batch.categories
        return body

    def send_batch(self, batch: BatchMessage) -> str:
        return self.post(self.batch_payload(batch))


def build_backend(app: Flask) -> MailBackend:
    """The backend MAIL_BACKEND names."""
    config = app.config["MASTHEAD"]
    if config.mail_backend == "sendgrid":
        return SendGridBackend(config.sendgrid_api_key, config.sendgrid_api_host, config.mail_from)
    return OutboxBackend(config.outbox_dir, config.mail_from)


def init_app(app: Flask) -> None:
    """Build the backend once, in the factory."""
    app.extensions["masthead_mailer"] = build_backend(app)


def get_backend() -> MailBackend:
    """The app's mail backend."""
    return current_app.extensions["masthead_mailer"]  # type: ignore[no-any-return]


def may_receive(subscriber: Subscriber, kind: str) -> bool:
    """Only active subscribers get list mail; transactional mail never goes to the suppressed."""
    if kind == DeliveryKind.TRANSACTIONAL:
        return subscriber.status not in {Status.BOUNCED, Status.COMPLAINED, Status.ERASED}
    return subscriber.status == Status.ACTIVE


def message_for(delivery: Delivery) -> OutgoingMessage:
    """Rebuild the stored message of a delivery."""
    stored = delivery.message or {}
    return OutgoingMessage(
        to_email=delivery.to_email,
        to_name=stored.get("to_name"),
        subject=delivery.subject,
        text=stored.get("text", ""),
        html=stored.get("html"),
        from_email=stored.get("from_email"),
        reply_to=stored.get("reply_to"),
        headers=dict(stored.get("headers", {})),
        custom_args={
            "delivery_id": str(delivery.id),
            "subscriber_id": str(delivery.subscriber_id),
            "kind": delivery.kind,
            "template": delivery.template,
            **({"send_id": str(delivery.send_id)} if delivery.send_id else {}),
        },
        categories=[delivery.template],
        template=delivery.template,
    )


# A stable job id: the tick retries a queued delivery only when its job is no longer waiting.
@task("send_delivery", job_id=lambda delivery_id: f"masthead-delivery-{delivery_id}")
def send_delivery(delivery_id: int) -> str:
    """Send one queued delivery exactly once; returns its final state.

    The row is marked `sending` and committed before the provider is called, so a worker
    that dies mid-request leaves it `sending` (shown as unknown), never sent twice by itself.
    """
    session = db.session
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        log.warning("delivery %s vanished before sending", delivery_id)
        return "missing"
    if delivery.state != DeliveryState.QUEUED:
        return delivery.state
    subscriber = session.get(Subscriber, delivery.subscriber_id)
    if subscriber is None or not may_receive(subscriber, delivery.kind):
        delivery.state = DeliveryState.SKIPPED
        delivery.error = "recipient may not receive this mail"
        commit()
        return delivery.state
    backend = get_backend()
    message = message_for(delivery)
    try:
        check_message(message)
    except UnsendableMessage as exc:
        delivery.state = DeliveryState.FAILED
        delivery.error = str(exc)
        commit()
        log.warning("delivery %s cannot be sent: %s", delivery_id, exc)
        return delivery.state
    # The claim is conditional: another worker that read the same queued row loses here.
    claimed = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state == DeliveryState.QUEUED)
        .values(state=DeliveryState.SENDING, attempts=Delivery.attempts + 1, provider=backend.name),
        execution_options={"synchronize_session": False},
    ).rowcount  # type: ignore[attr-defined]
    commit()
    session.refresh(delivery)
    if not claimed:
        return delivery.state
    try:
        provider_id = backend.send(message)
    except SendError as exc:
        delivery.state = DeliveryState.QUEUED if exc.transient else DeliveryState.FAILED
        delivery.error = str(exc)
        commit()
        if exc.transient:
            raise
        return delivery.state
    except Exception as exc:  # noqa: BLE001 - whatever it was, the row must not stay `sending`
        log.exception("delivery %s: the backend failed unexpectedly", delivery_id)
        delivery.state = DeliveryState.UNKNOWN
        delivery.error = f"unexpected error: {exc}"[:2000]
        commit()
        return delivery.state
    delivery.state = DeliveryState.SENT
    delivery.provider_message_id = provider_id
    delivery.sent_at = utcnow()
    commit()
    return delivery.state
