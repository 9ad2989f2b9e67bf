"""Signals through which other domains follow the funnel without growth importing them."""

from blinker import Namespace

_signals = Namespace()

# sender: the Subscriber; kwargs: session, ref (code or None), ip, user_agent, now,
# ask (the referral ask the link came from, growth.referral_asks.PLACEMENTS, or None)
subscriber_signed_up = _signals.signal("subscriber-signed-up")
# sender: the Subscriber; kwargs: session, first_time (bool), ip, user_agent, now
subscriber_confirmed = _signals.signal("subscriber-confirmed")
# sender: the Subscriber; kwargs: session, field ("status"|"stage"), old, new, now, reason
subscriber_changed = _signals.signal("subscriber-changed")
# A visit through a share link carrying a referral code outside /r/ (e.g. /p/<slug>?ref=<code>).
# sender: what was shared (a post, or None); kwargs: session, ref, ip, user_agent, now, post_id,
# ask (the referral ask the link came from, or None).
referral_link_visit = _signals.signal("referral-link-visit")
# The reader paused list mail (until `until`, None when they resumed).
# sender: the Subscriber; kwargs: session, until, now
subscriber_paused = _signals.signal("subscriber-paused")

# Billing moments, announced by the billing domain so others (sequences) need not import it.
# sender: the Subscriber; kwargs: session, now
subscriber_upgraded = _signals.signal("subscriber-upgraded")  # started paying (or paying again)
subscriber_cancel_scheduled = _signals.signal(
    "subscriber-cancel-scheduled"
)  # cancel_at_period_end turned true
subscriber_churned = _signals.signal("subscriber-churned")  # stopped paying
# kept paying: undid a scheduled cancellation, took a retention offer, or a failed payment
# recovered (win-back series stop)
subscriber_kept = _signals.signal("subscriber-kept")
# The welcome email was queued at confirmation. sender: the Subscriber; kwargs: session,
# delivery, context (what the welcome provider returned, {} for the built-in words)
welcome_queued = _signals.signal("welcome-queued")
# An import created this subscriber as already confirmed and asked to enrol them (--enrol).
# sender: the Subscriber; kwargs: session, enrol, now
subscriber_imported = _signals.signal("subscriber-imported")
# A custom field got a value (growth.custom_fields.set_values). sender: the subscriber id;
# kwargs: session, name (the field's), value (its canonical text), source, now
field_value_set = _signals.signal("field-value-set")
