"""Composing subscriber emails from templates and queueing them as deliveries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app, render_template
from sqlalchemy.orm import Session

from growth import branding, jobs, links, referral_asks
from growth.fields import column_length, header_safe
from growth.models import Delivery, DeliveryKind, DeliveryState, Newsletter, Subscriber

SUBJECT_LENGTH = column_length(Delivery.subject)

# Other domains add blocks to every email (the referral block, for one) through these. A provider
# gets the core context built so far (its links already signed: a bulk send signs each once).
ContextProvider = Callable[[Session, Subscriber, Mapping[str, Any]], dict[str, Any]]
# A bulk send warns providers of the subscribers it is about to render, so that they can load
# what they need in one query instead of one per recipient.
Prefetch = Callable[[Session, list[Subscriber]], None]
# The welcome's words may come from elsewhere (the content domain's welcome sequence): a provider
# returns extra context for templates/email/welcome.* (welcome_subject, welcome_html,
# welcome_text) or None for the built-in words.
WelcomeProvider = Callable[[Session, Subscriber, Newsletter | None], dict[str, Any] | None]
_welcome_provider: WelcomeProvider | None = None
_context_providers: list[ContextProvider] = []
_prefetchers: list[Prefetch] = []


def register_context_provider(provider: ContextProvider, prefetch: Prefetch | None = None) -> None:
    """Add variables to the context of every subscriber email (and, optionally, a batch loader)."""
    if provider not in _context_providers:
        _context_providers.append(provider)
    if prefetch is not None and prefetch not in _prefetchers:
        _prefetchers.append(prefetch)


def prefetch_context(session: Session, subscribers: list[Subscriber]) -> None:
    """Before rendering many subscribers' emails: let each provider load their data at once."""
    for prefetch in _prefetchers:
        prefetch(session, subscribers)


def list_headers(subscriber: Subscriber, newsletter: Newsletter | None) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe headers for list mail."""
    return {
        "List-Unsubscribe": f"<{links.unsubscribe_url(subscriber, newsletter)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def email_context(session: Session, subscriber: Subscriber, newsletter: Newsletter | None) -> dict:
    """What every subscriber email may use: names, links and the domains' blocks."""
    config = current_app.config["MASTHEAD"]
    brand = branding.current()
    context: dict[str, Any] = {
        "subscriber": subscriber,
        "newsletter": newsletter,
        "publication": brand.name,
        "publication_address": brand.postal_address,
        "logo_url": brand.logo_url,
        "brand_color": brand.brand_color,
        "manage_url": links.manage_url(subscriber),
        "unsubscribe_url": links.unsubscribe_url(subscriber, newsletter),
        "referral_url": links.referral_url(subscriber),
        "base_url": config.base_url,
    }
    for provider in _context_providers:
        context.update(provider(session, subscriber, context))
    return context


def queue_email(
    session: Session,
    subscriber: Subscriber,
    template: str,
    *,
    kind: str = DeliveryKind.TRANSACTIONAL,
    newsletter: Newsletter | None = None,
    list_mail: bool = True,
    **extra: Any,
) -> Delivery:
    """Render templates/email/<template>.{subject,txt,html} and queue the delivery."""
    context = email_context(session, subscriber, newsletter)
    context.update(extra)
    subject = header_safe(render_template(f"email/{template}.subject.txt", **context))[:SUBJECT_LENGTH]
    text = render_template(f"email/{template}.txt", **context)
    html = render_template(f"email/{template}.html", **context)
    headers = list_headers(subscriber, newsletter) if list_mail else {}
    from_email = branding.current().sender_for(newsletter)
    delivery = Delivery(
        subscriber_id=subscriber.id,
        newsletter_id=newsletter.id if newsletter else None,
        kind=kind,
        template=template,
        state=DeliveryState.QUEUED,
        to_email=subscriber.email,
        subject=subject,
        message={
            "to_name": subscriber.name,
            "text": text,
            "html": html,
            "headers": headers,
            "from_email": from_email,
            "reply_to": newsletter.reply_to if newsletter else None,
        },
    )
    session.add(delivery)
    session.flush()
    jobs.enqueue("send_delivery", delivery.id)
    return delivery


def register_welcome_provider(provider: WelcomeProvider) -> None:
    """Let a domain supply the welcome email's subject and body (content does, in its init_app)."""
    global _welcome_provider
    _welcome_provider = provider


def queue_welcome(session: Session, subscriber: Subscriber, newsletter: Newsletter | None) -> Delivery:
    """Queue the welcome at confirmation: transactional, with list headers and the referral link.

    Announced through `signals.welcome_queued` with the provider's context, so the welcome
    sequence records its first step as received (nobody gets two welcomes).
    """
    from growth import signals
    from growth.db import utcnow

    extra = (_welcome_provider(session, subscriber, newsletter) if _welcome_provider else None) or {}
    # the welcome step's referral ask (its view counted as the email is queued)
    ask: dict[str, Any] = dict(referral_asks.email_ask(session, subscriber, "welcome", utcnow()))
    delivery = queue_email(
        session,
        subscriber,
        "welcome",
        kind=DeliveryKind.TRANSACTIONAL,
        newsletter=newsletter,
        **extra,
        **ask,
    )
    signals.welcome_queued.send(subscriber, session=session, delivery=delivery, context=extra)
    return delivery
