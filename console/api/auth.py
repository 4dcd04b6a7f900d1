"""API keys on requests: `Authorization: Bearer <key>` (the deployment API) or `x-api-key: <key>` (the device API).

Both headers work on every endpoint. Every request checks the store, so a
revoked key is refused from the next request on; the gate in limits.py checks
it before the route runs and leaves the principal in the request's state.
"""

from __future__ import annotations

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from console.api.envelope import ApiError
from console.core.keys import Principal
from console.core.service import ConsoleService

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")
api_key_header = APIKeyHeader(name="x-api-key", auto_error=False, description="An API key: `x-api-key: <key>`")

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="ocpp-console"'}


def service_of(request: Request) -> ConsoleService:
    return request.app.state.service


async def principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Security(bearer),
    api_key: str | None = Security(api_key_header),
) -> Principal:
    found = getattr(request.state, "principal", None)
    if found is not None:  # checked by the gate (limits.py) before the body was read
        return found
    key = api_key or (credentials.credentials if credentials is not None else None)
    if not key:
        raise ApiError(401, "UNAUTHORIZED", "an API key is required (Authorization: Bearer <key> or x-api-key)", headers=UNAUTHORIZED_HEADERS)
    found = await service_of(request).authenticate(key.strip())
    if found is None:
        raise ApiError(401, "UNAUTHORIZED", "the API key is not valid (wrong or revoked)", headers=UNAUTHORIZED_HEADERS)
    return found
