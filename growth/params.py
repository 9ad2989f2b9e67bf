"""Integers from URLs and query strings, bounded to what the database holds.

Every id column is a 32-bit INTEGER on PostgreSQL (SQLite takes 64 bits), so a larger value
can name nothing: in a path it matches no route (404, like any unknown id); in a query
parameter it is a 400 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, Map

from growth.errors import InvalidRequest

DB_INT_MAX = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<id:name>`: a positive integer the database's INTEGER can hold; anything else is a 404."""

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=DB_INT_MAX)

    def to_python(self, value: str) -> int:
        # NotFound rather than werkzeug's ValidationError: that one answers 405 when another
        # method's rule shares the path (DELETE /subscribers/<huge> after GET was tried).
        if len(value) > len(str(DB_INT_MAX)) or not 1 <= int(value) <= DB_INT_MAX:
            raise NotFound(f"No such thing: ids run from 1 to {DB_INT_MAX}.")
        return int(value)


def as_id(raw: Any) -> int | None:
    """An id from outside text (metadata, custom args): an int the database can hold, else None."""
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    if not text.isascii() or not text.isdigit() or len(text) > len(str(DB_INT_MAX)):
        return None
    value = int(text)
    return value if 1 <= value <= DB_INT_MAX else None


ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": DB_INT_MAX}


def query_int(
    args: Mapping[str, str],
    name: str,
    default: int | None,
    *,
    minimum: int = 1,
    maximum: int = DB_INT_MAX,
    code: str | None = None,
) -> int | None:
    """A query parameter as an int in [minimum, maximum]; default when absent; 400 otherwise."""
    raw = args.get(name)
    if raw is None:
        return default
    text = raw.strip()
    # Bounded before int(): a thousand digits should not cost a conversion, or a 500.
    if (
        not text.isascii()
        or not text.isdigit()
        or len(text) > len(str(maximum))
        or not (minimum <= int(text) <= maximum)
    ):
        raise InvalidRequest(
            f"{name} must be an integer from {minimum} to {maximum}", code=code or f"invalid_{name}"
        )
    return int(text)


def query_int_schema(
    name: str, *, minimum: int = 1, maximum: int = DB_INT_MAX, **extra: Any
) -> dict[str, Any]:
    """The OpenAPI parameter that `query_int` with the same bounds reads."""
    return {
        "name": name,
        "in": "query",
        "schema": {"type": "integer", "minimum": minimum, "maximum": maximum},
        **extra,
    }
