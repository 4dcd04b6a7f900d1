"""The console's own endpoints (/console): what attach mode needs beyond the seeds' two APIs.

They speak the core's views (`View.to_dict()`), so the attach client rebuilds
exactly what the in-process backend returns. Same keys, same scoping.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from console.api.auth import service_of
from console.api.deployments import control_target
from console.api.schemas import (
    AcceptUnknown,
    AvailabilityRequest,
    CheckRequest,
    CommandSpec,
    ConsoleCommand,
    ControlOutcome,
    LocationCap,
    LocationRuntime,
    LocationRuntimeOutcome,
    Problems,
    ResetRequest,
    SimulatorControl,
    Transaction,
    TransactionExport,
    UnlockRequest,
    errors,
)
from console.api.scope import org_scope
from console.api.scopes import administrator, operator, reader
from console.core.chargerevents import SEVERITIES
from console.core.errors import NotFound, ValidationFailed
from console.core.fleet import DEFAULT_ORG
from console.core.keys import Principal
from console.core.operations import OperationResult
from console.core.views import (
    ActionView,
    BackendInfo,
    ChargerEventView,
    ChargerView,
    LocationView,
    LogView,
    PowerSample,
    UnknownChargerView,
)

router = APIRouter(prefix="/console", tags=["console"], dependencies=[Depends(org_scope)])

READ = errors(401, 404, 422)
WRITE = errors(401, 404, 409, 422)
DEFAULT_ORG_ID = f"org-{DEFAULT_ORG}"


def _unknown_allowed(who: Principal) -> None:
    # An identity that is not in the fleet belongs to no organization yet; only the
    # depot's own (default) organization decides about it.
    if who.organization_id != DEFAULT_ORG_ID:
        raise NotFound("unknown chargers are decided by the default organization")


@router.get("/info", response_model=BackendInfo, responses=READ, summary="What the server is: OCPP URL, store, read-only")
async def info(request: Request, who: Principal = Depends(reader)) -> Any:
    return service_of(request).info.to_dict()


@router.get("/chargers", response_model=list[ChargerView], responses=READ, summary="Every charger of the organization, with live state")
async def chargers(request: Request, who: Principal = Depends(reader)) -> Any:
    return [view.to_dict() for view in service_of(request).org_chargers(who.organization_id)]


@router.get("/chargers/{charger_id}", response_model=ChargerView, responses=READ, summary="One charger with live state")
async def charger(request: Request, charger_id: str, who: Principal = Depends(reader)) -> Any:
    return service_of(request).org_charger(who.organization_id, charger_id).to_dict()


@router.post("/chargers/check", response_model=Problems, responses=READ, summary="Check charger fields without saving")
async def check(request: Request, body: CheckRequest = Body(...), who: Principal = Depends(reader)) -> Any:
    problems = await service_of(request).check_charger_in(who.organization_id, body.fields, body.charger_id)
    return {"problems": problems}


@router.post("/chargers", status_code=201, response_model=ChargerView, responses=WRITE, summary="Create a charger from form fields")
async def create(request: Request, fields: dict[str, Any] = Body(...), who: Principal = Depends(administrator)) -> Any:
    return (await service_of(request).create_charger_in(who.organization_id, fields)).to_dict()


@router.put("/chargers/{charger_id}", response_model=ChargerView, responses=WRITE, summary="Update a charger from form fields")
async def update(request: Request, charger_id: str, fields: dict[str, Any] = Body(...), who: Principal = Depends(administrator)) -> Any:
    return (await service_of(request).update_charger_in(who.organization_id, charger_id, fields)).to_dict()


@router.get("/chargers/{charger_id}/logs", response_model=list[LogView], responses=READ, summary="The charger's latest log lines, oldest first")
async def charger_logs(
    request: Request, charger_id: str, who: Principal = Depends(reader), limit: int = Query(200, ge=1, le=5000)
) -> Any:
    service = service_of(request)
    return [entry.to_dict() for entry in await service.charger_logs(charger_id, limit)]


@router.get(
    "/chargers/{charger_id}/transactions",
    response_model=list[Transaction],
    responses=READ,
    summary="Charging sessions, newest first, each with what had to be repaired",
)
async def transactions(
    request: Request, charger_id: str, who: Principal = Depends(reader), limit: int = Query(100, ge=1, le=5000)
) -> Any:
    service = service_of(request)
    return [{**item.to_dict(), "repairs": list(item.repairs)} for item in await service.list_transactions(charger_id, limit)]


@router.get(
    "/chargers/{charger_id}/transactions/{transaction_id}/export",
    response_model=TransactionExport,
    responses=READ,
    summary="One session with all its meter values, signed ones as the charger sent them (for an audit)",
)
async def export_transaction(request: Request, charger_id: str, transaction_id: int, who: Principal = Depends(reader)) -> Any:
    service = service_of(request)
    return await service.export_transaction(charger_id, transaction_id)


@router.get("/chargers/{charger_id}/power", response_model=list[PowerSample], responses=READ, summary="Power over the last minutes")
async def power(
    request: Request, charger_id: str, who: Principal = Depends(reader), minutes: int = Query(15, ge=1, le=24 * 60)
) -> Any:
    service = service_of(request)
    return [sample.to_dict() for sample in await service.power_history(charger_id, minutes)]


@router.post("/chargers/{charger_id}/accept", response_model=ChargerView, responses=WRITE, summary="Accept a charger pending registration")
async def accept(request: Request, charger_id: str, who: Principal = Depends(administrator)) -> Any:
    service = service_of(request)
    return (await service.accept_charger(charger_id)).to_dict()


@router.post("/chargers/{charger_id}/reject", response_model=ChargerView, responses=WRITE, summary="Reject a charger's registration")
async def reject(request: Request, charger_id: str, who: Principal = Depends(administrator)) -> Any:
    service = service_of(request)
    return (await service.reject_charger(charger_id)).to_dict()


@router.get("/actions", response_model=list[ActionView], responses=READ, summary="Action history, newest first")
async def actions(
    request: Request,
    who: Principal = Depends(reader),
    charger_id: str | None = Query(None, description="one charger's history; the organization's without it"),
    limit: int = Query(200, ge=1, le=5000),
) -> Any:
    service = service_of(request)
    if charger_id is None:
        return [item.to_dict() for item in await service.org_actions(who.organization_id, limit)]
    return [item.to_dict() for item in await service.list_actions(charger_id, limit)]


@router.get("/logs", response_model=list[LogView], responses=READ, summary="The organization's latest log lines, oldest first")
async def fleet_logs(request: Request, who: Principal = Depends(reader), limit: int = Query(500, ge=1, le=5000)) -> Any:
    return [entry.to_dict() for entry in await service_of(request).org_fleet_logs(who.organization_id, limit)]


@router.get("/events", response_model=list[ChargerEventView], responses=READ, summary="The organization's charger events, newest first")
async def fleet_events(
    request: Request,
    who: Principal = Depends(reader),
    charger_id: str | None = Query(None, description="one charger's events; the organization's without it"),
    kind: str | None = Query(None, max_length=64),
    severity: str | None = Query(None, pattern=f"^({'|'.join(SEVERITIES)})$"),
    limit: int = Query(200, ge=1, le=5000),
) -> Any:
    service = service_of(request)
    if charger_id is None:
        found = await service.org_fleet_events(who.organization_id, limit, kind, severity)
    else:
        found = await service.charger_events(charger_id, limit, kind, severity)
    return [event.to_dict() for event in found]


@router.get("/locations", response_model=list[LocationView], responses=READ, summary="The organization's locations with power and headroom")
async def locations(request: Request, who: Principal = Depends(reader)) -> Any:
    return [location.to_dict() for location in await service_of(request).org_locations(who.organization_id)]


@router.get("/unknown", response_model=list[UnknownChargerView], responses=READ, summary="Identities not in the fleet that tried to connect")
async def unknown(request: Request, who: Principal = Depends(reader)) -> Any:
    if who.organization_id != DEFAULT_ORG_ID:
        return []
    return [item.to_dict() for item in await service_of(request).list_unknown()]


@router.post("/unknown/{identity}/accept", response_model=ChargerView, responses=WRITE, summary="Admit an unknown identity to the fleet")
async def accept_unknown(
    request: Request, identity: str, body: AcceptUnknown = Body(default_factory=AcceptUnknown), who: Principal = Depends(administrator)
) -> Any:
    _unknown_allowed(who)
    return (await service_of(request).accept_unknown(identity, body.ocpp_version)).to_dict()


@router.post("/unknown/{identity}/reject", status_code=204, responses=WRITE, summary="Refuse an unknown identity")
async def reject_unknown(request: Request, identity: str, who: Principal = Depends(administrator)) -> Response:
    _unknown_allowed(who)
    await service_of(request).reject_unknown(identity)
    return Response(status_code=204)


@router.put("/locations/{location_id}/cap", response_model=LocationView, responses=WRITE, summary="Set or remove a location's power cap")
async def set_location_cap(
    request: Request, location_id: str, body: LocationCap = Body(...), who: Principal = Depends(administrator)
) -> Any:
    service = service_of(request)
    return (await service.set_location_cap(location_id, body.power_cap_kw)).to_dict()


@router.get("/commands", response_model=dict[str, CommandSpec], responses=READ, summary="The commands a charger takes")
async def commands(request: Request, who: Principal = Depends(reader)) -> Any:
    return service_of(request).charger_commands()


@router.post("/chargers/{charger_id}/commands", status_code=201, response_model=ActionView, responses=WRITE, summary="Send charge or idle")
async def send_command(
    request: Request, charger_id: str, body: ConsoleCommand = Body(...), who: Principal = Depends(operator)
) -> Any:
    service = service_of(request)
    action = await service.send_command(
        charger_id, body.command, body.parameters, body.execution, body.start, body.end, body.on_conflict
    )
    return action.to_dict()


@router.get("/actions/{action_id}", response_model=ActionView, responses=READ, summary="One action")
async def get_action(request: Request, action_id: str, who: Principal = Depends(reader)) -> Any:
    return (await service_of(request).get_action(action_id)).to_dict()


@router.post("/actions/{action_id}/cancel", response_model=ActionView, responses=WRITE, summary="Cancel a scheduled or pending action")
async def cancel_action(request: Request, action_id: str, who: Principal = Depends(operator)) -> Any:
    return (await service_of(request).cancel_action(action_id)).to_dict()


@router.post("/chargers/{charger_id}/reset", response_model=OperationResult, responses=WRITE, summary="OCPP Reset (soft or hard)")
async def reset(
    request: Request, charger_id: str, body: ResetRequest = Body(default_factory=ResetRequest), who: Principal = Depends(operator)
) -> Any:
    service = service_of(request)
    return (await service.reset(charger_id, body.hard)).to_dict()


@router.post("/chargers/{charger_id}/unlock", response_model=OperationResult, responses=WRITE, summary="OCPP UnlockConnector")
async def unlock(request: Request, charger_id: str, body: UnlockRequest = Body(...), who: Principal = Depends(operator)) -> Any:
    service = service_of(request)
    return (await service.unlock(charger_id, body.connector_id)).to_dict()


@router.post("/chargers/{charger_id}/availability", response_model=OperationResult, responses=WRITE, summary="OCPP ChangeAvailability")
async def change_availability(
    request: Request, charger_id: str, body: AvailabilityRequest = Body(...), who: Principal = Depends(operator)
) -> Any:
    service = service_of(request)
    return (await service.change_availability(charger_id, body.connector_id, body.operative)).to_dict()


@router.post(
    "/chargers/{charger_id}/simulator",
    response_model=ControlOutcome,
    responses=WRITE,
    summary="Operator control on a simulated charger: plug in/unplug an EV, present a tag, inject/clear a fault, drop the connection",
    description="The charger is named by its identity (as the seed says for simulator endpoints) or its internal id.",
)
async def simulator_control(
    request: Request, charger_id: str, body: SimulatorControl = Body(...), who: Principal = Depends(operator)
) -> Any:
    service = service_of(request)
    charger_id = control_target(service, who, charger_id).id
    if body.control == "plug_in":
        message = await service.plug_in(charger_id, body.connector_id, soc=body.soc, battery_kwh=body.battery_kwh)
    elif body.control == "present_id_tag":
        if body.id_tag is None:
            raise ValidationFailed({"id_tag": "required to present a tag"})
        message = await service.present_id_tag(charger_id, body.connector_id, body.id_tag)
    elif body.control == "inject_fault":
        message = await service.inject_fault(charger_id, body.connector_id, body.error_code)
    elif body.control == "drop_connection":
        message = await service.drop_connection(charger_id)
    else:
        message = await getattr(service, body.control)(charger_id, body.connector_id)
    return {"charger_id": charger_id, "control": body.control, "message": message}


@router.post(
    "/locations/{location_id}/runtime",
    response_model=LocationRuntimeOutcome,
    responses=WRITE,
    summary="Start, stop or restart every simulated charger at a location",
)
async def location_runtime(
    request: Request, location_id: str, body: LocationRuntime = Body(...), who: Principal = Depends(operator)
) -> Any:
    service = service_of(request)
    messages = await service.location_runtime(location_id, body.command)
    return {"location_id": location_id, "command": body.command, "messages": messages}
