"""The action history of the device API: GET /actions, the organization's actions, newest first, in the envelope."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from console.api.auth import service_of
from console.api.deployments import control_target
from console.api.devices import action
from console.api.envelope import ok
from console.api.schemas import ActionList, ActionState, Envelope, errors
from console.api.scopes import reader
from console.core.errors import ValidationFailed
from console.core.keys import Principal

router = APIRouter(tags=["ev-charger"])


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


@router.get(
    "/actions",
    response_model=Envelope[ActionList],
    responses=errors(401, 403, 404, 422),
    summary="List actions",
    description=(
        "The organization's actions, newest first: commands, operations and runtime requests, each with the key that "
        "asked. `charger` (identity or id), `command`, `state` and `since`/`until` (creation time; since included, "
        "until not) narrow them; `limit`/`offset` page them (the seed's `pagination`), and `X-Total-Count` tells how many match."
    ),
)
async def list_actions(
    request: Request,
    response: Response,
    who: Principal = Depends(reader),
    charger: str | None = Query(None, max_length=200, description="one charger's, by identity or internal id"),
    command: str | None = Query(
        None, max_length=64, pattern=r"^[A-Za-z_]+$", description="charge, idle, or an operation (reset, start, unlock, ...)"
    ),
    state: ActionState | None = Query(None, description="only actions in this state"),
    since: datetime | None = Query(None, description="created at or after (ISO 8601)"),
    until: datetime | None = Query(None, description="created before (ISO 8601)"),
    offset: int = Query(0, ge=0, le=2**31 - 1, description="actions to skip (default: 0)"),
    limit: int = Query(10, ge=1, le=50, description="actions to return (1-50, default: 10)"),
) -> Any:
    service = service_of(request)
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and until <= since:
        raise ValidationFailed({"until": "must be after since"})
    charger_id = None if charger is None else control_target(service, who, charger).id
    page, total = await service.org_action_page(
        who.organization_id,
        charger_id=charger_id,
        command=command,
        state=state,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    response.headers["X-Total-Count"] = str(total)
    return ok(
        request,
        {
            "items": [action(view) for view in page],
            "pagination": {"limit": limit, "offset": offset, "total": total, "hasMore": offset + len(page) < total},
        },
    )
