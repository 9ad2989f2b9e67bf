"""The post email: rendered once per batch with placeholders, one substitution set per recipient."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template
from markupsafe import escape
from sqlalchemy.orm import Session

from content import plaintext
from content.models import Post
from content.paywall import reader_token, reader_tokens
from content.sponsorships import Placement, by_slot, split_body
from growth import branding, emails, links
from growth.fields import header_safe
from growth.mailer import BatchMessage, BatchRecipient, UnsendableMessage, check_recipient
from growth.models import Newsletter, Subscriber

log = logging.getLogger(__name__)

_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}")  # goes into style attributes: nothing else passes
# SendGrid replaces these keys in subject and content, per personalization.
PLACEHOLDERS = (
    "name",
    "name_html",
    "greeting",
    "greeting_html",
    "manage_url",
    "unsubscribe_url",
    "web_url",
    "referral_url",
    "referral_block",
    "referral_block_html",
)
KEY = {name: f"[%mh:{name}%]" for name in PLACEHOLDERS}


def post_web_path(post: Post) -> str:
    """The post's page on the web."""
    return f"/p/{post.slug}"


def web_url(post: Post, subscriber_id: int | None, delivery_id: int | None) -> str:
    """The web-view link; signed so the reader arriving through it is recognised."""
    url = links.absolute(post_web_path(post))
    if subscriber_id is None:
        return url
    return f"{url}?r={reader_token(subscriber_id, delivery_id)}"


def from_address(newsletter: Newsletter | None) -> str:
    """The newsletter's sender name on the publication's address (the stored default sender)."""
    return branding.current().sender_for(newsletter)


def _fallback_blocks(publication: str, referral_url: str) -> tuple[str, str]:
    # The same words as email/base.*: used when no domain provides a referral block.
    text = f"Know someone who'd like {publication}? Share your link: {referral_url}"
    html = (
        f"<p>Know someone who'd like {escape(publication)}? "
        f'<a href="{escape(referral_url)}">Share your link</a>.</p>'
    )
    return text, html


@dataclass
class Rendered:
    """A post email with placeholders in it."""

    subject: str
    text: str
    html: str


def render_post_email(
    post: Post,
    newsletter: Newsletter | None,
    teaser: bool = False,
    subject: str | None = None,
    more: Sequence[Post] = (),
    sponsors: Sequence[Placement] = (),
) -> Rendered:
    """Render templates/email/post.* once, with placeholders for everything per recipient.

    The teaser edition (a paid post to readers without access) stops at the paywall. `subject`
    replaces the post's title in the subject line (a subject test's variant); `more` are the
    posts offered after it ("more like this", chosen per post, so one rendering serves a batch).
    Booked sponsors' creatives go in their slots (top, middle of the body, bottom), marked
    sponsored.
    """
    config = current_app.config["MASTHEAD"]
    brand = branding.current()
    body_html = post.teaser_html if teaser else post.body_html
    slots = by_slot(list(sponsors))
    # Cut only for a middle sponsor: otherwise the body goes whole, as it always did.
    before, after = split_body(body_html) if slots["middle"] else (body_html, "")
    body_text = plaintext.html_to_text(body_html)
    context: dict[str, Any] = {
        "post": post,
        "teaser": teaser,
        "sponsors": slots,
        "body_before": before,
        "body_after": after,
        "more": more,
        # The text part is rendered from the post's HTML, not its Markdown source.
        "body_text_before": plaintext.html_to_text(before) if after else body_text,
        "body_text_after": plaintext.html_to_text(after) if after else "",
        "body_text": body_text,
        "newsletter": newsletter,
        "publication": brand.name,
        "publication_address": brand.postal_address,
        "logo_url": brand.logo_url,
        "brand_color": brand.brand_color if _COLOR.fullmatch(brand.brand_color) else "#c2410c",
        "base_url": config.base_url,
        **{name: KEY[name] for name in PLACEHOLDERS},
    }
    return Rendered(
        subject=header_safe(subject or render_template("email/post.subject.txt", **context)),
        text=render_template("email/post.txt", **context),
        html=render_template("email/post.html", **context),
    )


