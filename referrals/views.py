"""HTML views of the referrals domain: the referral landing, the reader's hub, the admin page."""

from __future__ import annotations

from flask import Blueprint, current_app, make_response, redirect, render_template, request
from sqlalchemy import select

from growth import branding, csvout, links, referral_asks, subscribers
from growth.auth import current_operator
from growth.db import commit, db, reports_session, utcnow
from growth.errors import DomainError, NotFound
from growth.extensions import client_ip, limiter
from growth.fields import MAX_ID, optional_int
from growth.models import Newsletter
from growth.roles import ADMIN, has_role
from growth.subscribers import default_newsletter
from growth.tokens import make_token, read_token
from referrals import asks, cascade_pictures, ladders, panels, rewards, ring_review, service

bp = Blueprint("referrals", __name__)

REF_COOKIE = "mh_ref"
REF_COOKIE_MAX_AGE = 30 * 24 * 3600
# Each visit writes a row: one client may not flood a referrer's visit counts.
VISIT_RATE_LIMIT = "60/minute"
# Set when a reader opens their own hub, so their later clicks on their own link are not counted.
SELF_COOKIE = "mh_self"
SELF_COOKIE_MAX_AGE = 365 * 24 * 3600


def _visitor_id() -> int | None:
    raw = request.cookies.get(SELF_COOKIE)
    if not raw:
        return None
    try:
        payload = read_token("referral-self", raw)
    except DomainError:
        return None
    return payload.get("s") if isinstance(payload, dict) else None


@bp.get("/r/<code>")
@limiter.limit(VISIT_RATE_LIMIT)
def referral_landing(code: str):  # type: ignore[no-untyped-def]
    """The subscribe form naming the referrer; the visit is kept and the code remembered 30 days.

    `?ask=` names the referral ask the link came from (an unknown one is ignored): it is kept
    with the visit and remembered with the code, so the signup is credited to it.
    """
    placement = referral_asks.clean_placement(request.args.get(referral_asks.ASK_PARAM))
    referrer = service.record_visit(
        db.session,
        code[:64],
        client_ip(),
        request.headers.get("User-Agent"),
        utcnow(),
        _visitor_id(),
        placement=placement,
    )
    default_newsletter(db.session)
    newsletters = list(db.session.scalars(select(Newsletter).order_by(Newsletter.id)))
    commit()
    inviter = None
    if referrer is not None:
        inviter = (referrer.name or "").split(" ")[0] or "a friend"
    response = make_response(
        render_template(
            "growth/subscribe.html",
            newsletters=newsletters,
            values={"ref": referrer.referral_code if referrer else "", "ask": placement or ""},
            error=None,
            inviter=inviter,
        )
    )
    if referrer is not None:
        response.set_cookie(
            REF_COOKIE,
            referrer.referral_code,
            max_age=REF_COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=_https(),
        )
        remember_ask(response, placement)
    return response


def remember_ask(response, placement: str | None) -> None:  # type: ignore[no-untyped-def]
    """Keep the placement beside the code; a link without one forgets an earlier placement."""
    if placement is None:
        response.delete_cookie(referral_asks.ASK_COOKIE)
        return
    response.set_cookie(
        referral_asks.ASK_COOKIE,
        placement,
        max_age=REF_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=_https(),
    )


@bp.get("/share/<token>/<target>")
@limiter.limit(VISIT_RATE_LIMIT)
def share_click(token: str, target: str):  # type: ignore[no-untyped-def]
    """A share button of a referral ask: the click is counted, then the share page (a fixed list)."""
    location = asks.share_click(db.session, token, target[:16], utcnow())
    commit()
    if location is None:  # "copy" opened as a page: back to what was being shared
        return redirect(asks.share_url_for_token(db.session, token), 303)
    return redirect(location, 303)


@bp.post("/share/<token>/copy")
@limiter.limit(VISIT_RATE_LIMIT)
def share_copy(token: str):  # type: ignore[no-untyped-def]
    """The Copy button of a referral ask (a beacon): counted as a share click, nothing to show."""
    asks.share_click(db.session, token, "copy", utcnow())
    commit()
    return "", 204


