"""Models of the referrals domain."""
