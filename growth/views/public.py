"""Public pages: subscribe form and embed, one-click confirm, one-click unsubscribe, /me."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request

from growth import custom_fields, links, newsletters, partners, referral_asks, security, subscribers
from growth.db import commit, db, utcnow
from growth.errors import DomainError, InvalidRequest, ValidationFailed
from growth.extensions import client_ip, signup_limit
from growth.fields import MAX_ID, parse_int
from growth.models import MembershipStatus, Newsletter, Status, Subscriber
from growth.tokens import InvalidToken, read_token
from growth.views.common import custom_field_answers, is_bot, signup_request

bp = Blueprint("public", __name__)


def _newsletters() -> list[Newsletter]:
    return newsletters.active_newsletters(db.session)


@bp.get("/subscribe")
def subscribe_form():  # type: ignore[no-untyped-def]
    """The signup form."""
    newsletters = _newsletters()
    commit()
    return render_template(
        "growth/subscribe.html",
        newsletters=newsletters,
        values=request.args,
        error=None,
        **_signup_fields({}),
    )


def _signup_fields(data: dict) -> dict[str, object]:
    """The custom fields the signup form asks, with what was typed (shown again after an error)."""
    return {
        "signup_fields": [f for f in custom_fields.active_fields(db.session) if f.on_signup],
        "field_answers": custom_field_answers(data),
    }


@bp.post("/subscribe")
@signup_limit
def subscribe():  # type: ignore[no-untyped-def]
    """Form signup (also the target of the embeddable form on other sites)."""
    data = request.form.to_dict()
    data["newsletters"] = request.form.getlist("newsletters")
    if is_bot(data):
        return render_template("growth/check_inbox.html"), 200
    try:
        subscribers.signup(
            db.session,
            signup_request(data, form=data.get("form") or "subscribe_page"),
            utcnow(),
            resend_after=current_app.config["MASTHEAD"].confirmation_resend_seconds,
            refuse_disposable=current_app.config["MASTHEAD"].disposable_emails == "refuse",
            defer=True,  # answered after the INSERT: the finish_signup job does the rest
        )
    except ValidationFailed as exc:
        db.session.rollback()
        newsletters = _newsletters()
        return render_template(
            "growth/subscribe.html",
            newsletters=newsletters,
            values=data,
            error=exc.message,
            **_signup_fields(data),
        ), 422
    commit()
    return render_template("growth/check_inbox.html"), 200


@bp.get("/embed.html")
def embed_snippet():  # type: ignore[no-untyped-def]
    """The snippet an operator pastes into another site, shown with a live preview.

    The preview is the snippet itself, inline code and all: the policy allows exactly that code.
    The page may be framed by the sites in CORS_ORIGINS (anyone when none is listed): it holds a
    signup form only, which double opt-in guards anyway.
    """
    config = current_app.config["MASTHEAD"]
    snippet = render_template(
        "growth/embed_snippet.html",
        base_url=config.base_url,
        newsletters=_newsletters(),
        **_signup_fields({}),
    )
    security.allow_inline_code_of(snippet)
    security.allow_framing_by(config.cors_origins)
    return render_template("growth/embed.html", snippet=snippet)


@bp.get("/confirm/<token>")
def confirm(token: str):  # type: ignore[no-untyped-def]
    """One click confirms: no second button."""
    config = current_app.config["MASTHEAD"]
    try:
        payload = read_token("confirm", token, max_age=config.confirm_token_max_age)
        subscriber = subscribers.subscriber_for_token(db.session, payload, for_update=True)
    except (InvalidToken, DomainError) as exc:
        return render_template("growth/link_problem.html", message=exc.message, code=exc.code), 400
    try:
        result = subscribers.confirm(
            db.session, subscriber, utcnow(), ip=client_ip(), user_agent=request.headers.get("User-Agent")
        )
    except subscribers.Suppressed as exc:
        db.session.rollback()
        return render_template(
            "growth/suppressed.html",
            subscriber=subscriber,
            message=exc.message,
            contact=links.contact_address(),
        ), exc.status
    shown = _recommendations(subscriber)  # read inside the unit of work, before it commits
    ask = referral_asks.ask_block(db.session, subscriber, "confirmed", utcnow())
    commit()
    return render_template(
        "growth/confirmed.html",
        subscriber=subscriber,
        newly=result.newly_confirmed,
        paused=subscribers.is_paused(subscriber, utcnow()),
        contact=links.contact_address(),
        referral_url=links.referral_url(subscriber),
        manage_url=links.manage_url(subscriber),
        referral_ask=ask,
        **shown,
    )


def _unsubscribe_target(token: str):  # type: ignore[no-untyped-def]
    payload = read_token("unsubscribe", token)
    subscriber = subscribers.subscriber_for_token(db.session, payload)
    newsletter = db.session.get(Newsletter, payload["n"]) if payload.get("n") else None
    return subscriber, newsletter


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):  # type: ignore[no-untyped-def]
    """A page with one confirm button, and 'leave everything'."""
    try:
        subscriber, newsletter = _unsubscribe_target(token)
    except DomainError as exc:
        return render_template("growth/link_problem.html", message=exc.message, code=exc.code), 400
    if newsletter is None or subscriber.status == Status.UNSUBSCRIBED:
        not_subscribed = subscriber.status == Status.UNSUBSCRIBED
    else:
        not_subscribed = all(
            m.status == MembershipStatus.UNSUBSCRIBED
            for m in subscriber.memberships
            if m.newsletter_id == newsletter.id
        )
    return render_template(
        "growth/unsubscribe.html",
        subscriber=subscriber,
        newsletter=newsletter,
        token=token,
        done=False,
        not_subscribed=not_subscribed,
        paused=subscribers.is_paused(subscriber, utcnow()),
        manage_url=links.manage_url(subscriber),
        contact=links.contact_address(),
    )


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str):  # type: ignore[no-untyped-def]
    """RFC 8058 one-click: no cookie, login or CSRF token; takes effect at once."""
    try:
        subscriber, newsletter = _unsubscribe_target(token)
    except DomainError as exc:
        return render_template("growth/link_problem.html", message=exc.message, code=exc.code), 400
    everything = request.form.get("scope") == "all" or newsletter is None
    subscribers.unsubscribe(
        db.session,
        subscriber,
        utcnow(),
        newsletter_id=None if everything else newsletter.id,
        reason="one_click" if "List-Unsubscribe" in request.form else "unsubscribe_page",
    )
    commit()
    if request.form.get("List-Unsubscribe") == "One-Click":
        return Response("Unsubscribed.\n", status=200, mimetype="text/plain")
    return render_template(
        "growth/unsubscribe.html",
        subscriber=subscriber,
        newsletter=None if everything else newsletter,
        token=token,
        done=True,
        manage_url=links.manage_url(subscriber),
    )


def _recommendations(subscriber: Subscriber, token: str | None = None) -> dict[str, Any]:
    """The partner publications a confirmed reader may tick, and where the ticks go."""
    if subscriber.status != Status.ACTIVE:
        return {"recommendations": []}
    token = token or links.manage_token(subscriber)
    return {
        "recommendations": partners.recommended(db.session, subscriber),
        "recommend_action": f"/me/{token}/recommendations",
    }


@bp.post("/me/<token>/recommendations")
def recommendations(token: str):  # type: ignore[no-untyped-def]
    """The reader's ticks: their address goes only to the partners they ticked (signed link, no cookie)."""
    try:
        subscriber = _manage_subscriber(token)
    except DomainError as exc:
        return render_template("growth/link_problem.html", message=exc.message, code=exc.code), 400
    if subscriber.status != Status.ACTIVE:
        return render_template(
            "growth/link_problem.html", message="Only a confirmed subscriber can do that.", code="not_active"
        ), 409
    ids = [parse_int(v, "partner", 1, MAX_ID) for v in request.form.getlist("partner")[:50]]
    chosen = {p.id: p for p, _ in partners.recommended(db.session, subscriber) if p.id in set(ids)}
    pages = partners.tick(db.session, subscriber, list(chosen), utcnow())
    commit()
    sent = [p.name for p in chosen.values() if p.signup_api_url]
    return render_template(
        "growth/recommended.html",
        sent=sent,
        pages=[(p.name, partners.page_link(p)) for p in pages],
        manage_url=f"/me/{token}",
    )


