"""The content JSON API for creators: posts, send previews, sends and their progress."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, jsonify

from content import posts, send_control, sending, stats, subject_tests
from content import schemas as content_schemas
from content.segments import parse_segment, preview_post
from growth import schemas
from growth.auth import current_operator
from growth.db import commit, db, utcnow
from growth.errors import InvalidRequest
from growth.fields import single_line
from growth.openapi import spec

bp = Blueprint("content_api", __name__, url_prefix="/api/v1")
TAGS = ("content",)


def _when(value: str | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        if not single_line(value):
            raise ValueError(value)
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequest(f"{field} must be an ISO 8601 date-time", code="invalid_field") from exc
    if parsed.tzinfo is None:
        raise InvalidRequest(f"{field} needs a timezone (e.g. Z or +00:00)", code="invalid_field")
    return parsed.astimezone(dt.UTC)


def _post_input(data: dict[str, Any]) -> posts.PostInput:
    fields = {k: v for k, v in data.items() if k != "published_at"}
    return posts.PostInput(**fields, published_at=_when(data.get("published_at"), "published_at"))


def send_json(progress: send_control.Progress) -> dict[str, Any]:
    """The API shape of a send and its progress."""
    send = progress.send
    return {
        "id": send.id,
        "post_id": send.post_id,
        "segment": send.segment,
        "kind": send.kind,
        "state": send.state,
        "scheduled_at": send.scheduled_at.isoformat(),
        "started_at": send.started_at.isoformat() if send.started_at else None,
        "finished_at": send.finished_at.isoformat() if send.finished_at else None,
        "progress": progress.figures,
        "batches": progress.batches,
        "needs_attention": [
            {"number": b.number, "state": b.state, "size": b.size, "error": b.error}
            for b in progress.unknown_batches
        ],
        "subject_test": _test_json(send),
    }


def _test_json(send) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    test = subject_tests.test_of(db.session, send.id)
    if test is None:
        return None
    out = subject_tests.test_json(db.session, test)
    if test.started_at is None:  # before it goes: what its samples can tell apart
        out["outlook"] = subject_tests.outlook_for_send(db.session, send, test, utcnow())
    return out


@bp.get("/posts")
@spec.operation("/api/v1/posts", "get", summary="List posts", response="PostList", tags=TAGS)
def list_posts():  # type: ignore[no-untyped-def]
    """Every post, newest first."""
    return jsonify({"posts": [posts.post_json(p) for p in posts.list_posts(db.session)]})


@bp.post("/posts")
@spec.operation(
    "/api/v1/posts",
    "post",
    summary="Write a post",
    request="PostCreate",
    response="Post",
    status=201,
    errors=(400, 409, 422),
    tags=TAGS,
)
def create_post():  # type: ignore[no-untyped-def]
    """A new post (a draft unless status says otherwise)."""
    data = schemas.json_body(content_schemas.POST_CREATE)
    operator = current_operator()
    post = posts.create_post(db.session, _post_input(data), utcnow(), operator.id if operator else None)
    commit()
    return jsonify(posts.post_json(post)), 201


@bp.get("/posts/<id:post_id>")
@spec.operation(
    "/api/v1/posts/<id:post_id>",
    "get",
    summary="One post",
    response="Post",
    errors=(404,),
    tags=TAGS,
)
def get_post(post_id: int):  # type: ignore[no-untyped-def]
    """A post by id."""
    return jsonify(posts.post_json(posts.get_post(db.session, post_id)))


@bp.patch("/posts/<id:post_id>")
@spec.operation(
    "/api/v1/posts/<id:post_id>",
    "patch",
    summary="Change a post",
    request="PostUpdate",
    response="Post",
    errors=(400, 404, 409, 422),
    tags=TAGS,
)
def update_post(post_id: int):  # type: ignore[no-untyped-def]
    """Change some fields of a post (publishing is status=published)."""
    data = schemas.json_body(content_schemas.POST_UPDATE)
    post = posts.update_post(db.session, posts.get_post(db.session, post_id), _post_input(data), utcnow())
    commit()
    return jsonify(posts.post_json(post))


@bp.post("/posts/<id:post_id>/send-preview")
@spec.operation(
    "/api/v1/posts/<id:post_id>/send-preview",
    "post",
    summary="Who a send would reach, and who it would skip",
    request="SegmentRequest",
    response="SendPreview",
    errors=(400, 404, 422),
    tags=TAGS,
)
def send_preview(post_id: int):  # type: ignore[no-untyped-def]
    """'4,210 will receive, 380 skipped: not yet nurtured', before anything is sent."""
    data = schemas.json_body(content_schemas.SEGMENT_REQUEST)
    post = posts.get_post(db.session, post_id)
    segment = parse_segment(data.get("segment") or "all")
    config = current_app.config["MASTHEAD"]
    result = preview_post(db.session, post, segment, utcnow(), config)
    return jsonify(
        {
            "segment": str(segment),
            "will_receive": result.will_receive,
            "skipped": result.skipped,
            "summary": result.sentence,
        }
    )


@bp.post("/posts/<id:post_id>/sends")
@spec.operation(
    "/api/v1/posts/<id:post_id>/sends",
    "post",
    summary="Send a post to a segment, now or later",
    request="SendCreate",
    response="Send",
    status=202,
    errors=(400, 404, 422),
    tags=TAGS,
)
def create_send(post_id: int):  # type: ignore[no-untyped-def]
    """Queue a send; recipients are resolved when it runs."""
    data = schemas.json_body(content_schemas.SEND_CREATE)
    operator = current_operator()
    options = data.get("test") or {}
    plan = None
    if data.get("subjects") is not None:
        plan = subject_tests.parse_plan(
            data["subjects"], options.get("share"), options.get("metric"), options.get("wait_minutes")
        )
    elif options:
        raise InvalidRequest("test settings need subjects to test", code="invalid_subjects")
    send = sending.create_send(
        db.session,
        posts.get_post(db.session, post_id),
        data.get("segment") or "all",
        utcnow(),
        scheduled_at=_when(data.get("scheduled_at"), "scheduled_at"),
        operator_id=operator.id if operator else None,
        test=plan,
    )
    commit()
    return jsonify(send_json(send_control.progress(db.session, sending.get_send(db.session, send.id)))), 202


@bp.post("/posts/<id:post_id>/test-send")
@spec.operation(
    "/api/v1/posts/<id:post_id>/test-send",
    "post",
    summary="Send the post to one address now",
    request="TestSendRequest",
    response="TestSendDone",
    errors=(400, 404, 409, 422),
    tags=TAGS,
)
def test_send(post_id: int):  # type: ignore[no-untyped-def]
    """A proof to one address; no delivery row, no list headers of a real subscriber's."""
    data = schemas.json_body(content_schemas.TEST_SEND)
    send_control.send_test_email(db.session, posts.get_post(db.session, post_id), data["email"])
    return jsonify({"status": "sent", "to": data["email"]})


