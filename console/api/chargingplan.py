"""What a charger may draw and who may charge there next (/console): its composite schedule, the charging profiles
the console installed (clearable), reservations (create, list with expiry, cancel), and its local list's version.

The views are the core's, as the attach client reads them back; every OCPP call is an action like any other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from console.api.auth import service_of
from console.api.schemas import errors
from console.api.scope import org_scope
from console.api.scopes import operator, reader
from console.core.keys import Principal
from console.core.views import CompositeScheduleView, LocalListView, OperationResult, ProfileView, ReservationView

router = APIRouter(prefix="/console", tags=["charging plan"], dependencies=[Depends(org_scope)])

READ = errors(401, 404, 422)
WRITE = errors(401, 404, 409, 422)


class ReservationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connector_id: int = Field(ge=0, le=1000, description="the connector (EVSE) to hold; 0: any", examples=[1])
    id_tag: str = Field(min_length=1, max_length=36, description="the token it is held for", examples=["VAN-1"])
    expires: datetime | str = Field(description="ISO 8601, or from now: 30m, 2h (at most 7 days)", examples=["30m"])


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connector_id: int = Field(0, ge=0, le=1000, description="0: the whole charger")
    duration_s: int = Field(3600, ge=60, le=7 * 24 * 3600)


@router.get("/reservations", response_model=list[ReservationView], responses=READ, summary="Reservations, newest first, with expiry")
async def reservations(
    request: Request,
    who: Principal = Depends(reader),
    charger_id: str | None = Query(None, description="one charger's; the organization's without it"),
) -> Any:
    found = await service_of(request).list_reservations(charger_id, who.organization_id)
    return [item.to_dict() for item in found]


@router.post(
    "/chargers/{charger_id}/reservations",
    status_code=201,
    response_model=ReservationView,
    responses=WRITE,
    summary="Reserve a connector (ReserveNow)",
    description="Its `state` says what the charger answered: accepted, or refused with its status in `detail`.",
)
async def reserve(request: Request, charger_id: str, body: ReservationRequest = Body(...), who: Principal = Depends(operator)) -> Any:
    held = await service_of(request).reserve(charger_id, body.connector_id, body.id_tag, body.expires)
    return held.to_dict()


@router.post(
    "/chargers/{charger_id}/reservations/{reservation_id}/cancel",
    response_model=ReservationView,
    responses=WRITE,
    summary="Cancel a reservation (CancelReservation)",
)
async def cancel(request: Request, charger_id: str, reservation_id: int, who: Principal = Depends(operator)) -> Any:
    return (await service_of(request).cancel_reservation(charger_id, reservation_id)).to_dict()


@router.post(
    "/chargers/{charger_id}/composite-schedule",
    response_model=CompositeScheduleView,
    responses=WRITE,
    summary="Ask the charger its composite schedule (GetCompositeSchedule)",
    description="What it will draw at most over the next `duration_s`, period by period; `problem` says why there is none.",
)
async def composite_schedule(
    request: Request, charger_id: str, body: ScheduleRequest = Body(default_factory=ScheduleRequest), who: Principal = Depends(operator)
) -> Any:
    return (await service_of(request).composite_schedule(charger_id, body.connector_id, body.duration_s)).to_dict()


@router.get(
    "/chargers/{charger_id}/profiles",
    response_model=list[ProfileView],
    responses=READ,
    summary="The charging profiles the console installed and has not cleared",
)
async def profiles(request: Request, charger_id: str, who: Principal = Depends(reader)) -> Any:
    return [item.to_dict() for item in await service_of(request).installed_profiles(charger_id)]


@router.delete(
    "/chargers/{charger_id}/profiles/{profile_id}",
    response_model=OperationResult,
    responses=WRITE,
    summary="Clear one installed charging profile (ClearChargingProfile)",
)
async def clear_profile(request: Request, charger_id: str, profile_id: int, who: Principal = Depends(operator)) -> Any:
    return (await service_of(request).clear_profile(charger_id, profile_id)).to_dict()


@router.get(
    "/chargers/{charger_id}/local-list",
    response_model=LocalListView,
    responses=READ,
    summary="The charger's local authorization list: its version and whether it is the registry as it is now",
)
async def local_list(request: Request, charger_id: str, who: Principal = Depends(reader)) -> Any:
    return (await service_of(request).local_list(charger_id)).to_dict()
