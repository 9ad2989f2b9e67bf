"""Run by the seed-demo tests in a process of its own (the app reads its database from the
environment): asks the API for the referral and revenue reports with an admin's token and
prints both as one JSON object."""

from __future__ import annotations

import json

from growth import auth
from growth.app import create_app
from growth.db import commit, db


def main() -> None:
    app = create_app()
    with app.app_context():
        operator = auth.create_operator(db.session, "probe@fabrikam.com", "a long probe password", "admin")
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
    main()
