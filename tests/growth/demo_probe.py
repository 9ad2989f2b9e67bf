"""Run by the seed-demo tests in a process of its own (the app reads its database from the
environment): asks the API for the referral and revenue reports with an admin's token and
prints both as one JSON object. With `rollups`: the report cells as seed-demo left them and as a
rebuild makes them, as one JSON object."""

from __future__ import annotations

import json
import sys

from growth import auth
from growth.app import create_app
from growth.db import commit, db, utcnow


def rollup_cells() -> None:
    """The stored report cells, then the rebuilt ones (a rebuild at this moment)."""
    from sqlalchemy import select

    from growth import rollups
    from growth.rollup_models import ReportCell

    def cells() -> list[list[object]]:
        rows = db.session.execute(select(ReportCell).order_by(*ReportCell.__table__.primary_key.columns))
        return [[str(getattr(c, k)) for k in (*rollups.KEY_COLUMNS, "n")] for (c,) in rows]

    app = create_app()
    with app.app_context():
        stored = cells()
        rollups.rebuild(db.session, utcnow())
        rebuilt = cells()
        db.session.rollback()
    print(json.dumps({"stored": stored, "rebuilt": rebuilt}))


def main() -> None:
    app = create_app()
    with app.app_context():
        operator = auth.create_operator(
            db.session, "probe@fabrikam.example", "a long probe password", "admin"
        )
        token = auth.create_token(db.session, operator)
        commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    answers = {}
    for name in ("referrals", "revenue"):
        response = client.get(f"/api/v1/reports/{name}", headers=headers)
        assert response.status_code == 200, (name, response.status_code, response.get_data(as_text=True))
        answers[name] = response.get_json()
    print(json.dumps(answers))


if __name__ == "__main__":
    rollup_cells() if sys.argv[1:] == ["rollups"] else main()
