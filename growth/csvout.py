"""Every CSV Masthead writes: a header row, UTF-8, one row per item, formula cells neutralised.

Names and addresses come from public signup forms, so a cell beginning with `=`, `+`, `-` or
`@` (or a tab or carriage return, which some spreadsheets strip before looking) could run as a
formula when an operator opens the file; such a cell is prefixed with `'` (OWASP's advice for
CSV injection). Numbers are written as numbers: only text is guarded.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from flask import Response, request, stream_with_context

from growth.errors import InvalidRequest

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("json", "csv")


def cell(value: Any) -> str | int | float:
    """One value as a CSV cell: text guarded against formulas, None empty, dates in ISO 8601."""
    if type(value) is str:  # the common case first: a million-row export calls this per cell
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def iter_csv(header: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Iterator[str]:
    """The CSV text, a line at a time (so a million rows stream in flat memory).

    A row is a sequence in header order or a mapping keyed by the header's names (missing keys
    are empty cells).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow([cell(name) for name in header])
    yield flush()
    for row in rows:
        values = [row.get(name) for name in header] if isinstance(row, Mapping) else row
        writer.writerow([cell(value) for value in values])
        yield flush()


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]]
) -> Response:
    """A streamed `200 text/csv; charset=utf-8` download named `filename`."""
    safe = "".join(ch for ch in filename if ch.isalnum() or ch in "-_.") or "export.csv"
    response = Response(
        stream_with_context(iter_csv(header, rows)),
        mimetype="text/csv",
        content_type="text/csv; charset=utf-8",
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response


def wants_csv() -> bool:
    """Whether the request asks `?format=csv`; a format other than json or csv is a 400."""
    value = request.args.get("format", "json").strip().lower()
    if value not in FORMATS:
        raise InvalidRequest("format must be json or csv.", code="invalid_format")
    return value == "csv"


def format_parameter() -> dict[str, Any]:
    """The OpenAPI description of the `format` query parameter."""
    return {
        "name": "format",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(FORMATS)},
    }
