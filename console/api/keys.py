"""API keys over the API (/keys, `admin` scope): an organization's keys listed, created and revoked, in the envelope."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from console.api.auth import service_of
from console.api.envelope import ok
from console.api.schemas import ApiKeyInfo, ApiKeyList, ApiKeyRequest, Envelope, NewApiKey, errors
from console.api.scopes import administrator
from console.api.scope import org_scope
from console.core.errors import ValidationFailed
from console.core.keys import ApiKeyView, Principal
from console.core.views import iso

router = APIRouter(prefix="/keys", tags=["keys"], dependencies=[Depends(org_scope)])

WIRE = {"expires_at": "expiresAt"}


def key_wire(view: ApiKeyView) -> dict[str, Any]:
    return {
        "id": view.id,
        "prefix": view.prefix,
        "label": view.label,
        "scopes": list(view.scopes),
        "createdAt": iso(view.created_at),
        "expiresAt": iso(view.expires_at),
        "lastUsedAt": iso(view.last_used_at),
        "revokedAt": iso(view.revoked_at),
    }


@router.get(
    "",
    response_model=Envelope[ApiKeyList],
    responses=errors(401, 403, 422),
    summary="List API keys",
    description="The organization's keys, oldest first, revoked ones too (never the keys themselves).",
)
async def list_keys(
    request: Request,
    response: Response,
    who: Principal = Depends(administrator),
    offset: int = Query(0, ge=0, le=2**31 - 1, description="keys to skip"),
    limit: int = Query(50, ge=1, le=500, description="keys per page (1-500, default 50)"),
) -> Any:
    views = await service_of(request).list_api_keys(who.organization_id)
    page = views[offset : offset + limit]
    response.headers["X-Total-Count"] = str(len(views))
    return ok(
        request,
        {
            "items": [key_wire(view) for view in page],
            "pagination": {"limit": limit, "offset": offset, "total": len(views), "hasMore": offset + len(page) < len(views)},
        },
    )


@router.post(
    "",
    status_code=201,
    response_model=Envelope[NewApiKey],
    responses=errors(401, 403, 422),
    summary="Create an API key",
    description="A key of the caller's organization with the scopes asked for; the key is in this answer only.",
)
async def create_key(
    request: Request, response: Response, body: ApiKeyRequest = Body(...), who: Principal = Depends(administrator)
) -> Any:
    try:
        view, key = await service_of(request).create_api_key(who.organization, body.label, body.scopes, body.expiresAt)
    except ValidationFailed as refused:  # the core's names, as this API spells them
        raise ValidationFailed({WIRE.get(name, name): problem for name, problem in refused.problems.items()}) from None
    response.headers["Location"] = f"/keys/{view.id}"
    return ok(request, {**key_wire(view), "key": key})


@router.delete(
    "/{key_id}",
    response_model=Envelope[ApiKeyInfo],
    responses=errors(401, 403, 404, 422),
    summary="Revoke an API key",
    description="The key is refused from the next request on. Revoking a revoked key changes nothing.",
)
async def revoke_key(request: Request, key_id: str, who: Principal = Depends(administrator)) -> Any:
    return ok(request, key_wire(await service_of(request).revoke_api_key(key_id, who.organization_id)))