def _https() -> bool:
    """Cookies are Secure when the public URL is https (TLS may end at a proxy in front)."""
    return str(current_app.config["MASTHEAD"].base_url).startswith("https://")


@bp.route("/me/<token>/referrals", methods=["GET", "POST"])
def hub(token: str):  # type: ignore[no-untyped-def]
    """The reader's referral hub: link, share buttons, progress, the opt-in leaderboard."""
    try:
        subscriber = subscribers.subscriber_for_token(db.session, read_token("manage", token))
    except DomainError as exc:
        return render_template("growth/link_problem.html", message=exc.message, code=exc.code), 400
    message = None
    if request.method == "POST":
        opt_in = request.form.get("leaderboard") == "on"
        service.set_leaderboard_opt_in(db.session, subscriber, opt_in)
        commit()
        message = "You are on the leaderboard." if opt_in else "You are off the leaderboard."
    progress = service.progress(db.session, subscriber)
    publication = _publication()
    url = links.referral_url(subscriber)
    response = make_response(
        render_template(
            "referrals/hub.html",
            referral_url=url,
            share_subject=f"{publication} is worth your inbox",
            share_text=f"I read {publication} and think you'd like it too: {url}",
            progress=progress,
            sentence=service.progress_sentence(progress),
            milestones=service.reader_milestones(db.session, subscriber),
            reward_states=rewards.reward_states(db.session, subscriber),
            leaderboard=service.leaderboard(db.session),
            on_leaderboard=service.is_on_leaderboard(db.session, subscriber),
            manage_url=links.manage_url(subscriber),
            message=message,
        )
    )
    response.set_cookie(
        SELF_COOKIE,
        make_token("referral-self", {"s": subscriber.id}),
        max_age=SELF_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=_https(),
    )
    return response


def _publication() -> str:
    return branding.current().name


def _int_field(name: str, maximum: int = MAX_ID) -> int | None:
    """A whole number from the form (blank: None); anything else is a 422 naming the field."""
    return optional_int(request.form.get(name), name, 1, maximum)


def _milestone_form(creating: bool = False) -> dict[str, object]:
    data: dict[str, object] = {
        k: request.form.get(k, "") for k in ("reward_name", "description", "fulfilment_note")
    }
    data["referrals_required"] = _int_field("referrals_required", service.MAX_REFERRALS_REQUIRED)
    cost = optional_int(request.form.get("cost_cents"), "cost_cents", 0, service.MAX_COST_CENTS)
    if cost is not None:  # blank: unchanged (0 for a new milestone)
        data["cost_cents"] = cost
    if (request.form.get("currency") or "").strip():
        data["currency"] = request.form["currency"]
    if creating:  # a milestone stays on the ladder it was added to
        data["variant_id"] = _int_field("variant_id")
    data["grant_existing"] = request.form.get("grant_existing") == "on"
    return data


def _ladder_form() -> dict[str, object]:
    data: dict[str, object] = {"name": request.form.get("name", "")}
    share = _int_field("share", ladders.MAX_SHARE)
    if share is not None:
        data["share"] = share
    return data


def _past_note(past: int, granting: bool) -> str:
    """What happens to the readers already past a milestone, in words."""
    if not past:
        return "No reader is past it without it."
    readers = "1 reader is" if past == 1 else f"{past} readers are"
    if granting:
        return f"{readers} already past it: granting it to them now, once each, with the email."
    return f"{readers} already past it: only new passers will get it unless you grant it to them below."


@bp.get("/admin/referral-report")
def report_page():  # type: ignore[no-untyped-def]
    """The referral report in words and charts; the top referrers by name for admins."""
    page = panels.report_page(reports_session(), utcnow())
    return render_template("referrals/report.html", **page, admin=has_role(current_operator(), ADMIN))


