"""The id token API: /tokens, per organization, in the envelope; and each charger's local authorization list.

Lists are paginated (`limit`/`offset`, `pagination` in the body and `X-Total-Count`);
404, 409 (a token and type already held) and 422 (every bad field) are in the envelope.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from console.api.auth import principal, service_of
from console.api.envelope import ok
from console.api.schemas import Envelope, Pagination, errors
from console.api.scope import org_scope
from console.api.wire import TOKEN_WIRE_FIELDS as WIRE_FIELDS
from console.core.keys import Principal
from console.core.tokens import STATUSES, TOKEN_TYPES, LocalListView, TokenView, read_csv
from console.core.views import iso

router = APIRouter(prefix="/tokens", tags=["tokens"], dependencies=[Depends(org_scope)])


class Token(BaseModel):
    id: str = Field(examples=["tok_5f2b9c01d4e6a7b8"])
    token: str = Field(examples=["04A2B3C4D5E6F7"])
    type: str = Field(examples=["ISO14443"], description=", ".join(TOKEN_TYPES))
    status: str = Field(examples=["Accepted"], description=", ".join(STATUSES))
    expiresAt: str | None = Field(default=None, examples=["2027-01-31T00:00:00Z"])
    parentId: str | None = Field(default=None, description="1.6 parentIdTag, 2.0.1 groupIdToken", examples=["FLEET-A"])
    label: str | None = Field(default=None, description="the vehicle, driver or cost centre", examples=["Van 12"])
    locationIds: list[str] = Field(default_factory=list, description="where it is valid; empty: everywhere")
    createdAt: str | None = None
    updatedAt: str | None = None


class TokenList(BaseModel):
    items: list[Token]
    pagination: Pagination


class TokenFields(BaseModel):
    """A token's fields; on update only those sent change."""

    model_config = ConfigDict(extra="forbid")

    token: str | None = Field(default=None, max_length=200)
    type: str | None = None
    status: str | None = None
    expiresAt: datetime | str | None = None
    parentId: str | None = None
    label: str | None = None
    locationIds: list[str] | None = None

    def fields(self) -> dict[str, Any]:
        sent = self.model_dump(exclude_unset=True)
        return {WIRE_FIELDS[name]: value for name, value in sent.items()}


class Imported(BaseModel):
    imported: int


class LocalList(BaseModel):
    chargerId: str
    version: int
    entries: int
    current: bool
    pushedAt: str | None = None


def wire(view: TokenView) -> dict[str, Any]:
    return {
        "id": view.id,
        "token": view.token,
        "type": view.type,
        "status": view.status,
        "expiresAt": iso(view.expires_at),
        "parentId": view.parent_id,
        "label": view.label,
        "locationIds": view.location_ids,
        "createdAt": iso(view.created_at),
        "updatedAt": iso(view.updated_at),
    }


def local_list_wire(view: LocalListView) -> dict[str, Any]:
    return {
        "chargerId": view.charger_id,
        "version": view.version,
        "entries": view.entries,
        "current": view.current,
        "pushedAt": iso(view.pushed_at),
    }


@router.get(
    "",
    response_model=Envelope[TokenList],
    responses=errors(401, 422),
    summary="List tokens",
    description="The organization's tokens by token; `status` and `search` (token or label) narrow them.",
)
async def list_tokens(
    request: Request,
    response: Response,
    who: Principal = Depends(principal),
    status: str | None = Query(None, description=", ".join(STATUSES)),
    search: str | None = Query(None, max_length=100, description="part of the token or its label"),
    offset: int = Query(0, ge=0, le=2**31, description="tokens to skip (default: 0)"),
    limit: int = Query(50, ge=1, le=500, description="tokens per page (1-500, default: 50)"),
) -> Any:
    page, total = service_of(request).tokens.page(who.organization_id, limit, offset, status, search)
    response.headers["X-Total-Count"] = str(total)
    return ok(
        request,
        {
            "items": [wire(view) for view in page],
            "pagination": {"limit": limit, "offset": offset, "total": total, "hasMore": offset + len(page) < total},
        },
    )


@router.post("", status_code=201, response_model=Envelope[Token], responses=errors(401, 409, 422), summary="Create token")
async def create_token(request: Request, response: Response, body: TokenFields = Body(...), who: Principal = Depends(principal)) -> Any:
    view = await service_of(request).save_token(body.fields(), organization_id=who.organization_id)
    response.headers["Location"] = f"/tokens/{view.id}"
    return ok(request, wire(view))


@router.post(
    "/import",
    response_model=Envelope[Imported],
    responses=errors(401, 422),
    summary="Import tokens from CSV",
    description=(
        "A CSV body (`text/csv`) with a header line: token and any of type, status, expires_at, parent_id, label, "
        "location_ids. Tokens held under the same token and type are changed. Whole or not at all: every bad row is "
        "listed in error.details."
    ),
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
async def import_tokens(request: Request, who: Principal = Depends(principal)) -> Any:
    text = (await request.body()).decode("utf-8-sig", errors="replace")
    imported = await service_of(request).import_tokens(read_csv(text), who.organization_id)
    return ok(request, {"imported": imported})


@router.get(
    "/local-lists",
    response_model=Envelope[list[LocalList]],
    responses=errors(401, 422),
    summary="Each charger's local authorization list",
    description="The list version each charger was last given and whether it is the registry as it is now.",
)
async def local_lists(request: Request, who: Principal = Depends(principal)) -> Any:
    service = service_of(request)
    views = [await service.local_list(view.id) for view in service.org_chargers(who.organization_id)]
    return ok(request, [local_list_wire(view) for view in views])


@router.post(
    "/local-lists/{charger_id}",
    response_model=Envelope[LocalList],
    responses=errors(401, 404, 409, 422),
    summary="Push the local authorization list to a charger",
    description="SendLocalList: what changed since the charger's version (`full=true`: the whole list), as an action.",
)
async def push_local_list(request: Request, charger_id: str, full: bool = Query(False)) -> Any:
    service = service_of(request)
    await service.push_local_list(charger_id, full)
    return ok(request, local_list_wire(await service.local_list(charger_id)))


@router.get("/{token_id}", response_model=Envelope[Token], responses=errors(401, 404, 422), summary="Get token")
async def get_token(request: Request, token_id: str, who: Principal = Depends(principal)) -> Any:
    return ok(request, wire(service_of(request).tokens.get(who.organization_id, token_id)))


@router.put(
    "/{token_id}",
    response_model=Envelope[Token],
    responses=errors(401, 404, 409, 422),
    summary="Update token",
    description="Changes the fields sent. Blocking a token reports its running sessions; `stopSessions=true` also stops them.",
)
async def update_token(
    request: Request,
    token_id: str,
    body: TokenFields = Body(...),
    who: Principal = Depends(principal),
    stopSessions: bool = Query(False, description="stop the running sessions of a token blocked here"),
) -> Any:
    view = await service_of(request).save_token(body.fields(), token_id, who.organization_id, stop_sessions=stopSessions)
    return ok(request, wire(view))


@router.delete("/{token_id}", status_code=204, responses=errors(401, 404, 422), summary="Delete token")
async def delete_token(request: Request, token_id: str, who: Principal = Depends(principal)) -> Response:
    await service_of(request).delete_token(token_id, who.organization_id)
    return Response(status_code=204)
