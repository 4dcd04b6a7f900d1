"""The depot planner in the API: a location's plan and its settings, a session's need and pin, a token's default need.

Every id in a path is checked against the key's organization by `org_scope`
(a connector is looked up under its charger). Bad input (a departure in the
past, a need above the battery or above what the charger can deliver before
departure, a tariff with gaps or negative slots) is a 422 whose details name
the field; the previous plan and settings stay.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from console.api.auth import service_of
from console.api.envelope import ok
from console.api.schemas import Envelope, errors
from console.api.scope import OrgScope, org_scope
from console.api.scopes import operator, reader
from console.core.keys import Principal

router = APIRouter(tags=["planning"], dependencies=[Depends(org_scope)])

CONNECTOR_ID = Path(ge=1, le=1000, description="the connector (2.0.1: the EVSE) of the session")


class PlanSession(BaseModel):
    model_config = ConfigDict(extra="allow")

    key: str = Field(examples=["dep-0123456789ab/1"])
    departBy: str
    needKWh: float = Field(description="energy still to deliver before departure")
    plannedKWh: float
    shortfallKWh: float
    makesIt: bool
    powerKw: list[float] = Field(description="the planned power per slot")


class PlanBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    start: str
    slotMinutes: int
    status: str
    cost: float
    baselineCost: float = Field(description="what equal shares of the cap would cost for the same needs")
    misses: list[str]
    sessions: list[PlanSession]


class LocationPlan(BaseModel):
    locationId: str
    enabled: bool
    tariff: list[float] | None = None
    baseLoadKw: list[float] | None = None
    plan: PlanBody | None = None


class PlanSettings(BaseModel):
    """What changes; a field not sent stays as it is."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = Field(default=None, description="false: back to equal shares of the cap")
    tariff: list[Any] | None = Field(default=None, max_length=96, description="96 prices per kWh, one per 15 minutes from 00:00 UTC; null: none")
    baseLoadKw: list[Any] | None = Field(default=None, max_length=96, description="96 site loads (kW) taken from the cap; null: none")


class NeedFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    departBy: str = Field(max_length=64, examples=["2026-04-03T05:30:00Z"], description="ISO 8601, or relative: 8h")
    energyKWh: float | None = Field(default=None, examples=[40])
    targetSoC: float | None = Field(default=None, examples=[80])
    batteryKWh: float | None = Field(default=None, examples=[60])


class Need(BaseModel):
    chargerId: str
    connectorId: int
    departBy: str
    energyKWh: float | None = None
    targetSoC: float | None = None
    batteryKWh: float | None = None
    source: str
    pinned: bool


class Pin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pinned: bool = Field(description="true: charge at full power now; false: back to the plan")


class TokenNeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    needKWh: float | None = Field(default=None, gt=0, le=10_000, description="the vehicle's usual need")
    departAt: str | None = Field(default=None, max_length=5, examples=["05:30"], description="its usual departure, HH:MM UTC")
    priority: int | None = Field(default=None, ge=-1000, le=1000, description="higher is served first when not every need can be met")


class TokenNeedView(TokenNeed):
    id: str
    token: str


def _need(row: Any) -> dict[str, Any]:
    return {
        "chargerId": row.charger_id,
        "connectorId": row.connector_id,
        "departBy": row.depart_by.isoformat().replace("+00:00", "Z"),
        "energyKWh": row.energy_kwh,
        "targetSoC": row.target_soc,
        "batteryKWh": row.battery_kwh,
        "source": row.source,
        "pinned": row.pinned,
    }


@router.get(
    "/locations/{location_id}/plan",
    response_model=Envelope[LocationPlan],
    responses=errors(401, 403, 404),
    summary="Get a location's charging plan",
    description="Each session's power per 15-minute slot, its need, what it will have at departure and whether it makes it; the plan's cost against equal shares.",
)
async def get_plan(request: Request, location_id: str, who: Principal = Depends(reader)) -> Any:
    return ok(request, service_of(request).planner.wire(location_id))


@router.put(
    "/locations/{location_id}/plan",
    response_model=Envelope[LocationPlan],
    responses=errors(401, 403, 404, 422),
    summary="Switch a location's planner on or off, set its tariff and base load",
)
async def put_plan(
    request: Request, location_id: str, body: PlanSettings = Body(...), who: Principal = Depends(operator)
) -> Any:
    sent = body.model_dump(exclude_unset=True)
    planner = service_of(request).planner
    await planner.set_settings(
        location_id,
        enabled=sent.get("enabled"),
        tariff=sent.get("tariff", ...),
        base_load_kw=sent.get("baseLoadKw", ...),
    )
    await planner.replan(location_id)
    return ok(request, planner.wire(location_id))


@router.put(
    "/chargers/{charger_id}/connectors/{connector_id}/need",
    response_model=Envelope[Need],
    responses=errors(401, 403, 404, 422),
    summary="Set the charging need of a connector's session (or its next one)",
)
async def put_need(
    request: Request,
    charger_id: str,
    connector_id: int = CONNECTOR_ID,
    body: NeedFields = Body(...),
    who: Principal = Depends(operator),
) -> Any:
    planner = service_of(request).planner
    row = await planner.set_need(charger_id, connector_id, body.departBy, body.energyKWh, body.targetSoC, body.batteryKWh)
    return ok(request, _need(row))


@router.post(
    "/chargers/{charger_id}/connectors/{connector_id}/pin",
    response_model=Envelope[Need],
    responses=errors(401, 403, 404, 422),
    summary="Pin a session at full power now, or unpin it",
)
async def pin(
    request: Request,
    charger_id: str,
    connector_id: int = CONNECTOR_ID,
    body: Pin = Body(...),
    who: Principal = Depends(operator),
) -> Any:
    planner = service_of(request).planner
    await planner.pin(charger_id, connector_id, body.pinned)
    row = planner.need_of(charger_id, connector_id)
    assert row is not None
    return ok(request, _need(row))


@router.put(
    "/tokens/{token_id}/need",
    response_model=Envelope[TokenNeedView],
    responses=errors(401, 403, 404, 422),
    summary="Set a token's default need and priority",
)
async def put_token_need(
    request: Request,
    token_id: str,
    body: TokenNeed = Body(...),
    who: Principal = Depends(operator),
    org: OrgScope = Depends(org_scope),
) -> Any:
    planner = service_of(request).planner
    saved = await planner.set_token_need(org.organization_id, token_id, body.needKWh, body.departAt, body.priority)
    return ok(request, saved)
