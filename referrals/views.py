"""HTTP views of the referrals domain."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template
from sqlalchemy import select

from growth.db import commit, db
from growth.models import Newsletter, Status, Subscriber
from growth.subscribers import default_newsletter

bp = Blueprint("referrals", __name__)

REF_COOKIE = "mh_ref"
REF_COOKIE_MAX_AGE = 30 * 24 * 3600


@bp.get("/r/<code>")
def referral_landing(code: str):  # type: ignore[no-untyped-def]
    """The subscribe form naming the referrer; the code is remembered for 30 days."""
    referrer = db.session.scalars(select(Subscriber).where(Subscriber.referral_code == code.lower())).first()
    if referrer is not None and referrer.status == Status.ERASED:
        referrer = None
    default_newsletter(db.session)
    newsletters = list(db.session.scalars(select(Newsletter).order_by(Newsletter.id)))
    commit()
    inviter = (referrer.name or "").split(" ")[0] if referrer and referrer.name else "a friend"
    response = make_response(
        render_template(
            "growth/subscribe.html",
            newsletters=newsletters,
            values={"ref": referrer.referral_code if referrer else ""},
            error=None,
            inviter=inviter if referrer else None,
        )
    )
    if referrer is not None:
        response.set_cookie(REF_COOKIE, referrer.referral_code, max_age=REF_COOKIE_MAX_AGE, httponly=True, samesite="Lax")
    return response
