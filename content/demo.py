"""Content's part of seed-demo: a weekly issue, published and sent through the content services.

Value issues go to everyone; every fourth issue is a pitch (the send's own rules skip readers
who are not yet nurtured or were pitched lately), and some issues are for paying readers (the
others get the teaser edition). Sends run as they do in the app: planned in batches, each batch
delivered by its job (in process here, to the simulated mail backend).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from content import posts, sending
from content.models import Post, Send
from growth.db import commit
from growth.demo import DemoContributor, DemoWorld

TOPICS = (
    "What a year of reader mail taught us",
    "The quiet economics of local news",
    "How small teams verify a story",
    "Notes from the city council budget",
    "A field guide to public records requests",
    "Why we stopped chasing clicks",
    "Three charts on the housing market",
    "Inside a community fact-check",
    "What readers asked us this month",
    "The archive: ten years of the river story",
    "Interview: running a newsroom of four",
    "The week in transit, explained",
)
ISSUE_HOUR = 7  # before readers arrive: the day's new readers get the next issue


class ContentDemo(DemoContributor):
    """Publishes and sends one issue a week (every fifth day on the small calendar)."""

    name = "content"

    def __init__(self, world: DemoWorld):
        self.world = world
        self.rng = world.rng("content")
        self.issues = 0

    def _is_issue_day(self, day: dt.datetime) -> bool:
        return (day - self.world.start).days % (5 if self.world.small else 7) == 4

    def morning(self, session: Session, day: dt.datetime) -> None:
        """On issue days: write the post, publish it, send it to the whole list."""
        if not self._is_issue_day(day):
            return
        self.issues += 1
        number = self.issues
        when = self.world.at(day + dt.timedelta(hours=ISSUE_HOUR, minutes=self.rng.randint(0, 45)))
        pitch = number % 4 == 0
        paid = not pitch and number % 5 == 0
        topic = TOPICS[(number - 1) % len(TOPICS)]
        title = f"Become a member: {topic.lower()}" if pitch else f"Issue {number}: {topic}"
        body = (
            f"# {topic}\n\nThis week we look at {topic.lower()}.\n\n"
            f"[Read the background]({self.world.base_url}/) and "
            "[the sources](https://en.wikipedia.org/wiki/Newsletter).\n"
        )
        if pitch:
            body += "\nMembers keep this work going: upgrade from your reader page.\n"
        post = posts.create_post(
            session,
            posts.PostInput(
                title=title,
                excerpt=f"This week: {topic.lower()}.",
                preview_text=topic,
                body_markdown=body,
                kind="pitch" if pitch else "value",
                audience="paid" if paid else "public",
                status="published",
                published_at=when,
            ),
            when,
        )
        sending.create_send(session, post, "all", when)
        commit()  # the send's run and its batches' jobs run right after, in process

    def summary(self, session: Session) -> dict[str, Any]:
        """Posts and sends made."""
        return {
            "posts": session.scalar(select(func.count()).select_from(Post)) or 0,
            "sends": session.scalar(select(func.count()).select_from(Send)) or 0,
        }
