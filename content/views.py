"""The web: the home page, posts behind their paywall, the RSS feed of public posts."""

from __future__ import annotations

from flask import Blueprint, current_app, make_response, redirect, render_template, request

from content import archive, images, media_kit, paywall, posts, related, sponsorships, topics
from content.composer import post_web_path
from content.image_store import current_store
from growth import referral_asks
from growth import signals as growth_signals
from growth.db import commit, db, utcnow
from growth.engagement import record_web_visit
from growth.errors import NotFound
from growth.extensions import client_ip
from growth.models import Subscriber
from growth.params import query_int

bp = Blueprint("content", __name__)

UPGRADE_PATHS = ("/pricing", "/upgrade", "/billing/pricing")
UPGRADE_POST_PARAM = "post"  # the pricing page carries it to Checkout (billing reads it)


def _upgrade_url(subscriber_id: int | None, post_id: int | None = None) -> str:
    """Billing's pricing page when it has one, signed for a known reader; the subscribe page otherwise.

    The signed link names the reader even where the cookie did not stick; `post` names the post
    whose paywall the reader is leaving, so a payment that follows is credited to it.
    """
    rules = {rule.rule for rule in current_app.url_map.iter_rules()}
    path = next((p for p in UPGRADE_PATHS if p in rules), None)
    if path is None:
        return "/subscribe"
    params = [f"r={paywall.reader_token(subscriber_id)}"] if subscriber_id is not None else []
    if post_id is not None:
        params.append(f"{UPGRADE_POST_PARAM}={post_id}")
    return f"{path}?{'&'.join(params)}" if params else path


def _set_cookie(response, name: str, value: str, days: int) -> None:  # type: ignore[no-untyped-def]
    response.set_cookie(
        name,
        value,
        max_age=days * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["MASTHEAD"].base_url.startswith("https://"),
    )


def post_page_html(  # type: ignore[no-untyped-def]
    post,
    full: bool,
    reader=None,
    ref: str = "",
    upgrade_url: str | None = None,
    subscriber=None,
    sponsors=(),
    more=(),
    referral_ask="",
    ask_placement: str | None = None,
) -> str:
    """A post's web page: what readers get, and what the editor previews (sponsors in their slots)."""
    slots = sponsorships.by_slot(list(sponsors))
    body = post.body_html if full else post.teaser_html
    before, after = sponsorships.split_body(body) if slots["middle"] else (body, "")
    return render_template(
        "content/post.html",
        post=post,
        sponsors=slots,
        body_before=before,
        body_after=after,
        full=full,
        reader=reader,
        ref=ref,
        upgrade_url=upgrade_url or _upgrade_url(None, post.id),
        subscriber=subscriber,
        more=more,
        referral_ask=referral_ask,
        ask_placement=ask_placement,
    )


@bp.get("/images/<name>")
def image(name: str):  # type: ignore[no-untyped-def]
    """An uploaded image; its name is unguessable and its bytes never change."""
    found, data = images.find_image(db.session, current_store(), name)
    response = current_app.response_class(data, mimetype=found.content_type)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    """The archive, 20 posts a page, by topic (`?topic=`) and words (`?q=`), and a subscribe form."""
    page = query_int(request.args, "page", 1, maximum=100_000) or 1
    topic_slug = request.args.get("topic", "")
    topic = topics.topic_by_slug(db.session, topic_slug) if topic_slug else None
    if topic_slug and topic is None:
        raise NotFound("No such topic.", code="topic_not_found")
    q = " ".join(request.args.get("q", "")[: archive.MAX_QUERY_LENGTH].split())
    found = archive.archive_page(db.session, utcnow(), page, topic, q)
    newsletters = posts.newsletters(db.session)
    all_topics = topics.all_topics(db.session)
    commit()
    return render_template(
        "content/home.html",
        posts=found.posts,
        archive=found,
        topic=topic,
        topics=all_topics,
        q=q,
        newsletters=newsletters,
    )


