"""Masthead's core: app factory, config, database, subscribers and funnel, email, reports."""

from growth.app import create_app

__all__ = ["create_app"]
