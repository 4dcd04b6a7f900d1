"""What /openapi.json promises, and the checks that keep the server to it.

- Every route takes only the query parameters it declares: another one is a 422,
  not silently ignored (`known_query`, an app-wide dependency).
- operationIds are stable: the route's tag and function name (`chargers_start`),
  not FastAPI's default that changes with the path.
- /openapi.json says what the answers are: every 4xx and 500 in the error
  envelope, the response headers (X-Request-Id, X-Total-Count, X-Next-Before,
  Location), and the Idempotency-Key every POST takes (`complete`).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from console.api.envelope import ApiError


def _query_params(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_params(sub)
    return names


def _query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters a route takes, its dependencies' included; worked out once per route (kept on it)."""
    names: frozenset[str] | None = getattr(route, "known_query_names", None)
    if names is None:
        names = frozenset(_query_params(route.dependant))
        route.known_query_names = names  # type: ignore[attr-defined]
    return names


async def known_query(request: Request) -> None:
    """422 for a query parameter the route does not take (a typo would otherwise be ignored)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    allowed = _query_names(route)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        raise ApiError(
            422,
            "VALIDATION_ERROR",
            f"unknown query parameter {', '.join(unknown)} (this endpoint takes: {takes})",
            [{"field": name, "message": "unknown query parameter"} for name in unknown],
        )


def operation_id(route: APIRoute) -> str:
    """`<tag>_<function>`, e.g. `ev_charger_send_command`: stable as long as the function keeps its name."""
    tag = str(route.tags[0]) if route.tags else "api"
    return f"{tag.replace('-', '_')}_{route.name}"


# -- /openapi.json, completed ---------------------------------------------------------------

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorEnvelope"}
ERROR_DESCRIPTIONS = {
    "400": "The body could not be read: not JSON, or not UTF-8",
    "401": "Missing, wrong, revoked or expired API key",
    "403": "The API key does not have the scope this needs",
    "422": "Invalid request (a bad field, an unknown query parameter): each problem is in error.details",
    "500": "The server failed; the error is logged under the request id",
    "503": "The store takes no writes now (locked, read-only, full): try again after Retry-After seconds",
}
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {"description": "this request's id, as `meta.requestId`", "schema": {"type": "string"}, "required": True},
    "X-Total-Count": {"description": "how many items match, over every page", "schema": {"type": "integer"}, "required": True},
    "X-Next-Before": {
        "description": "the `before` of the next page; absent on the last page",
        "schema": {"type": "string"},
        "required": False,
    },
    "Location": {"description": "where the created resource is", "schema": {"type": "string"}, "required": True},
    "Idempotent-Replayed": {
        "description": "`true` when this is the kept answer to an earlier request with the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
        "required": False,
    },
}
# The success headers each operation sets, beside X-Request-Id (every answer has it).
SUCCESS_HEADERS: dict[str, tuple[str, ...]] = {
    "chargers_list_chargers": ("X-Total-Count",),
    "chargers_events": ("X-Total-Count",),
    "chargers_logs": ("X-Next-Before",),
    "ev_charger_list_actions": ("X-Total-Count",),
    "ev_charger_send_command": ("Location",),
    "keys_list_keys": ("X-Total-Count",),
    "keys_create_key": ("Location",),
    "tokens_list_tokens": ("X-Total-Count",),
    "tokens_create_token": ("Location",),
    "transactions_list_transactions": ("X-Total-Count",),
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: the same key and body within 24 h get the first answer back and create nothing new; "
        "the same key with another body is 422 IDEMPOTENCY_KEY_REUSED. 1-255 printable characters, e.g. a UUID."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """The generated schema with what FastAPI cannot know: every error in the envelope, the headers, Idempotency-Key."""
    for methods in schema.get("paths", {}).values():
        for method, operation in methods.items():
            responses = operation.setdefault("responses", {})
            codes = ["422", "500", "503"] + (["401", "403"] if operation.get("security") else [])
            codes += ["400"] if "requestBody" in operation else []
            for code in codes:
                responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code]})
            for code, response in responses.items():
                headers = response.setdefault("headers", {})
                headers["X-Request-Id"] = HEADERS["X-Request-Id"]
                if code.startswith(("4", "5")):
                    response["content"] = {"application/json": {"schema": ERROR_SCHEMA}}
                    if code in ERROR_DESCRIPTIONS and response.get("description") in (None, "Validation Error"):
                        response["description"] = ERROR_DESCRIPTIONS[code]
                elif code.startswith("2"):
                    for name in SUCCESS_HEADERS.get(operation.get("operationId", ""), ()):
                        headers[name] = HEADERS[name]
                    if method == "post":
                        headers["Idempotent-Replayed"] = HEADERS["Idempotent-Replayed"]
            if method == "post":
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    components = schema.get("components", {}).get("schemas", {})
    text = json.dumps(schema.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}" not in text:
            components.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    """/openapi.json from `complete`, built once."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
