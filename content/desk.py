"""The writing desk: live previews of the web page and the email, and image uploads.

The previews are documents of their own, loaded into the editor's frames by submitting the
editor's form to them (a plain form target: no inline script). Each is rendered by the very
function readers and recipients get theirs from, so what the writer sees is what is sent.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from markupsafe import escape

from content import images, posts, send_control
from content.admin import post_input
from content.image_store import current_store
from content.views import post_page_html
from growth import links, security
from growth.auth import current_operator
from growth.db import commit, db, utcnow
from growth.errors import DomainError, ValidationFailed
from growth.params import query_int

bp = Blueprint("content_desk", __name__, url_prefix="/admin")
UPLOAD_OVERHEAD = 64 * 1024  # the multipart envelope and the alt text around the file


def _draft() -> posts.Post:
    post_id = query_int(request.form, "post_id", None)
    base = posts.get_post(db.session, post_id) if post_id else None
    return posts.draft_post(db.session, post_input(), base, utcnow())


def _frame(html: str):  # type: ignore[no-untyped-def]
    """A preview document: framed by our own pages only, never cached, never indexed."""
    security.allow_framing_by(["'self'"])
    response = current_app.response_class(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _problem(exc: DomainError):  # type: ignore[no-untyped-def]
    db.session.rollback()
    return _frame(f'<!doctype html><p role="alert">{escape(exc.message)}</p>'), exc.status


@bp.post("/posts/preview/web")
def preview_web():  # type: ignore[no-untyped-def]
    """The post's web page as readers will see it (`as=teaser`: readers without access)."""
    try:
        post = _draft()
    except DomainError as exc:
        return _problem(exc)
    teaser = request.form.get("as") == "teaser"
    html = post_page_html(post, full=not teaser)
    db.session.rollback()  # nothing of a preview is kept
    return _frame(html)


@bp.post("/posts/preview/email")
def preview_email():  # type: ignore[no-untyped-def]
    """The email as a recipient will get it (`as=teaser`: the edition for readers without access)."""
    try:
        post = _draft()
    except DomainError as exc:
        return _problem(exc)
    message = send_control.preview_message(post, post.newsletter, teaser=request.form.get("as") == "teaser")
    db.session.rollback()
    html = message.html or ""
    # The email's inline styles are allowed for this document alone, by their hashes.
    security.allow_inline_code_of(html)
    return _frame(html)


@bp.post("/images")
def upload_image():  # type: ignore[no-untyped-def]
    """Upload an image with its alt text; answers its URL and the Markdown that shows it."""
    config = current_app.config["MASTHEAD"]
    request.max_content_length = config.image_max_bytes + UPLOAD_OVERHEAD
    try:
        upload = request.files.get("image")
        post_id = query_int(request.form, "post_id", None)
        if post_id is not None:
            posts.get_post(db.session, post_id)
        if upload is None:
            raise ValidationFailed("choose an image to upload", code="missing_image")
        operator = current_operator()
        image = images.store_image(
            db.session,
            current_store(),
            upload.read(config.image_max_bytes + 1),
            request.form.get("alt", ""),
            config.image_max_bytes,
            config.image_max_pixels,
            post_id=post_id,
            operator_id=operator.id if operator else None,
        )
    except DomainError as exc:
        db.session.rollback()
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), exc.status
    commit()
    url = links.absolute(images.image_path(image))
    alt = image.alt.replace("[", "(").replace("]", ")")
    return jsonify(
        {
            "id": image.id,
            "url": url,
            "width": image.width,
            "height": image.height,
            "markdown": f"![{alt}]({url})",
        }
    ), 201
