"""Custom fields: what operators ask readers (text, number, choice, date), defined once, checked everywhere.

Every path that fills a field (the signup form and API, the CSV import, the reader's page, the
operator API, polls) goes through `clean_values`, so a value is stored in one canonical text form:
text as given (one line, at most 500 characters), a number as a plain decimal (``"12"``,
``"-0.5"``: at most 15 digits before the point and 6 after), a date as ``YYYY-MM-DD``, a choice
as the defined spelling of one of its choices (matched without regard to case). A blank value
clears the field. Public paths may only fill the fields offered there: the signup form and API
those marked `on_signup`, the reader's page those marked `reader_editable`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from growth.errors import Conflict, NotFound, ValidationFailed
from growth.fields import Rule, column_length, single_line
from growth.models import CustomField, FieldKind, FieldValue

NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Columns of the CSV import and words of segments: a field may not be named like one.
RESERVED = frozenset(
    {"email", "name", "source", "utm_source", "utm_medium", "utm_campaign", "status", "stage"}
)
VALUE_LENGTH = column_length(FieldValue.value)
LABEL = Rule.of(CustomField.label, "label", min_length=1)
CHOICE = Rule("choice", 100, min_length=1)
MAX_CHOICES = 50
MAX_FIELDS = 100
_NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,6})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
SOURCES = ("signup", "api", "import", "reader", "poll", "admin")
SIGNUP, READER = "signup", "reader"


def clean_value(field: CustomField, raw: object) -> str | None:
    """The canonical text of `raw` for this field, None for blank; ValidationFailed names the field."""
    label = f"field {field.name}"
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ValidationFailed(f"{label} must be text", code="invalid_field")
    text = raw if isinstance(raw, str) else repr(raw)
    text = Rule(label, VALUE_LENGTH).clean(text)
    if not text:
        return None
    if field.kind == FieldKind.NUMBER:
        if not _NUMBER.fullmatch(text):
            raise ValidationFailed(
                f"{label} must be a number like 12 or -0.5 (at most 6 decimals)", code="invalid_field"
            )
        try:
            number = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
            raise ValidationFailed(f"{label} must be a number", code="invalid_field") from exc
        canonical = format(number.normalize(), "f")
        return "0" if canonical in ("-0", "0") else canonical
    if field.kind == FieldKind.DATE:
        try:
            if not _DATE.fullmatch(text):
                raise ValueError(text)
            return dt.date.fromisoformat(text).isoformat()
        except ValueError as exc:
            raise ValidationFailed(f"{label} must be a date, YYYY-MM-DD", code="invalid_field") from exc
    if field.kind == FieldKind.CHOICE:
        for choice in field.choices:
            if choice.casefold() == text.casefold():
                return choice
        raise ValidationFailed(f"{label} must be one of: {', '.join(field.choices)}", code="invalid_field")
    return text


def active_fields(session: Session) -> list[CustomField]:
    """The fields in use (not archived), by name."""
    return list(
        session.scalars(
            select(CustomField).where(CustomField.archived_at.is_(None)).order_by(CustomField.name)
        )
    )


def all_fields(session: Session) -> list[CustomField]:
    """Every field, archived ones too, by name."""
    return list(session.scalars(select(CustomField).order_by(CustomField.name)))


def get_field(session: Session, field_id: int) -> CustomField:
    field = session.get(CustomField, field_id)
    if field is None:
        raise NotFound("No such field.", code="field_not_found")
    return field


def field_named(session: Session, name: str) -> CustomField | None:
    """The active field of that name, or None."""
    return session.scalars(
        select(CustomField).where(CustomField.name == name, CustomField.archived_at.is_(None))
    ).first()


def clean_values(
    session: Session,
    raw: Mapping[str, object] | None,
    path: str = "api",
    by_name: Mapping[str, CustomField] | None = None,
) -> dict[int, str | None]:
    """{field id: canonical value or None} of `raw` ({name: value}); refuses unknown or closed fields.

    `path`: "signup" admits only `on_signup` fields, "reader" only `reader_editable` ones; the
    operator's paths (api, import, admin) any active field. `by_name`: the active fields, when
    the caller checks many rows.
    """
    if not raw:
        return {}
    if not isinstance(raw, Mapping):
        raise ValidationFailed("fields must be an object of field names and values", code="invalid_field")
    if len(raw) > MAX_FIELDS:
        raise ValidationFailed(f"at most {MAX_FIELDS} fields", code="invalid_field")
    if by_name is None:
        by_name = {f.name: f for f in active_fields(session)}
    out: dict[int, str | None] = {}
    for name, value in raw.items():
        field = by_name.get(str(name))
        offered = field is not None and (
            (path != SIGNUP or field.on_signup) and (path != READER or field.reader_editable)
        )
        if field is None or not offered:
            shown = str(name)[:40] if single_line(str(name)) else "?"
            raise ValidationFailed(f"no field named {shown!r} here", code="unknown_field")
        out[field.id] = clean_value(field, value)
    return out


def set_values(
    session: Session, subscriber_id: int, values: Mapping[int, str | None], source: str, now: dt.datetime
) -> None:
    """Store cleaned values (None clears); the unique (subscriber, field) makes a racing write replace.

    Each value set is announced (`signals.field_value_set`: sequences triggered by it start).
    """
    from growth import signals

    names = dict(
        session.execute(
            select(CustomField.id, CustomField.name).where(CustomField.id.in_(list(values)))
        ).all()
    )
    for field_id, value in values.items():
        if value is None:
            session.execute(
                delete(FieldValue).where(
                    FieldValue.subscriber_id == subscriber_id, FieldValue.field_id == field_id
                )
            )
            continue
        changed = session.execute(
            update(FieldValue)
            .where(FieldValue.subscriber_id == subscriber_id, FieldValue.field_id == field_id)
            .values(value=value, source=source, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if changed:
            continue
        try:
            with session.begin_nested():
                session.add(
                    FieldValue(
                        subscriber_id=subscriber_id,
                        field_id=field_id,
                        value=value,
                        source=source,
                        updated_at=now,
                    )
                )
        except IntegrityError:  # another request inserted it first: ours is the later write
            session.execute(
                update(FieldValue)
                .where(FieldValue.subscriber_id == subscriber_id, FieldValue.field_id == field_id)
                .values(value=value, source=source, updated_at=now)
                .execution_options(synchronize_session=False)
            )
    session.flush()
    for field_id, value in values.items():
        if value is not None and field_id in names:
            signals.field_value_set.send(
                subscriber_id, session=session, name=names[field_id], value=value, source=source, now=now
            )


def values_of(session: Session, subscriber_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """{subscriber id: {field name: value}} of the active fields."""
    ids = list(subscriber_ids)
    out: dict[int, dict[str, str]] = {sid: {} for sid in ids}
    if not ids:
        return out
    from growth.db import ids_in

    rows = session.execute(
        select(FieldValue.subscriber_id, CustomField.name, FieldValue.value)
        .join(CustomField, CustomField.id == FieldValue.field_id)
        .where(ids_in(FieldValue.subscriber_id, ids), CustomField.archived_at.is_(None))
        .order_by(CustomField.name)
    )
    for sid, name, value in rows:
        out[sid][name] = value
    return out


@dataclass(frozen=True)
class FieldInput:
    """A field definition as the admin form or the API gives it."""

    name: str
    label: str
    kind: str
    choices: tuple[str, ...] = ()
    on_signup: bool = False
    reader_editable: bool = False


def _clean_choices(kind: str, choices: Iterable[object]) -> list[str]:
    cleaned: list[str] = []
    for choice in choices:
        text = CHOICE.clean(choice)
        if text.casefold() in {c.casefold() for c in cleaned}:
            raise ValidationFailed(f"choice {text!r} is given twice", code="invalid_field")
        cleaned.append(text)
    if kind == FieldKind.CHOICE and not 1 <= len(cleaned) <= MAX_CHOICES:
        raise ValidationFailed(f"a choice field needs 1 to {MAX_CHOICES} choices", code="invalid_field")
    if kind != FieldKind.CHOICE and cleaned:
        raise ValidationFailed("only a choice field has choices", code="invalid_field")
    return cleaned


def define_field(session: Session, data: FieldInput, now: dt.datetime) -> CustomField:
    """A new field; its name is unique for good (a racing twin answers 409)."""
    name = data.name.strip() if isinstance(data.name, str) else ""
    if not NAME.fullmatch(name) or name in RESERVED:
        raise ValidationFailed(
            "name must be lower-case letters, digits and _ (a letter first, at most 40), and not "
            + ", ".join(sorted(RESERVED)),
            code="invalid_field",
        )
    if data.kind not in set(FieldKind):
        raise ValidationFailed("kind must be text, number, choice or date", code="invalid_field")
    field = CustomField(
        name=name,
        label=LABEL.clean(data.label),
        kind=data.kind,
        choices=_clean_choices(data.kind, data.choices),
        on_signup=bool(data.on_signup),
        reader_editable=bool(data.reader_editable),
        created_at=now,
    )
    if session.scalar(select(CustomField.id).where(CustomField.name == name)) is not None:
        raise Conflict(f"a field named {name!r} exists", code="field_exists")
    try:
        with session.begin_nested():
            session.add(field)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a field named {name!r} exists", code="field_exists") from exc
    return field


def update_field(
    session: Session,
    field: CustomField,
    *,
    label: str | None = None,
    choices: Iterable[object] | None = None,
    on_signup: bool | None = None,
    reader_editable: bool | None = None,
    archived: bool | None = None,
    now: dt.datetime,
) -> CustomField:
    """Change what may change (name and kind never do: stored values and segments rely on them).

    Removing a choice keeps the values readers already gave (shown, no longer accepted).
    """
    if label is not None:
        field.label = LABEL.clean(label)
    if choices is not None:
        field.choices = _clean_choices(field.kind, choices)
    if on_signup is not None:
        field.on_signup = bool(on_signup)
    if reader_editable is not None:
        field.reader_editable = bool(reader_editable)
    if archived is not None:
        field.archived_at = (field.archived_at or now) if archived else None
    session.flush()
    return field


def as_json(field: CustomField) -> dict[str, object]:
    """A field definition for the API."""
    return {
        "id": field.id,
        "name": field.name,
        "label": field.label,
        "kind": field.kind,
        "choices": list(field.choices),
        "on_signup": field.on_signup,
        "reader_editable": field.reader_editable,
        "archived": field.archived_at is not None,
    }


def export_fields(session: Session, subscriber: object) -> list[dict[str, object]]:
    """A reader's answers for their data export (growth.privacy part "fields")."""
    sid = subscriber.id  # type: ignore[attr-defined]
    rows = session.execute(
        select(
            CustomField.name, CustomField.label, FieldValue.value, FieldValue.source, FieldValue.updated_at
        )
        .join(CustomField, CustomField.id == FieldValue.field_id)
        .where(FieldValue.subscriber_id == sid)
        .order_by(CustomField.name)
    )
    return [
        {"field": name, "label": label, "value": value, "given_through": source, "at": at.isoformat()}
        for name, label, value, source, at in rows
    ]


def erase_fields(session: Session, subscriber: object, now: dt.datetime) -> None:
    """An erased reader's answers go (what they told us is theirs)."""
    sid = subscriber.id  # type: ignore[attr-defined]
    session.execute(delete(FieldValue).where(FieldValue.subscriber_id == sid))
