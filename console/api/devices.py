"""The EV charger device API (the second seed): /ev-charger and /actions, x-api-key auth, in the envelope."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from console.api.auth import principal, service_of
from console.api.envelope import ok
from console.api.schemas import CommandRequest, Device, DeviceAction, DeviceList, Envelope, errors
from console.api.scope import org_scope
from console.core.engine import CONFLICT_STRATEGIES
from console.core.keys import Principal
from console.core.service import ConsoleService
from console.core.views import ActionView, ChargerView, iso

router = APIRouter(tags=["ev-charger"], dependencies=[Depends(org_scope)])


def device(service: ConsoleService, view: ChargerView) -> dict[str, Any]:
    """A charger as the seed's device object."""
    last = view.last_action
    schedule = view.current_schedule
    return {
        "id": view.id,
        "vendor": view.vendor_name,
        "sync": {"available": view.is_connected or view.last_seen is not None, "lastPulledAt": iso(view.last_seen)},
        "metadata": {"model": view.model, "source": "live" if view.is_connected else "cache"},
        "state": {
            "status": view.status,
            "isConnected": view.is_connected,
            "isCharging": view.is_charging,
            "currentPower": view.current_power_kw,
            "maxCurrent": view.max_current_a,
            "powerRateLimit": service.power_rate_limit_kw(view.id),
        },
        "commands": service.charger_commands(),
        "conflictStrategies": list(CONFLICT_STRATEGIES),
        "lastAction": None
        if last is None
        else {
            "id": last.id,
            "command": last.command,
            "state": last.state,
            "createdAt": iso(last.created_at),
            "updatedAt": iso(last.updated_at),
            "links": {"self": f"/actions/{last.id}"},
        },
        "currentSchedule": None
        if schedule is None
        else {key: iso(value) if key in ("start", "end") else value for key, value in schedule.items()},
    }


def action(view: ActionView) -> dict[str, Any]:
    return {
        "id": view.id,
        "deviceId": view.charger_id,
        "command": view.command,
        "parameters": view.parameters,
        "execution": view.execution,
        "state": view.state,
        "detail": view.detail,
        "createdAt": iso(view.created_at),
        "updatedAt": iso(view.updated_at),
        "links": {"self": view.link},
        "keyId": view.key_id,
    }


@router.get(
    "/ev-charger",
    response_model=Envelope[DeviceList],
    responses=errors(401, 422),
    summary="List EV Charger devices",
    description="A paginated list of EV Charger devices with their last pull state.",
)
async def list_devices(
    request: Request,
    who: Principal = Depends(principal),
    userId: str | None = Query(None, max_length=200, description="Filter devices by userId", examples=["user_abc123"]),
    offset: int = Query(0, ge=0, le=2**31, description="Number of devices to skip (default: 0)"),
    limit: int = Query(10, ge=1, le=50, description="Maximum number of devices to return (1-50, default: 10)"),
) -> Any:
    service = service_of(request)
    views = [view for view in service.org_chargers(who.organization_id) if userId is None or view.user_id == userId]
    page = views[offset : offset + limit]
    return ok(
        request,
        {
            "items": [device(service, view) for view in page],
            "pagination": {"limit": limit, "offset": offset, "total": len(views), "hasMore": offset + len(page) < len(views)},
        },
    )


@router.get(
    "/ev-charger/{device_id}",
    response_model=Envelope[Device],
    responses=errors(401, 404, 422),
    summary="Get EV Charger state",
    description="The current state of an EV Charger device including charging status, power, and connection state.",
)
async def get_device(request: Request, device_id: str, who: Principal = Depends(principal)) -> Any:
    service = service_of(request)
    return ok(request, device(service, service.org_charger(who.organization_id, device_id)))


@router.post(
    "/ev-charger/{device_id}",
    status_code=201,
    response_model=Envelope[DeviceAction],
    responses=errors(401, 404, 409, 422),
    summary="Send a command to an EV Charger",
    description=(
        "`charge` or `idle`, now, at `start` (scheduled) or between `start` and `end` (windowed). When an earlier "
        "command is still open, `onConflict` says what to do (`cancel_and_replace` or `queue_after`); without it the "
        "answer is 409 CONFLICT. Other refusals are 422 with the engine's code (START_OUT_OF_RANGE, END_BEFORE_START, "
        "INVALID_PARAMETERS, ...)."
    ),
)
async def send_command(
    request: Request,
    response: Response,
    device_id: str,
    body: CommandRequest = Body(...),
) -> Any:
    service = service_of(request)
    view = await service.send_command(
        device_id, body.command, body.parameters, body.execution, body.start, body.end, body.onConflict
    )
    response.headers["Location"] = view.link
    return ok(request, action(view))


@router.get("/actions/{action_id}", response_model=Envelope[DeviceAction], responses=errors(401, 404, 422), summary="Get action")
async def get_action(request: Request, action_id: str) -> Any:
    service = service_of(request)
    return ok(request, action(await service.get_action(action_id)))


@router.post(
    "/actions/{action_id}/cancel",
    response_model=Envelope[DeviceAction],
    responses=errors(401, 404, 409, 422),
    summary="Cancel action",
    description=(
        "A scheduled or pending action, or a windowed charge whose window is open: that window closes now as at its "
        "end (the charger's session held at 0 W, not stopped). Otherwise, or while the window's charger is offline, "
        "409 NOT_CANCELLABLE."
    ),
)
async def cancel_action(request: Request, action_id: str) -> Any:
    service = service_of(request)
    return ok(request, action(await service.cancel_action(action_id)))
