"""Referrals' outgoing webhook events: referral.counted and reward.granted, as documented."""

from __future__ import annotations

from referrals.models import Milestone
from tests.referrals.helpers import by_email, join, refer


def test_a_counted_referral_and_its_reward(client, session, outbox, emitted):  # type: ignore[no-untyped-def]
    session.add(
        Milestone(referrals_required=1, reward_name="sticker pack", description="", fulfilment_note="")
    )
    session.commit()
    join(client, outbox, "ana@example.com")
    refer(client, session, outbox, "ana@example.com", "bo@example.com", ip="198.51.100.7")
    ana, bo = by_email(session, "ana@example.com"), by_email(session, "bo@example.com")
    [counted] = emitted.of("referral.counted")
    assert counted["data"]["subscriber"]["id"] == ana.id and counted["data"]["referred"]["email"] == bo.email
    assert counted["data"]["referrals_counted"] == 1
    [reward] = emitted.of("reward.granted")
    assert reward["data"]["subscriber"]["email"] == ana.email
    assert reward["data"]["milestone"]["reward_name"] == "sticker pack"