@bp.get("/admin/referral-report/<panel_id>.csv")
def report_csv(panel_id: str):  # type: ignore[no-untyped-def]
    """One chart of the referral report as CSV."""
    page = panels.report_page(reports_session(), utcnow())
    found = next((p for p in page["panels"] if p.id == panel_id), None)
    if found is None:
        raise NotFound("No such chart.")
    return csvout.csv_response(f"{found.id}.csv", [found.label, *found.series.columns], found.series.rows())


@bp.route("/admin/referrals", methods=["GET", "POST"])
def admin():  # type: ignore[no-untyped-def]
    """Held referrals to decide, milestones to configure, rewards to send."""
    message = error = None
    if request.method == "POST":
        action = request.form.get("action")
        operator = current_operator()
        who = operator.email if operator else "operator"
        now = utcnow()
        try:
            if action in {"approve", "reject"}:
                referral_id = _int_field("referral_id")
                if referral_id is None:
                    raise NotFound("No such referral.")
                (service.approve if action == "approve" else service.reject)(
                    db.session, referral_id, who, now
                )
                message = f"Referral {referral_id} {'approved' if action == 'approve' else 'rejected'}."
            elif action == "add_milestone":
                data = _milestone_form(creating=True)
                milestone, past = rewards.save_and_offer(db.session, data)
                message = f"Milestone at {milestone.referrals_required} referrals added. " + _past_note(
                    past, bool(data["grant_existing"])
                )
            elif action == "edit_milestone":
                milestone_id = _int_field("milestone_id")
                if milestone_id is None:
                    raise NotFound("No such milestone.")
                data = _milestone_form()
                data["active"] = request.form.get("active") == "on"
                _milestone, past = rewards.save_and_offer(db.session, data, milestone_id)
                message = "Milestone saved. " + _past_note(past, bool(data["grant_existing"]))
            elif action == "grant_existing":
                milestone = service.get_milestone(db.session, _int_field("milestone_id") or 0)
                past = rewards.offer_to_readers_past(db.session, milestone, grant=True)
                message = _past_note(past, True)
            elif action == "add_ladder":
                variant = ladders.save_variant(db.session, _ladder_form())
                message = f"Ladder {variant.name} added: new readers get it in its share from now on."
            elif action == "edit_ladder":
                variant_id = _int_field("variant_id")
                if variant_id is None:
                    raise NotFound("No such ladder.")
                data = {**_ladder_form(), "active": request.form.get("active") == "on"}
                variant = ladders.save_variant(db.session, data, variant_id)
                message = f"Ladder {variant.name} saved; readers already assigned keep their ladder."
            elif action == "reject_ring":
                ids = [
                    optional_int(raw, "referral_id", 1, MAX_ID) for raw in request.form.getlist("referral_id")
                ]
                rejected = 0
                for referral_id in ids:
                    if (
                        referral_id is not None
                        and service.get_referral(db.session, referral_id).status != "rejected"
                    ):
                        service.reject(db.session, referral_id, who, now)
                        rejected += 1
                message = f"{rejected} referral{'' if rejected == 1 else 's'} of the ring rejected."
            elif action == "fulfil":
                grant_id = _int_field("grant_id")
                service.mark_fulfilled(db.session, grant_id or 0, now)
                message = "Marked as sent."
            commit()
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
    return render_template(
        "referrals/admin.html",
        held=service.held_referrals(db.session),
        milestones=service.milestones(db.session),
        ladders=ladders.variants(db.session),
        ladder_names={v.id: v.name for v in ladders.variants(db.session)},
        assigned=ladders.assigned_counts(db.session),
        readers_past=rewards.readers_past_counts(db.session),
        grants=service.grants(db.session),
        rings=ring_review.possible_rings(db.session, current_app.config["MASTHEAD"], utcnow()),
        ring_action=current_app.config["MASTHEAD"].referral_ring_action,
        ring_days=ring_review.LOOKBACK_DAYS,
        cascades=cascade_pictures.largest_cascades(db.session),
        stage_colours=cascade_pictures.STAGE_COLOURS,
        message=message,
        error=error,
    ), (422 if error else 200)
