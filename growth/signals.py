"""Signals through which other domains follow the funnel without growth importing them."""

from blinker import Namespace

_signals = Namespace()

# sender: the Subscriber; kwargs: session, ref (code or None), ip, user_agent, now
subscriber_signed_up = _signals.signal("subscriber-signed-up")
# sender: the Subscriber; kwargs: session, first_time (bool), ip, now
subscriber_confirmed = _signals.signal("subscriber-confirmed")
# sender: the Subscriber; kwargs: session, field ("status"|"stage"), old, new, now
subscriber_changed = _signals.signal("subscriber-changed")
# A visit through a share link carrying a referral code outside /r/ (e.g. /p/<slug>?ref=<code>).
# sender: what was shared (a post, or None); kwargs: session, ref, ip, user_agent, now.
referral_link_visit = _signals.signal("referral-link-visit")
