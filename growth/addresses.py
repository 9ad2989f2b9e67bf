"""Checks on the domain of an email address: throwaway (disposable) providers."""

from __future__ import annotations

from disposable_email_domains import blocklist

from growth.errors import ValidationFailed

DISPOSABLE_POLICIES = ("refuse", "allow")


def is_disposable(email: str) -> bool:
    """Whether the address's domain (or a parent domain) is a known throwaway provider."""
    domain = email.strip().lower().rpartition("@")[2]
    parts = domain.split(".")
    return any(".".join(parts[i:]) in blocklist for i in range(len(parts) - 1))


def refuse_disposable(email: str) -> None:
    """ValidationFailed (422) for a throwaway address: its mailbox expires within hours."""
    if is_disposable(email):
        domain = email.rpartition("@")[2]
        raise ValidationFailed(
            f"Please use a permanent address: {domain} hands out throwaway ones.", code="disposable_email"
        )
