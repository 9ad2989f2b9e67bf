"""Signals the content domain sends; other domains connect to them in their init_app."""

from blinker import Namespace

_signals = Namespace()

# A visit to a post through a share link /p/<slug>?ref=<code>.
# sender: the Post; kwargs: session, ref (the referral code), ip, user_agent, now.
# The referrals domain counts it as a referral visit; content only sets the mh_ref cookie.
post_share_visit = _signals.signal("post-share-visit")