def _manage_subscriber(token: str):  # type: ignore[no-untyped-def]
    return subscribers.subscriber_for_token(db.session, read_token("manage", token))


@bp.route("/me/<token>", methods=["GET", "POST"])
def manage(token: str):  # type: ignore[no-untyped-def]
    """The subscriber's own page: what fits their status (newsletters, pause, leave, come back)."""
    try:
        subscriber = _manage_subscriber(token)
    except DomainError as exc:
        return render_template("growth/link_problem.html", message=exc.message, code=exc.code), 400
    now = utcnow()
    message, error, status = None, None, 200
    if request.method == "POST":
        try:
            message = _manage_action(subscriber, request.form.get("action"), now)
            commit()
        except DomainError as exc:
            db.session.rollback()
            error, status = exc.message, exc.status
    active = {m.newsletter_id for m in subscriber.memberships if m.status == MembershipStatus.ACTIVE}
    return render_template(
        "growth/manage.html",
        subscriber=subscriber,
        newsletters=_newsletters(),
        active=active,
        paused=subscribers.is_paused(subscriber, now),
        message=message,
        error=error,
        token=token,
        data_token=links.data_token(subscriber),
        referral_url=links.referral_url(subscriber),
        contact=links.contact_address(),
        reader_fields=[f for f in custom_fields.active_fields(db.session) if f.reader_editable],
        field_answers=custom_fields.values_of(db.session, [subscriber.id])[subscriber.id],
        **_recommendations(subscriber, token),
    ), status


def _manage_action(subscriber: Subscriber, action: str | None, now: dt.datetime) -> str:
    """Apply one action of the page; the sentence that says what happened."""
    if action == "newsletters":
        ids = {parse_int(v, "newsletter", 1, MAX_ID) for v in request.form.getlist("newsletter")}
        was = subscriber.status
        subscribers.set_memberships(db.session, subscriber, ids, now)
        if subscriber.status == Status.ACTIVE and was != Status.ACTIVE:
            return "Welcome back: mail starts again with the next issue."
        return "Your newsletters are saved."
    if action == "pause":
        # ASCII digits only: str.isdigit() takes '²' (which int() refuses) and '٣٠'.
        longest = subscribers.MAX_PAUSE_DAYS
        try:
            days = parse_int(request.form.get("days", "30"), "days", 1, longest)
        except ValidationFailed as exc:
            raise ValidationFailed(f"A pause lasts from 1 to {longest} days.", code="invalid_pause") from exc
        subscribers.pause(db.session, subscriber, now, days)
        return f"Paused for {days} days."
    if action == "resume":
        subscribers.pause(db.session, subscriber, now, None)
        return "Welcome back: mail resumes with the next issue."
    if action == "fields":
        answers = custom_fields.clean_values(
            db.session, custom_field_answers(request.form.to_dict()), "reader"
        )
        custom_fields.set_values(db.session, subscriber.id, answers, "reader", now)
        return "Your answers are saved."
    if action == "leave":
        subscribers.unsubscribe(db.session, subscriber, now, reason="manage_page")
        return "You have left every newsletter."
    raise InvalidRequest("Unknown action.", code="unknown_action")
