"""Rules for text from outside, in one place: forms, JSON schemas, CSV import and mail use them.

A single-line field (a name, a title, a UTM value) refuses every control character (CR and LF
included), Unicode line separators and lone surrogates; a multi-line field (a body, a note)
keeps newlines and tabs, refuses NUL and lone surrogates, and drops other control characters.
Lengths come from the model columns where there is one, so what is accepted always fits.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute

from growth.errors import ValidationFailed

# Cc (C0, DEL, C1), the two Unicode line separators, lone surrogates (they cannot be encoded).
_SINGLE_LINE_BAD = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\ud800-\\udfff"
_MULTI_LINE_BAD = "\\x00\\ud800-\\udfff"
_MULTI_LINE_DROPPED = re.compile("[\\x01-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]")
SINGLE_LINE_PATTERN = f"^[^{_SINGLE_LINE_BAD}]*$"
MULTI_LINE_PATTERN = f"^[^{_MULTI_LINE_BAD}]*$"
_single_line_bad = re.compile(f"[{_SINGLE_LINE_BAD}]")
_multi_line_bad = re.compile(f"[{_MULTI_LINE_BAD}]")
_header_unsafe = re.compile(f"[{_SINGLE_LINE_BAD}]+")
_ascii_int = re.compile(r"[0-9]{1,12}")


def column_length(attribute: InstrumentedAttribute[Any]) -> int:
    """The declared length of a String column (what PostgreSQL enforces)."""
    length = getattr(attribute.property.columns[0].type, "length", None)
    if not isinstance(length, int):
        raise TypeError(f"{attribute} has no length")
    return length


@dataclass(frozen=True)
class Rule:
    """What one field accepts."""

    label: str
    max_length: int
    multiline: bool = False
    min_length: int = 0

    @classmethod
    def of(cls, attribute: InstrumentedAttribute[Any], label: str | None = None, **kw: Any) -> Rule:
        """A single-line rule as long as the column."""
        return cls(label or attribute.key, column_length(attribute), **kw)

    def clean(self, value: object) -> str:
        """The accepted value (single-line: stripped); ValidationFailed names the field and rule."""
        if not isinstance(value, str):
            raise ValidationFailed(f"{self.label} must be text", code="invalid_field")
        if self.multiline:
            if _multi_line_bad.search(value):
                raise ValidationFailed(
                    f"{self.label} must not contain NUL bytes or broken characters",
                    code="invalid_characters",
                )
            value = _MULTI_LINE_DROPPED.sub("", value)
        else:
            value = value.strip()
            if _single_line_bad.search(value):
                raise ValidationFailed(
                    f"{self.label} must be one line of text without control characters",
                    code="invalid_characters",
                )
        if len(value) > self.max_length:
            raise ValidationFailed(
                f"{self.label} must have at most {self.max_length} characters", code="too_long"
            )
        if len(value) < self.min_length:
            raise ValidationFailed(f"{self.label} must not be empty", code="missing_field")
        return value

    def clean_optional(self, value: object) -> str | None:
        """As clean, with None and blank meaning no value."""
        if value is None:
            return None
        return self.clean(value) or None

    def schema(self, nullable: bool = False, **extra: Any) -> dict[str, Any]:
        """The JSON Schema of the field (the API validates with it; OpenAPI documents it)."""
        out: dict[str, Any] = {
            "type": ["string", "null"] if nullable else "string",
            "maxLength": self.max_length,
            "pattern": MULTI_LINE_PATTERN if self.multiline else SINGLE_LINE_PATTERN,
        }
        if self.min_length:
            out["minLength"] = self.min_length
        out.update(extra)
        return out


PATTERN_MESSAGES = {
    SINGLE_LINE_PATTERN: "must be one line of text without control characters",
    MULTI_LINE_PATTERN: "must not contain NUL bytes or broken characters",
}


def single_line(value: str) -> bool:
    """Whether the text has no control character, line separator or lone surrogate."""
    return _single_line_bad.search(value) is None


def one_line(value: Any, label: str, limit: int, required: bool = False) -> str:
    """Outside text for a one-line field, stripped ('' when absent and not required)."""
    if value is None:
        value = ""
    if not isinstance(value, str) or not single_line(value) or len(value.strip()) > limit:
        raise ValidationFailed(
            f"{label} must be one line of at most {limit} characters", code="invalid_field"
        )
    if required and not value.strip():
        raise ValidationFailed(f"{label} is required", code="missing_field")
    return value.strip()


def header_safe(value: str | None) -> str:
    """Text fit for a mail header (a display name, a subject): control runs become one space."""
    if not value:
        return ""
    if _single_line_bad.search(value) is None:  # the usual case, and cheap: a bulk send asks often
        return value.strip()
    return " ".join(_header_unsafe.sub(" ", value).split())


def printable(value: str | None, max_length: int) -> str | None:
    """Text nobody typed (a User-Agent): control characters dropped, cut to fit the column."""
    if not value:
        return None
    return header_safe(value)[:max_length] or None


def parse_int(raw: object, label: str, minimum: int, maximum: int) -> int:
    """A whole number typed as ASCII digits within [minimum, maximum]; else ValidationFailed."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not _ascii_int.fullmatch(text) or not minimum <= int(text) <= maximum:
        raise ValidationFailed(
            f"{label} must be a whole number from {minimum} to {maximum}", code="invalid_number"
        )
    return int(text)


def optional_int(raw: object, label: str, minimum: int, maximum: int) -> int | None:
    """As parse_int, with a missing or blank value meaning None."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return parse_int(raw, label, minimum, maximum)


MAX_ID = 2**31 - 1  # an INTEGER primary key


def valid_ip(value: str | None) -> str | None:
    """The address in canonical form, or None; a port after it (some proxies add one) is dropped."""
    if not value:
        return None
    text = value.strip()
    candidates = [text]
    if text.startswith("[") and "]" in text:
        candidates.append(text[1 : text.index("]")])
    elif text.count(":") == 1:
        candidates.append(text.split(":", 1)[0])
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        shown = str(address)
        return shown if len(shown) <= 64 else None
    return None
