"""Signals through which other domains follow the funnel without growth importing them."""

from blinker import Namespace

_signals = Namespace()

# sender: the Subscriber; kwargs: session, ref (code or None), ip, user_agent, now
subscriber_signed_up = _signals.signal("subscriber-signed-up")
# sender: the Subscriber; kwargs: session, first_time (bool), ip, now
subscriber_confirmed = _signals.signal("subscriber-confirmed")
# sender: the Subscriber; kwargs: session, field ("status"|"stage"), old, new, now
subscriber_changed = _signals.signal("subscriber-changed")
