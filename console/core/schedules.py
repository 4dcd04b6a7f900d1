"""What a charger will draw over time (GetCompositeSchedule), and the charging profiles the console installed.

The installed profiles are read from the action record: every SetChargingProfile
(and remote start carrying one) the charger acknowledged, the latest per
connector and profile id, less those a later acknowledged ClearChargingProfile
removed. Clearing one goes out as ClearChargingProfile through the ledger.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import Session, col, select

from console.core.errors import NotFound, ValidationFailed
from console.core.live import LiveState
from console.core.models import Action, Charger
from console.core.store import Store
from console.core.tokens import parse_time
from console.core.views import CompositeScheduleView, OperationResult, ProfileView, SchedulePeriodView
from console.core.versions import OcppVersion

Operate = Callable[..., Awaitable[OperationResult]]
INSTALLING = ("SetChargingProfile", "RemoteStartTransaction", "RequestStartTransaction")
DONE = ("acknowledged", "completed")
LONGEST_S = 7 * 24 * 3600


def composite_request(ocpp_version: str, connector_id: int, duration_s: int) -> tuple[str, dict[str, Any]]:
    if ocpp_version == OcppVersion.V16:
        return "GetCompositeSchedule", {"connectorId": connector_id, "duration": duration_s}
    return "GetCompositeSchedule", {"duration": duration_s, "evseId": connector_id}


def clear_request(ocpp_version: str, profile_id: int) -> tuple[str, dict[str, Any]]:
    if ocpp_version == OcppVersion.V16:
        return "ClearChargingProfile", {"id": profile_id}
    return "ClearChargingProfile", {"chargingProfileId": profile_id}


def schedule_view(charger_id: str, connector_id: int, result: OperationResult) -> CompositeScheduleView:
    if result.state != "acknowledged" or result.answer is None:
        problem = f"{result.status} by {result.identity}" if result.state == "rejected" else (result.detail or result.reason)
        return CompositeScheduleView(charger_id, connector_id, result.status or result.state, problem=problem)
    answer = result.answer
    schedule = answer.get("chargingSchedule") or answer.get("schedule") or {}
    start = answer.get("scheduleStart") or schedule.get("scheduleStart") or schedule.get("startSchedule")
    periods = tuple(
        SchedulePeriodView(int(period.get("startPeriod", 0)), float(period.get("limit", 0)), period.get("numberPhases"))
        for period in schedule.get("chargingSchedulePeriod") or []
    )
    return CompositeScheduleView(
        charger_id,
        connector_id,
        str(answer.get("status")),
        start=parse_time(start) if start else None,
        duration_s=schedule.get("duration"),
        unit=schedule.get("chargingRateUnit"),
        periods=periods,
    )


def _profile_of(action: Action) -> tuple[int, dict[str, Any]] | None:
    """(connector, profile) an installing action sent; None for one that carried none."""
    request = action.request or action.parameters or {}
    if action.operation == "SetChargingProfile":
        profile = request.get("csChargingProfiles") or request.get("chargingProfile")
        connector = request.get("connectorId", request.get("evseId", 0))
    else:
        profile = request.get("chargingProfile")
        connector = request.get("connectorId", request.get("evseId", 0))
    return (int(connector or 0), profile) if isinstance(profile, dict) else None


def installed_profiles(actions: list[Action]) -> list[ProfileView]:
    """The profiles in force as the record tells, oldest action first in `actions`."""
    installed: dict[tuple[int, int], ProfileView] = {}
    for action in actions:
        if action.operation == "ClearChargingProfile":
            request = action.parameters or {}
            wanted = request.get("id", request.get("chargingProfileId"))
            for key, view in list(installed.items()):
                if wanted is None or view.profile_id == wanted:
                    del installed[key]
            continue
        found = _profile_of(action)
        if found is None:
            continue
        connector, profile = found
        profile_id = profile.get("chargingProfileId", profile.get("id"))
        schedule = profile.get("chargingSchedule")
        if isinstance(schedule, list):
            schedule = schedule[0] if schedule else {}
        periods = (schedule or {}).get("chargingSchedulePeriod") or [{}]
        installed[(connector, int(profile_id))] = ProfileView(
            profile_id=int(profile_id),
            connector_id=connector,
            purpose=str(profile.get("chargingProfilePurpose")),
            stack_level=int(profile.get("stackLevel", 0)),
            unit=str((schedule or {}).get("chargingRateUnit", "W")),
            limit=float(periods[0].get("limit", 0)),
            command=action.command,
            action_id=action.id,
            installed_at=action.answered_at or action.updated_at,
        )
    return sorted(installed.values(), key=lambda view: (view.connector_id, view.profile_id))


class Schedules:
    def __init__(self, store: Store, live: LiveState, operate: Operate) -> None:
        self.store = store
        self.live = live
        self.operate = operate

    def _record(self, charger_id: str) -> Charger:
        record = self.live.record(charger_id)
        if record is None:
            raise NotFound(f"no charger {charger_id!r}")
        return record

    async def composite(self, charger_id: str, connector_id: int = 0, duration_s: int = 3600) -> CompositeScheduleView:
        record = self._record(charger_id)
        problems = {}
        if isinstance(connector_id, bool) or not isinstance(connector_id, int) or not 0 <= connector_id <= record.number_of_connectors:
            problems["connector_id"] = f"0 (the whole charger) to {record.number_of_connectors}"
        if isinstance(duration_s, bool) or not isinstance(duration_s, int) or not 60 <= duration_s <= LONGEST_S:
            problems["duration_s"] = "60 s to 7 days"
        if problems:
            raise ValidationFailed(problems)
        operation, payload = composite_request(record.ocpp_version, connector_id, duration_s)
        result = await self.operate(charger_id, operation, payload, command="composite_schedule")
        return schedule_view(charger_id, connector_id, result)

    async def installed(self, charger_id: str) -> list[ProfileView]:
        self._record(charger_id)

        def read(session: Session) -> list[Action]:
            return list(
                session.exec(
                    select(Action)
                    .where(
                        Action.charger_id == charger_id,
                        col(Action.operation).in_((*INSTALLING, "ClearChargingProfile")),
                        col(Action.state).in_(DONE),
                    )
                    .order_by(col(Action.answered_at), col(Action.created_at))
                ).all()
            )

        return installed_profiles(await self.store.run(read))

    async def clear(self, charger_id: str, profile_id: int) -> OperationResult:
        record = self._record(charger_id)
        if not any(view.profile_id == profile_id for view in await self.installed(charger_id)):
            raise NotFound(f"no profile {profile_id} installed on {record.identity}")
        operation, payload = clear_request(record.ocpp_version, profile_id)
        return await self.operate(charger_id, operation, payload, command="clear_profile")
