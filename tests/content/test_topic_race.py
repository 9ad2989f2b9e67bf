"""Writers adding the same new topic at once: one topic, every post carries it, no 500 (PostgreSQL).

Each request commits for real, so the test commits rows and deletes them afterwards.
"""

from __future__ import annotations

import threading
import uuid

import pytest
from flask import Flask
from sqlalchemy import delete, select

from content.models import Post, Topic
from growth import auth
from growth.db import db
from growth.models import Operator
from tests.conftest import USING_POSTGRES

pytestmark = pytest.mark.skipif(not USING_POSTGRES, reason="races need PostgreSQL's real concurrency")
WRITERS = 8


def test_one_topic_for_writers_racing_to_add_it(app: Flask) -> None:
    name = f"Race {uuid.uuid4().hex[:8]}"
    with app.app_context():
        operator = auth.create_operator(
            db.session, f"race-{uuid.uuid4().hex[:6]}@example.com", "a-long-password", "creator"
        )
        token = auth.create_token(db.session, operator)
        db.session.commit()
        operator_id = operator.id
    barrier = threading.Barrier(WRITERS)
    codes: list[int] = []
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            client = app.test_client()
            barrier.wait()
            answer = client.post(
                "/api/v1/posts",
                json={"title": f"{name} post {i}", "topics": [name]},
                headers={"Authorization": f"Bearer {token}"},
            )
            codes.append(answer.status_code)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert not errors, errors
        assert codes == [201] * WRITERS
        with app.app_context():
            topics = list(db.session.scalars(select(Topic).where(Topic.name == name)))
            assert len(topics) == 1
            written = list(db.session.scalars(select(Post).where(Post.title.like(f"{name} post %"))))
            assert len(written) == WRITERS and all(p.topics == topics for p in written)
    finally:
        with app.app_context():
            db.session.execute(delete(Post).where(Post.title.like(f"{name} post %")))
            db.session.execute(delete(Topic).where(Topic.name == name))
            db.session.execute(delete(Operator).where(Operator.id == operator_id))
            db.session.commit()


def test_the_second_writer_uses_the_topic_the_first_committed(app: Flask) -> None:
    """The exact interleaving: B looks (nothing yet), A inserts, B inserts and waits, A commits."""
    from sqlalchemy.orm import Session

    from content import topics

    name = f"Interleaved {uuid.uuid4().hex[:8]}"
    slug = topics.topic_slug(name)
    engine = db.engine
    assert engine is not None
    result: list[object] = []
    with Session(engine) as first, Session(engine) as second:
        assert second.scalars(select(Topic).where(Topic.slug == slug)).first() is None
        first.add(Topic(slug=slug, name=name))
        first.flush()  # A's row exists, uncommitted: B's insert will wait on the unique index

        def b() -> None:
            try:
                result.append(topics.get_or_create_topic(second, name).id)
                second.commit()
            except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion
                result.append(exc)

        thread = threading.Thread(target=b)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()  # B is blocked behind A's uncommitted row
        first.commit()
        thread.join(30)
        try:
            winner = first.scalars(select(Topic.id).where(Topic.slug == slug)).one()
            assert result == [winner]
        finally:
            first.execute(delete(Topic).where(Topic.slug == slug))
            first.commit()
