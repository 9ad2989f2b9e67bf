"""growth.db.ids_in: IN on SQLite, one array parameter on PostgreSQL, the same rows on both."""

from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from growth.db import ids_in
from growth.models import Subscriber


def _people(session, n):  # type: ignore[no-untyped-def]
    session.execute(
        insert(Subscriber),
        [
            {
                "email": f"ids{i}@example.com",
                "email_normalized": f"ids{i}@example.com",
                "referral_code": f"ids{i}",
            }
            for i in range(n)
        ],
    )
    return list(
        session.scalars(select(Subscriber.id).where(Subscriber.email.like("ids%")).order_by(Subscriber.id))
    )


def test_compiles_to_any_on_postgresql_and_in_elsewhere():
    query = select(Subscriber.id).where(ids_in(Subscriber.id, [3, 1, 2]))
    assert "subscribers.id = ANY (%(param_1)s::INTEGER[])" in str(query.compile(dialect=postgresql.dialect()))
    rendered = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    assert "subscribers.id IN (3, 1, 2)" in rendered
    assert "= 1" not in rendered  # no boolean coercion around the comparison


def test_selects_and_updates_exactly_the_listed_rows(session):
    ids = _people(session, 1500)
    wanted = ids[::3] + [max(ids) + 10_000]  # one id that matches nothing
    found = session.scalars(select(Subscriber.id).where(ids_in(Subscriber.id, wanted))).all()
    assert sorted(found) == ids[::3]
    session.execute(
        update(Subscriber).where(ids_in(Subscriber.id, ids[:10])).values(name="ten"),
        execution_options={"synchronize_session": False},
    )
    named = session.scalars(select(Subscriber.id).where(Subscriber.name == "ten")).all()
    assert sorted(named) == ids[:10]


def test_the_column_table_is_in_from_when_nothing_else_names_it(session):
    ids = _people(session, 4)
    count = session.scalar(select(func.count()).where(ids_in(Subscriber.id, ids[:2])))
    assert count == 2


def test_an_empty_list_matches_nothing(session):
    _people(session, 3)
    assert session.scalars(select(Subscriber.id).where(ids_in(Subscriber.id, []))).all() == []
