"""The charger deployment API (the first seed): /ocpp/chargers, Bearer auth, bare charger objects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from console.api.auth import principal, service_of
from console.api.schemas import Charger, ChargerEventLine, ChargerFields, ChargerStatus, LogLine, Provisioning, RuntimeOutcome, errors
from console.api.scope import org_scope
from console.api.scopes import administrator, operator, reader
from console.core.chargerevents import SEVERITIES
from console.core.keys import Principal
from console.core.service import ConsoleService
from console.core.views import ChargerView

router = APIRouter(prefix="/ocpp/chargers", tags=["chargers"], dependencies=[Depends(org_scope)])

PAGE_MAX = 500


@router.get(
    "",
    response_model=list[Charger],
    responses=errors(401, 422),
    summary="List chargers",
    description=(
        "The organization's chargers by identity; `location_id` and `status` narrow them, `limit`/`offset` page "
        "them and `X-Total-Count` tells how many match."
    ),
)
async def list_chargers(
    request: Request,
    response: Response,
    who: Principal = Depends(reader),
    location_id: str | None = Query(None, max_length=200, description="only the chargers at this location"),
    status: ChargerStatus | None = Query(None, description="only the chargers in this live status"),
    limit: int = Query(100, ge=1, le=PAGE_MAX, description="chargers per page (1-500)"),
    offset: int = Query(0, ge=0, le=2**31 - 1, description="chargers to skip"),
) -> Any:
    live = service_of(request).live
    ids = live.listed(who.organization_id, location_id, status)
    response.headers["X-Total-Count"] = str(len(ids))
    return [live.view(charger_id).seed_dict() for charger_id in ids[offset : offset + limit]]


@router.post(
    "",
    status_code=201,
    response_model=Charger,
    responses=errors(401, 403, 422),
    summary="Create charger (durable)",
)
async def create_charger(request: Request, fields: ChargerFields = Body(...), who: Principal = Depends(administrator)) -> Any:
    view = await service_of(request).create_charger_in(who.organization_id, fields.fields())
    return view.seed_dict()


@router.get("/{charger_id}", response_model=Charger, responses=errors(401, 403, 404, 422), summary="Get charger")
async def get_charger(request: Request, charger_id: str, who: Principal = Depends(reader)) -> Any:
    return service_of(request).org_charger(who.organization_id, charger_id).seed_dict()


@router.put(
    "/{charger_id}",
    response_model=Charger,
    responses=errors(401, 403, 404, 422),
    summary="Update charger",
    description="Changes the fields sent; the others keep their values.",
)
async def update_charger(
    request: Request, charger_id: str, fields: ChargerFields = Body(...), who: Principal = Depends(administrator)
) -> Any:
    view = await service_of(request).update_charger_in(who.organization_id, charger_id, fields.fields())
    return view.seed_dict()


@router.delete("/{charger_id}", status_code=204, responses=errors(401, 403, 404, 422), summary="Delete charger")
async def delete_charger(request: Request, charger_id: str, who: Principal = Depends(administrator)) -> Response:
    service = service_of(request)
    await service.delete_charger(charger_id)
    return Response(status_code=204)


@router.get(
    "/{charger_id}/provisioning",
    response_model=Provisioning,
    responses=errors(401, 403, 404, 422),
    summary="Get charger provisioning status",
)
async def provisioning(request: Request, charger_id: str, who: Principal = Depends(reader)) -> Any:
    service = service_of(request)
    view = service.org_charger(who.organization_id, charger_id)
    answer: dict[str, Any] = {
        "charger_id": view.id,
        "identity": view.identity,
        "status": view.provisioning,
        "registration": view.registration,
        "runtime": view.runtime,
        "runtime_detail": view.runtime_detail,
        "is_connected": view.is_connected,
        "connected_since": view.connected_since,
        "offline_since": view.offline_since,
        "last_failure": view.last_failure,
        "tolerant": view.tolerant,
        "security_profile": view.required_security_profile,
        "protocol_warnings": [warning.to_dict() for warning in view.protocol_warnings],
    }
    report = service.runtime_provisioning(charger_id)
    if report:
        answer.update({key: report.get(key) for key in ("stage", "stages", "verdict", "hint")})
    return answer


def control_target(service: ConsoleService, who: Principal, charger: str) -> ChargerView:
    """The charger a control endpoint names: by identity, as the seed says, or by its internal id."""
    charger_id = charger if service.live.record(charger) is not None else service.live.charger_id_for(charger)
    return service.org_charger(who.organization_id, charger_id or charger)


async def _runtime(request: Request, charger: str, who: Principal, command: str) -> dict[str, Any]:
    service = service_of(request)
    view = control_target(service, who, charger)
    message = await getattr(service, f"{command}_charger")(view.id)
    return {
        "charger_id": view.id,
        "identity": view.identity,
        "command": command,
        "message": message,
        "runtime": service.live.view(view.id).runtime if service.live.record(view.id) else None,
    }


RUNTIME_ERRORS = errors(401, 403, 404, 409, 422)
IDENTITY = Path(
    description="The charger's identity (as the seed says for control endpoints); its internal id works too",
    examples=["CP-TEST-001"],
)


@router.post("/{identity}/start", response_model=RuntimeOutcome, responses=RUNTIME_ERRORS, summary="Start charger runtime")
async def start(request: Request, identity: str = IDENTITY, who: Principal = Depends(operator)) -> Any:
    return await _runtime(request, identity, who, "start")


@router.post("/{identity}/stop", response_model=RuntimeOutcome, responses=RUNTIME_ERRORS, summary="Stop charger runtime")
async def stop(request: Request, identity: str = IDENTITY, who: Principal = Depends(operator)) -> Any:
    return await _runtime(request, identity, who, "stop")


@router.post(
    "/{identity}/restart",
    response_model=RuntimeOutcome,
    responses=RUNTIME_ERRORS,
    summary="Restart charger runtime",
    description="A simulated charger's runtime restarts; a real charger is sent an OCPP Reset.",
)
async def restart(request: Request, identity: str = IDENTITY, who: Principal = Depends(operator)) -> Any:
    return await _runtime(request, identity, who, "restart")


@router.get(
    "/{charger_id}/logs",
    response_model=list[LogLine],
    responses=errors(401, 403, 404, 422),
    summary="List charger logs",
    description=(
        "Newest first, up to `limit` lines (1-500, default 100). For the next page pass `before` = the last "
        "line's `id`; the `X-Next-Before` header carries it while there may be more."
    ),
)
async def logs(
    request: Request,
    response: Response,
    charger_id: str,
    who: Principal = Depends(reader),
    limit: int = Query(100, ge=1, le=PAGE_MAX),
    before: int | None = Query(None, ge=1, le=2**63 - 1, description="only lines older than this id"),
) -> Any:
    service = service_of(request)
    page = await service.charger_log_page(charger_id, limit, before)
    if len(page) == limit:
        response.headers["X-Next-Before"] = str(page[-1].id)
    return [entry.to_dict() for entry in page]


@router.get(
    "/{charger_id}/events",
    response_model=list[ChargerEventLine],
    responses=errors(401, 403, 404, 422),
    summary="List charger events",
    description=(
        "What the charger told about itself, newest first: NotifyEvent, security events, firmware, diagnostics "
        "and log upload status, NotifyReport pages, DataTransfer, and its connectors going Faulted. `kind` and "
        "`severity` narrow the list; `limit`/`offset` page it and `X-Total-Count` tells how many match."
    ),
)
async def events(
    request: Request,
    response: Response,
    charger_id: str,
    who: Principal = Depends(reader),
    kind: str | None = Query(None, max_length=64, description="one kind, e.g. NotifyEvent or SecurityEvent"),
    severity: str | None = Query(None, pattern=f"^({'|'.join(SEVERITIES)})$", description=f"one of {', '.join(SEVERITIES)}"),
    limit: int = Query(100, ge=1, le=PAGE_MAX, description="events per page (1-500)"),
    offset: int = Query(0, ge=0, le=2**31 - 1, description="events to skip"),
) -> Any:
    service = service_of(request)
    page, total = await service.charger_event_page(charger_id, limit, offset, kind, severity)
    response.headers["X-Total-Count"] = str(total)
    return [event.to_dict() for event in page]