@bp.get("/sends/<id:send_id>")
@spec.operation(
    "/api/v1/sends/<id:send_id>",
    "get",
    summary="A send and its progress",
    response="Send",
    errors=(404,),
    tags=TAGS,
)
def get_send(send_id: int):  # type: ignore[no-untyped-def]
    """Sent / total / failed / unknown, skipped by reason, batches needing an operator."""
    return jsonify(send_json(send_control.progress(db.session, sending.get_send(db.session, send_id))))


@bp.post("/sends/<id:send_id>/decide")
@spec.operation(
    "/api/v1/sends/<id:send_id>/decide",
    "post",
    summary="End a subject test's wait: judge it now and send the rest",
    response="Send",
    errors=(404, 409),
    tags=TAGS,
)
def decide_send(send_id: int):  # type: ignore[no-untyped-def]
    """The same rule as at the set time, read now."""
    send = sending.get_send(db.session, send_id)
    subject_tests.decide_now(db.session, send, utcnow())
    commit()
    return jsonify(send_json(send_control.progress(db.session, sending.get_send(db.session, send_id))))


@bp.post("/sends/<id:send_id>/cancel")
@spec.operation(
    "/api/v1/sends/<id:send_id>/cancel",
    "post",
    summary="Cancel a scheduled send",
    response="Send",
    errors=(404, 409),
    tags=TAGS,
)
def cancel_send(send_id: int):  # type: ignore[no-untyped-def]
    """Only before it starts."""
    send = sending.get_send(db.session, send_id)
    sending.cancel_send(db.session, send)
    commit()
    return jsonify(send_json(send_control.progress(db.session, send)))


@bp.post("/sends/<id:send_id>/batches/<id:number>/resend")
@spec.operation(
    "/api/v1/sends/<id:send_id>/batches/<id:number>/resend",
    "post",
    summary="Resend a batch whose outcome is unknown (or that failed): the operator's call",
    response="Send",
    status=202,
    errors=(404, 409),
    tags=TAGS,
)
def resend_batch(send_id: int, number: int):  # type: ignore[no-untyped-def]
    """Its recipients may get the post twice if the first request did go out."""
    batch = send_control.get_batch(db.session, send_id, number)
    send_control.resend_batch(db.session, batch, utcnow())
    commit()
    return jsonify(send_json(send_control.progress(db.session, sending.get_send(db.session, send_id)))), 202


@bp.post("/sends/<id:send_id>/send-to-skipped")
@spec.operation(
    "/api/v1/sends/<id:send_id>/send-to-skipped",
    "post",
    summary="Send to skipped recipients who are now allowed (nurtured, out of cooldown)",
    response="Requeued",
    status=202,
    errors=(404, 409),
    tags=TAGS,
)
def send_to_skipped(send_id: int):  # type: ignore[no-untyped-def]
    """Re-checks each skipped recipient against the pitch rules now."""
    count = send_control.send_to_skipped(db.session, sending.get_send(db.session, send_id), utcnow())
    commit()
    return jsonify({"requeued": count}), 202


@bp.get("/subscribers/<id:subscriber_id>/value-to-pitch")
@spec.operation(
    "/api/v1/subscribers/<id:subscriber_id>/value-to-pitch",
    "get",
    summary="Value emails and pitches a subscriber received",
    response="ValueToPitch",
    errors=(404,),
    tags=TAGS,
)
def value_to_pitch(subscriber_id: int):  # type: ignore[no-untyped-def]
    """The ratio the pitch rules keep high."""
    return jsonify(stats.subscriber_ratio(db.session, subscriber_id))
