"""The OpenAPI 3.1 document, assembled from the schemas that validate requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from growth.csvout import format_parameter
from growth.params import ID_SCHEMA

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}

_ERROR_RESPONSES = {
    "400": "Malformed request",
    "401": "Missing or invalid bearer token",
    "403": "Forbidden",
    "404": "Not found",
    "413": "Request body too large",
    "422": "Invalid value",
    "429": "Rate limited",
}


class ApiSpec:
    """Operations registered by the views that serve them."""

    def __init__(self) -> None:
        self.paths: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
        self.webhooks: dict[str, Any] = {}

    def schema(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        """Register a named component schema and return it unchanged (it also validates)."""
        self.schemas[name] = schema
        return schema

    def webhook(self, name: str, *, summary: str, schema: str) -> None:
        """Describe an outgoing webhook event (OpenAPI 3.1 `webhooks`): what Masthead POSTs."""
        self.webhooks[name] = {
            "post": {
                "summary": summary,
                "operationId": "webhook_" + name.replace(".", "_"),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
                },
                "responses": {"200": {"description": "Any 2xx acknowledges the event"}},
            }
        }

    def operation(
        self,
        path: str,
        method: str,
        *,
        summary: str,
        auth: bool = True,
        request: str | None = None,
        request_content_type: str = "application/json",
        response: str | None = None,
        response_content_type: str = "application/json",
        status: int = 200,
        parameters: list[dict[str, Any]] | None = None,
        errors: tuple[int, ...] = (400,),
        tags: tuple[str, ...] = (),
        csv: str | None = None,
        other_content: dict[str, dict[str, Any]] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Describe one endpoint; use as a decorator next to the route.

        `<id:name>` in the path is declared an integer within the database's range (the `id`
        converter's); `response_content_type` names what a success answers (`text/csv` for CSV).
        `csv` (what one CSV row is) adds the `format` parameter and a `text/csv` answer;
        `other_content` (media type -> schema) names further media types a success may answer.
        """
        openapi_path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", path)
        ids = set(re.findall(r"<id:([^<>]+)>", path))

        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            op: dict[str, Any] = {"summary": summary, "operationId": view.__name__, "responses": {}}
            if tags:
                op["tags"] = list(tags)
            params = list(parameters or [])
            if csv:
                params.append({**format_parameter(), "description": f"csv: one row per {csv}"})
            for name in re.findall(r"{([^}]+)}", openapi_path):
                schema = dict(ID_SCHEMA) if name in ids else {"type": "string"}
                params.append({"name": name, "in": "path", "required": True, "schema": schema})
            if params:
                op["parameters"] = params
            if request:
                op["requestBody"] = {
                    "required": True,
                    "content": {
                        request_content_type: {"schema": {"$ref": f"#/components/schemas/{request}"}}
                    },
                }
            ok: dict[str, Any] = {"description": "OK"}
            if response:
                ok["content"] = {
                    response_content_type: {"schema": {"$ref": f"#/components/schemas/{response}"}}
                }
            if csv:
                ok.setdefault("content", {})["text/csv"] = {
                    "schema": {"type": "string", "description": f"one row per {csv}"}
                }
            for media_type, schema in (other_content or {}).items():
                ok.setdefault("content", {})[media_type] = {"schema": schema}
            op["responses"][str(status)] = ok
            codes = set(errors) | ({401, 403} if auth else set())
            if request:  # any body past MAX_CONTENT_LENGTH
                codes.add(413)
            for code in sorted(codes):
                op["responses"][str(code)] = {
                    "description": _ERROR_RESPONSES.get(str(code), "Error"),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            op["security"] = [{"bearerAuth": []}] if auth else []
            self.paths.setdefault(openapi_path, {})[method.lower()] = op
            return view

        return register

    def document(self, base_url: str) -> dict[str, Any]:
        """The whole OpenAPI document."""
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "Masthead API",
                "version": "1",
                "description": "Subscriber growth engine. Errors always use the Error envelope.",
            },
            "servers": [{"url": base_url}],
            "paths": dict(sorted(self.paths.items())),
            "webhooks": dict(sorted(self.webhooks.items())),
            "components": {
                "schemas": self.schemas,
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            },
        }


spec = ApiSpec()
