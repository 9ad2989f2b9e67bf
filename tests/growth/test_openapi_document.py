"""What ApiSpec declares: id path parameters with their bounds, the content type of a success."""

from __future__ import annotations

from growth.openapi import ApiSpec
from growth.params import DB_INT_MAX


def _document(**options: object) -> dict:
    spec = ApiSpec()
    spec.schema("Export", {"type": "string"})

    @spec.operation(
        "/api/v1/things/<id:thing_id>/export", "get", summary="Export", response="Export", **options
    )
    def export() -> None:  # pragma: no cover - only registered
        return None

    return spec.document("http://masthead.test")["paths"]["/api/v1/things/{thing_id}/export"]["get"]


def test_an_id_in_the_path_is_an_integer_the_database_holds():
    (param,) = _document()["parameters"]
    assert param == {
        "name": "thing_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": DB_INT_MAX},
    }


def test_a_csv_answer_declares_text_csv():
    ok = _document(response_content_type="text/csv")["responses"]["200"]
    assert list(ok["content"]) == ["text/csv"]
    assert list(_document()["responses"]["200"]["content"]) == ["application/json"]
