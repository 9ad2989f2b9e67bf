"""Warnings the admin pages show at the top, offered by the domains (the core imports none).

A domain registers a provider in its init_app; admin/base.html asks every provider when it
renders and shows each (text, link) it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

Notice = tuple[str, str]  # (text, the page that explains it)
NoticeProvider = Callable[[Session], list[Notice]]
_providers: list[NoticeProvider] = []


def register_admin_notice(provider: NoticeProvider) -> None:
    """Show what `provider` returns on every admin page."""
    if provider not in _providers:
        _providers.append(provider)


def admin_notices(session: Session) -> list[Notice]:
    """Every provider's notices; a failing provider is logged and shows nothing."""
    notices: list[Notice] = []
    for provider in _providers:
        try:
            notices.extend(provider(session))
        except Exception:  # a banner must never break the page under it
            log.exception("admin notice provider %s failed", getattr(provider, "__name__", provider))
    return notices
