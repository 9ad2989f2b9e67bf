"""Small helpers shared by the growth views."""

from __future__ import annotations

from flask import request

from growth import referral_asks
from growth.errors import ValidationFailed
from growth.extensions import client_ip
from growth.subscribers import SIGNUP_RULES, SignupRequest

SIGNUP_FIELDS = (
    "name",
    "source",
    "ref",
    "partner",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referrer_url",
    "landing_url",
    "ask",
)
HONEYPOT_FIELD = "website"


def signup_request(data: dict, form: str) -> SignupRequest:
    """A SignupRequest from form or JSON data plus who is asking."""
    newsletters = data.get("newsletters") or []
    if isinstance(newsletters, str):
        newsletters = [newsletters]
    values = {k: data.get(k) for k in SIGNUP_FIELDS}
    if not values["ref"]:
        values["ref"] = _ref_cookie()
    if not values["ask"] and values["ref"] and values["ref"] == _ref_cookie():
        # the referral ask remembered with this very code (a stale one of another code is not)
        values["ask"] = request.cookies.get(referral_asks.ASK_COOKIE)
    values["ask"] = referral_asks.clean_placement(values["ask"])
    return SignupRequest(
        email=str(data.get("email", "")),
        newsletters=list(newsletters),
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent"),
        form=form,
        fields=custom_field_answers(data),
        **values,
    )


FIELD_PREFIX = "field_"


def custom_field_answers(data: dict) -> dict[str, object]:
    """Custom fields of a signup: the API's `fields` object, or a form's `field_<name>` inputs."""
    given = data.get("fields")
    if isinstance(given, dict):
        return given
    return {k[len(FIELD_PREFIX) :]: v for k, v in data.items() if k.startswith(FIELD_PREFIX)}


def _ref_cookie() -> str | None:
    """The remembered referral code; a cookie that is not one is ignored, not an error."""
    try:
        return SIGNUP_RULES["ref"].clean_optional(request.cookies.get("mh_ref"))
    except ValidationFailed:
        return None


def is_bot(data: dict) -> bool:
    """The honeypot: a field people never see, so never fill."""
    return bool(str(data.get(HONEYPOT_FIELD) or "").strip())