def substitutions(
    session: Session,
    subscriber: Subscriber,
    newsletter: Newsletter | None,
    post: Post | None,
    delivery_id: int | None,
    web: str | None = None,
) -> dict[str, str]:
    """The values of every placeholder for one subscriber (the referral block from its domain).

    Without a post (a sequence email) the web link is `web` or empty.
    """
    context = emails.email_context(session, subscriber, newsletter)
    publication = context["publication"]
    fallback_text, fallback_html = _fallback_blocks(publication, context["referral_url"])
    name = header_safe(subscriber.name)  # it may go into the subject
    values = {
        "name": name,
        "name_html": str(escape(name)),
        "greeting": f"Hi {name}," if name else "Hi there,",
        "greeting_html": f"Hi {escape(name)}," if name else "Hi there,",
        "manage_url": context["manage_url"],
        "unsubscribe_url": context["unsubscribe_url"],
        "web_url": web or (web_url(post, subscriber.id, delivery_id) if post is not None else ""),
        "referral_url": context["referral_url"],
        "referral_block": context.get("referral_block") or fallback_text,
        "referral_block_html": context.get("referral_block_html") or fallback_html,
    }
    return {KEY[k]: str(v) for k, v in values.items()}


def recipients(
    session: Session,
    people: list[tuple[Subscriber, int]],
    newsletter: Newsletter | None,
    post: Post,
    send_id: int,
    kind: str,
) -> tuple[list[BatchRecipient], dict[int, str]]:
    """One personalization per (subscriber, delivery id), and why the others cannot be sent.

    A recipient whose values cannot be rendered or sent (an address stored broken, a block
    that fails) is left out with its reason, keyed by delivery id: it fails alone.
    """
    page = links.absolute(post_web_path(post))
    emails.prefetch_context(session, [subscriber for subscriber, _ in people])
    tokens = reader_tokens((sub.id, delivery_id) for sub, delivery_id in people)
    out, failed = [], {}
    for (subscriber, delivery_id), token in zip(people, tokens, strict=True):
        try:
            recipient = _recipient(
                session, subscriber, delivery_id, newsletter, post, send_id, kind, page, token
            )
            check_recipient(recipient)
        except UnsendableMessage as exc:
            failed[delivery_id] = str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - one reader's data must not stop the batch
            log.exception("send %s: cannot render delivery %s", send_id, delivery_id)
            failed[delivery_id] = f"cannot render this recipient: {exc}"[:2000]
            continue
        out.append(recipient)
    return out, failed


def _recipient(  # type: ignore[no-untyped-def]
    session, subscriber, delivery_id, newsletter, post, send_id, kind, page, token
) -> BatchRecipient:
    values = substitutions(session, subscriber, newsletter, post, delivery_id, f"{page}?r={token}")
    return BatchRecipient(
        to_email=subscriber.email,
        to_name=header_safe(subscriber.name) or None,
        substitutions=values,
        # The same headers as growth.emails.list_headers, from the URL signed above:
        # signing is most of the cost of a recipient, so each token is signed once.
        headers={
            "List-Unsubscribe": f"<{values[KEY['unsubscribe_url']]}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        custom_args={
            "send_id": str(send_id),
            "delivery_id": str(delivery_id),
            "subscriber_id": str(subscriber.id),
            "kind": kind,
        },
    )


def batch_message(
    rendered: Rendered,
    newsletter: Newsletter | None,
    recipients: list[BatchRecipient],
    subject_prefix: str = "",
) -> BatchMessage:
    """The provider message for a batch."""
    return BatchMessage(
        subject=header_safe(subject_prefix + rendered.subject),
        text=rendered.text,
        html=rendered.html,
        recipients=recipients,
        from_email=from_address(newsletter),
        reply_to=newsletter.reply_to if newsletter else None,
        custom_args={"template": "post"},
        categories=["post"],
        template="post",
    )


def sample_substitutions(post: Post, newsletter: Newsletter | None) -> dict[str, str]:
    """Placeholder values for a test send to an address that is not a subscriber."""
    subscribe = links.absolute("/subscribe")
    text, html = _fallback_blocks(branding.current().name, subscribe)
    values = {
        "name": "",
        "name_html": "",
        "greeting": "Hi there,",
        "greeting_html": "Hi there,",
        "manage_url": subscribe,
        "unsubscribe_url": subscribe,
        "web_url": web_url(post, None, None),
        "referral_url": subscribe,
        "referral_block": text,
        "referral_block_html": html,
    }
    return {KEY[k]: v for k, v in values.items()}