@bp.get("/p/<slug>")
def post_page(slug: str):  # type: ignore[no-untyped-def]
    """The whole post for readers allowed to read it, a teaser with a call to the others."""
    session = db.session
    now = utcnow()
    post = posts.published_post(session, slug, now)
    arrival = paywall.read_reader_token(request.args.get("r"))
    if arrival is not None:
        # A signed link from an email: remember the reader, count the visit, drop the token.
        subscriber_id, delivery_id = arrival
        if paywall.known_subscriber(session, subscriber_id):
            record_web_visit(session, subscriber_id, request.base_url, now, delivery_id)
            commit()
            response = redirect(post_web_path(post))
            _set_cookie(
                response,
                paywall.READER_COOKIE,
                paywall.reader_token(subscriber_id),
                paywall.READER_COOKIE_DAYS,
            )
            return response
    via = request.args.get("via")
    if via in related.CHANNELS:
        # A "more like this" click: counted once, then the clean address (a reload counts nothing).
        source = query_int(request.args, "from", None, maximum=2**31 - 1)
        if source is not None and related.record_click(session, source, post, via, now):
            commit()
        return redirect(post_web_path(post))
    known = paywall.known_reader(session, request.cookies.get(paywall.READER_COOKIE))
    reader = known[1] if known else None
    ref = paywall.clean_ref(request.args.get("ref"))
    # the referral ask the shared link came from (?ask=); an unknown one is ignored
    placement = referral_asks.clean_placement(request.args.get(referral_asks.ASK_PARAM)) if ref else None
    if ref:
        growth_signals.referral_link_visit.send(
            post,
            session=session,
            ref=ref,
            ip=client_ip(),
            user_agent=request.headers.get("User-Agent"),
            now=now,
            post_id=post.id,
            ask=placement,
        )
    full = paywall.can_read(post.audience, reader)
    more = related.more_like_this(session, post, now, known[0].id if known else None)
    # Read to the end: the moment to ask a confirmed reader to share this very post.
    ask = (
        referral_asks.ask_block(
            session, known[0], "post_end", now, post_id=post.id, share_path=post_web_path(post)
        )
        if full and known
        else ""
    )
    commit()
    response = make_response(
        post_page_html(
            post,
            full,
            reader=reader,
            ref=ref,
            upgrade_url=_upgrade_url(known[0].id if known else None, post.id),
            subscriber=known[0] if known else None,
            more=more,
            sponsors=sponsorships.placements_for_post(session, post.id),
            referral_ask=ask,
            ask_placement=placement,
        )
    )
    if ref:
        _set_cookie(response, paywall.REF_COOKIE, ref, paywall.REF_COOKIE_DAYS)
        if placement:
            _set_cookie(response, referral_asks.ASK_COOKIE, placement, paywall.REF_COOKIE_DAYS)
        else:  # a link without an ask forgets an earlier one, as the code is replaced
            response.delete_cookie(referral_asks.ASK_COOKIE)
    if not full:
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/media-kit")
def media_kit_page():  # type: ignore[no-untyped-def]
    """The media kit for prospective sponsors: engaged readers, human rates, the rate card."""
    config = current_app.config["MASTHEAD"]
    kit = media_kit.media_kit(db.session, utcnow(), config.engaged_window_days)
    commit()
    return render_template("content/media_kit.html", kit=kit)


@bp.get("/sponsor/report/<token>")
def sponsor_report(token: str):  # type: ignore[no-untyped-def]
    """The sponsor's report, opened from a signed link without an account (a forged one is refused)."""
    session = db.session
    booking = sponsorships.booking_for_token(session, token)
    response = make_response(
        render_template("content/sponsor_report.html", data=sponsorships.booking_report(session, booking))
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/feed.xml")
def feed():  # type: ignore[no-untyped-def]
    """RSS 2.0 of public posts."""
    latest = posts.latest_posts(db.session, utcnow(), limit=50, public_only=True)
    body = render_template("content/feed.xml", posts=latest)
    return current_app.response_class(body, mimetype="application/rss+xml")


def _answer_index(raw: str) -> int:
    """An answer's index in a poll link: ASCII digits, 0 to 99 (anything else names no answer)."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 2):
        raise NotFound("This poll has no such answer.", code="no_such_answer")
    return int(raw)


@bp.route("/poll/<token>/<answer>", methods=["GET", "HEAD"])
def poll_answer(token: str, answer: str):  # type: ignore[no-untyped-def]
    """One click records the answer (a scanner's records nothing) and thanks the reader."""
    from content import polls
    from growth.errors import DomainError

    if request.method == "HEAD":  # link checkers look before they leap; readers never send HEAD
        return "", 200
    try:
        outcome = polls.answer_poll(
            db.session,
            token,
            _answer_index(answer),
            utcnow(),
            current_app.config["MASTHEAD"].scanner_click_seconds,
        )
    except DomainError as exc:
        db.session.rollback()
        return render_template("growth/link_problem.html", message=exc.message, code=exc.code), exc.status
    # Just answered: a confirmed reader is asked to share (the ask's view is counted with it).
    reader = db.session.get(Subscriber, outcome.subscriber_id)
    ask = referral_asks.ask_block(db.session, reader, "poll", utcnow()) if outcome.recorded else ""
    commit()
    return render_template(
        "content/poll_thanks.html",
        poll=outcome.poll,
        chosen=outcome.answer,
        token=outcome.token,
        referral_ask=ask,
    )


@bp.get("/poll/preview/<answer>")
def poll_preview(answer: str):  # type: ignore[no-untyped-def]
    """Where a poll's links go in a preview or a test send: nothing is counted."""
    return render_template("content/poll_thanks.html", poll=None, chosen=None, token=None)
