"""The newsletters in the JSON API: list, create, change, archive, restore (admins)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from growth import newsletters, schemas
from growth.db import commit, db, utcnow
from growth.openapi import spec

bp = Blueprint("newsletter_api", __name__, url_prefix="/api/v1")
TAGS = ("newsletters",)
_PATH = "/api/v1/newsletters/<id:newsletter_id>"


@bp.get("/newsletters")
@spec.operation(
    "/api/v1/newsletters",
    "get",
    summary="Every newsletter (archived too)",
    response="NewsletterList",
    tags=TAGS,
)
def list_newsletters():  # type: ignore[no-untyped-def]
    """Every newsletter with its active and pending members."""
    figures = newsletters.all_newsletters(db.session)
    commit()  # the default newsletter, created on first use
    return jsonify(
        {
            "newsletters": [
                {**newsletters.newsletter_json(f.newsletter), "active": f.active, "pending": f.pending}
                for f in figures
            ]
        }
    )


@bp.post("/newsletters")
@spec.operation(
    "/api/v1/newsletters",
    "post",
    summary="Create a newsletter (offered at signup at once)",
    request="NewsletterCreate",
    response="Newsletter",
    status=201,
    errors=(400, 409, 422),
    tags=TAGS,
)
def create_newsletter():  # type: ignore[no-untyped-def]
    """A new newsletter; the slug is made from the name unless given."""
    data = schemas.json_body(schemas.NEWSLETTER_CREATE)
    newsletter = newsletters.create_newsletter(db.session, data, utcnow())
    commit()
    return jsonify(newsletters.newsletter_json(newsletter)), 201


@bp.get("/newsletters/<id:newsletter_id>")
@spec.operation(_PATH, "get", summary="One newsletter", response="Newsletter", errors=(404,), tags=TAGS)
def get_newsletter(newsletter_id: int):  # type: ignore[no-untyped-def]
    """A newsletter by id."""
    return jsonify(newsletters.newsletter_json(newsletters.get_newsletter(db.session, newsletter_id)))


@bp.patch("/newsletters/<id:newsletter_id>")
@spec.operation(
    _PATH,
    "patch",
    summary="Rename, describe, set the sender name or reply-to (null clears them)",
    request="NewsletterUpdate",
    response="Newsletter",
    errors=(400, 404, 422),
    tags=TAGS,
)
def update_newsletter(newsletter_id: int):  # type: ignore[no-untyped-def]
    """Change what is given; the slug never changes (links carry it)."""
    data = schemas.json_body(schemas.NEWSLETTER_UPDATE)
    newsletter = newsletters.get_newsletter(db.session, newsletter_id)
    newsletters.update_newsletter(db.session, newsletter, data)
    commit()
    return jsonify(newsletters.newsletter_json(newsletter))


@bp.post("/newsletters/<id:newsletter_id>/archive")
@spec.operation(
    f"{_PATH}/archive",
    "post",
    summary="Archive: offered to nobody from now on (the default newsletter cannot be)",
    response="Newsletter",
    errors=(404, 409),
    tags=TAGS,
)
def archive_newsletter(newsletter_id: int):  # type: ignore[no-untyped-def]
    """Idempotent: archiving an archived newsletter changes nothing."""
    newsletter = newsletters.get_newsletter(db.session, newsletter_id)
    newsletters.archive_newsletter(db.session, newsletter, utcnow())
    commit()
    return jsonify(newsletters.newsletter_json(newsletter))


@bp.post("/newsletters/<id:newsletter_id>/restore")
@spec.operation(
    f"{_PATH}/restore",
    "post",
    summary="Offer an archived newsletter again",
    response="Newsletter",
    errors=(404,),
    tags=TAGS,
)
def restore_newsletter(newsletter_id: int):  # type: ignore[no-untyped-def]
    """Idempotent."""
    newsletter = newsletters.get_newsletter(db.session, newsletter_id)
    newsletters.restore_newsletter(db.session, newsletter)
    commit()
    return jsonify(newsletters.newsletter_json(newsletter))
