"""Branding lives in the database: seeded from PUBLICATION_* once, edited in the admin, used at once."""

from __future__ import annotations

import re

import pytest
from flask import g

from growth import auth, branding
from growth.app import create_app
from growth.db import db, utcnow
from growth.errors import ValidationFailed
from growth.models import PublicationSettings
from tests.conftest import make_config
from tests.growth.helpers import login_as, messages, signup


def _csrf(client, path: str = "/admin/branding") -> str:  # type: ignore[no-untyped-def]
    g.pop("csrf_token", None)  # flask-wtf caches it in g, which the test's app context keeps
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


@pytest.fixture
def admin(session):  # type: ignore[no-untyped-def]
    operator = auth.create_operator(session, "boss@example.com", "long enough pw", "admin")
    session.commit()
    return operator


FORM = {
    "name": "The Harbour Post",
    "logo_url": "https://example.com/logo.png",
    "brand_color": "#1D4ED8",
    "postal_address": "1 Quay Street, Harbour Town",
    "default_sender": "Harbour Desk <desk@harbour.example>",
    "timezone": "Europe/Paris",
}


def test_without_a_row_the_environment_is_used_and_seed_stores_it_once(app, session):
    config = app.config["MASTHEAD"]
    assert session.get(PublicationSettings, 1) is None
    assert branding.load(session) == branding.from_config(config)
    assert branding.seed(session, config, utcnow()) is True
    assert branding.seed(session, config.replace(publication_name="Other"), utcnow()) is False
    assert branding.load(session).name == config.publication_name  # the database wins from now on


def test_db_upgrade_seeds_the_branding_from_the_environment(tmp_path):
    saved = (db.engine, db.session_factory)  # the suite's database, given back at the end
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    try:
        config = make_config(url, tmp_path / "instance", redis_url=None)
        first = create_app(
            config.replace(publication_name="Seeded Weekly", publication_address="2 Mill Lane")
        )
        result = first.test_cli_runner().invoke(args=["db-upgrade"])
        assert result.exit_code == 0, result.output
        assert "branding stored" in result.output
        # The next run has other values in its environment: the stored row wins.
        second = create_app(config.replace(publication_name="Renamed In Env"))
        again = second.test_cli_runner().invoke(args=["db-upgrade"])
        assert again.exit_code == 0 and "branding stored" not in again.output
        with second.app_context():
            stored = branding.load(db.session)
        assert (stored.name, stored.postal_address) == ("Seeded Weekly", "2 Mill Lane")
    finally:
        db.engine, db.session_factory = saved


def test_an_edit_is_used_by_the_next_page_and_the_next_email(client, session, admin, outbox):
    login_as(client, admin)
    warned = client.get("/admin/")
    assert "no postal address" in warned.get_data(as_text=True)
    saved = client.post("/admin/branding", data={**FORM, "csrf_token": _csrf(client)})
    assert saved.status_code == 302
    page = client.get("/subscribe").get_data(as_text=True)
    assert "Subscribe to The Harbour Post" in page
    assert "no postal address" not in client.get("/admin/").get_data(as_text=True)
    assert signup(client, "reader@example.com").status_code == 202
    [confirmation] = messages(outbox, "confirmation")
    assert confirmation["From"] == "Harbour Desk <desk@harbour.example>"
    assert branding.current().timezone == "Europe/Paris"
    assert branding.current().brand_color == "#1d4ed8"


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("brand_color", "red; background:url(x)", "colour"),
        ("logo_url", "javascript:alert(1)", "logo URL"),
        ("timezone", "Mars/Olympus", "time zone"),
        ("default_sender", "not an address", "default sender"),
        ("name", "", "publication name"),
        ("name", "Two\nlines", "publication name"),
    ],
)
def test_bad_branding_is_refused_with_a_422_and_nothing_changes(client, session, admin, field, value, needle):
    login_as(client, admin)
    response = client.post("/admin/branding", data={**FORM, field: value, "csrf_token": _csrf(client)})
    assert response.status_code == 422
    assert needle in response.get_data(as_text=True)
    assert session.get(PublicationSettings, 1) is None


def test_a_save_keeps_the_seeded_sender_address_even_if_the_validator_would_refuse_it(session):
    assert branding.current().sender_address == "newsletter@localhost"  # MAIL_FROM's default
    saved = branding.update(
        session, {"name": "Renamed", "default_sender": "The Desk <newsletter@localhost>"}, utcnow()
    )
    assert (saved.name, saved.default_sender) == ("Renamed", "The Desk <newsletter@localhost>")
    with pytest.raises(ValidationFailed):
        branding.update(session, {"default_sender": "other@localhost"}, utcnow())


def test_post_emails_carry_the_stored_footer_and_colour(app, session):
    from content import composer, posts

    branding.update(session, FORM, utcnow())
    session.commit()
    post = posts.create_post(
        session, posts.PostInput(title="Hello", excerpt="", body_markdown="Body.", status="draft"), utcnow()
    )
    with app.test_request_context("/"):
        rendered = composer.render_post_email(post, None)
        assert composer.from_address(None) == "Harbour Desk <desk@harbour.example>"
    assert "1 Quay Street, Harbour Town" in rendered.html
    assert "#1d4ed8" in rendered.html
    assert 'width="600"' not in rendered.html and "max-width:600px" in rendered.html  # fluid


def test_only_admins_open_the_branding_page(client, session):
    creator = auth.create_operator(session, "writer@example.com", "long enough pw", "creator")
    session.commit()
    login_as(client, creator)
    assert client.get("/admin/branding").status_code == 403
