"""Referrals' part of seed-demo: what the rules made of the simulated readers' referrals.

The referrals themselves come through this domain's own signal handlers (signups carrying a
referrer's code, share-link visits); this contributor reports what they counted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from growth.demo import DemoContributor, DemoWorld
from referrals.models import Referral, ReferralStatus


class ReferralsDemo(DemoContributor):
    """Counts referrals by status at the end of the year."""

    name = "referrals"

    def __init__(self, world: DemoWorld):
        self.world = world

    def summary(self, session: Session) -> dict[str, Any]:
        """Counted referrals (the numerator of K) and the others by status."""
        by_status = dict(
            session.execute(select(Referral.status, func.count()).group_by(Referral.status)).all()
        )
        return {
            "referrals_counted": by_status.get(ReferralStatus.COUNTED, 0),
            "referrals": {str(k): v for k, v in sorted(by_status.items(), key=lambda kv: str(kv[0]))},
        }
