"""What /openapi.json promises, and the checks that keep the server to it.

- Every route takes only the query parameters it declares: another one is a 422,
  not silently ignored (`known_query`, an app-wide dependency).
- operationIds are stable: the route's tag and function name (`chargers_start`),
  not FastAPI's default that changes with the path.
"""

from __future__ import annotations

from fastapi import Request
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
