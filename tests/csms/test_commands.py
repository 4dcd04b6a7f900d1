"""The action engine: charge and idle, immediate, scheduled and windowed, conflicts, restarts, offline chargers.

The charger side is a small conforming OCPP 1.6J client (the `ocpp` package's
ChargePoint) that starts, limits and stops sessions as it is told; time is a
ManualClock the tests advance.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from sqlmodel import select

from console.core.clock import ManualClock
from console.core.engine import CommandRefused
from console.core.models import Action
from console.core.service import ConsoleService
from console.core.store import Store
from console.csms.server import CentralSystem
from ocpp_clients import charge_point, eventually


class Charger16(ChargePoint):
    """Starts a session on remote start; honours TxProfile limits; stops on remote stop."""

    transaction_id: int | None = None
    limit_w: float = 22_000.0
    received: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = []

    async def begin(self, connector_id: int = 1, id_tag: str = "LOCAL") -> None:
        started = await self.call(call.StartTransaction(connector_id=connector_id, id_tag=id_tag, meter_start=0, timestamp="2026-04-02T09:15:00Z"))
        self.transaction_id = started.transaction_id
        await self.report()

    async def report(self) -> None:
        status = "Charging" if self.limit_w > 0 else "SuspendedEVSE"
        await self.call(call.StatusNotification(connector_id=1, error_code="NoError", status=status))
        await self.call(
            call.MeterValues(
                connector_id=1, transaction_id=self.transaction_id,
                meter_value=[{"timestamp": "2026-04-02T09:16:00Z", "sampledValue": [
                    {"value": str(self.limit_w), "measurand": "Power.Active.Import", "unit": "W"}]}],
            )
        )

    @on("RemoteStartTransaction")
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> call_result.RemoteStartTransaction:
        self.received.append("RemoteStartTransaction")
        asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.begin(connector_id or 1, id_tag)))
        return call_result.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    async def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        self.received.append("RemoteStopTransaction")
        return call_result.RemoteStopTransaction(status="Accepted")

    @on("SetChargingProfile")
    async def on_set_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> call_result.SetChargingProfile:
        limit = float(cs_charging_profiles["charging_schedule"]["charging_schedule_period"][0]["limit"])
        self.received.append(f"SetChargingProfile {limit:g}")
        self.limit_w = limit
        if self.transaction_id is not None:
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.report()))
        return call_result.SetChargingProfile(status="Accepted")


@contextlib.asynccontextmanager
async def online(central: CentralSystem, service: ConsoleService, identity: str) -> AsyncIterator[Charger16]:
    async with charge_point(central.url, identity, client=Charger16) as cp:
        await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        yield cp


async def state_of(service: ConsoleService, action_id: str) -> str:
    return (await service.get_action(action_id)).state


async def reaches(service: ConsoleService, action_id: str, state: str) -> None:
    async def check() -> bool:
        return await state_of(service, action_id) == state

    await eventually(check)


@pytest.fixture
async def charger_id(service: ConsoleService) -> str:
    return (await service.create_charger({"identity": "CMD-1", "max_charging_power": 22000})).id


async def test_immediate_charge_starts_a_session(service: ConsoleService, central_system: CentralSystem, charger_id: str) -> None:
    async with online(central_system, service, "CMD-1") as cp:
        action = await service.send_command(charger_id, "charge", {"idTag": "FLEET-7"})
        assert action.id.startswith("action_") and action.execution == "immediate"
        await reaches(service, action.id, "completed")
        assert cp.received == ["RemoteStartTransaction"]
        await eventually(lambda: charging(service, charger_id))
        view = await service.get_charger(charger_id)
        assert view.last_action is not None and (view.last_action.command, view.last_action.state) == ("charge", "completed")
        # Idle keeps the session open with a 0 W limit; idle with stopSession ends it.
        idle = await service.send_command(charger_id, "idle")
        await reaches(service, idle.id, "completed")
        assert cp.received[-1] == "SetChargingProfile 0"
        await eventually(lambda: not_charging(service, charger_id))
        charge = await service.send_command(charger_id, "charge", {"powerLimit": 11})
        await reaches(service, charge.id, "completed")
        assert cp.received[-1] == "SetChargingProfile 11000"
        stop = await service.send_command(charger_id, "idle", {"stopSession": True})
        await reaches(service, stop.id, "completed")
        assert cp.received[-1] == "RemoteStopTransaction"


async def charging(service: ConsoleService, charger_id: str) -> bool:
    return (await service.get_charger(charger_id)).is_charging


async def not_charging(service: ConsoleService, charger_id: str) -> bool:
    return not (await service.get_charger(charger_id)).is_charging


async def test_scheduled_charge_runs_at_its_time(
    service: ConsoleService, central_system: CentralSystem, charger_id: str, clock: ManualClock
) -> None:
    async with online(central_system, service, "CMD-1") as cp:
        action = await service.send_command(charger_id, "charge", execution="scheduled", start="30m")
        assert action.state == "scheduled"
        assert (await service.get_charger(charger_id)).current_schedule["actionId"] == action.id
        clock.advance(29 * 60)
        await asyncio.sleep(0.05)
        assert await state_of(service, action.id) == "scheduled" and cp.received == []
        clock.advance(60)
        await reaches(service, action.id, "completed")
        assert cp.received == ["RemoteStartTransaction"]
        assert (await service.get_charger(charger_id)).current_schedule is None


async def test_windowed_charge_idles_outside_and_charges_inside(
    service: ConsoleService, central_system: CentralSystem, charger_id: str, clock: ManualClock
) -> None:
    async with online(central_system, service, "CMD-1") as cp:
        window = await service.send_command(charger_id, "charge", start="10m", end="40m")
        assert (window.execution, window.state) == ("windowed", "scheduled")
        # An EV plugged in before the window is held at 0 W.
        await cp.begin()
        await eventually(lambda: "SetChargingProfile 0" in cp.received)
        await eventually(lambda: not_charging(service, charger_id))
        clock.advance(10 * 60)
        await reaches(service, window.id, "acknowledged")
        assert cp.received[-1] == "SetChargingProfile 22000"
        await eventually(lambda: charging(service, charger_id))
        schedule = (await service.get_charger(charger_id)).current_schedule
        assert schedule is not None and schedule["execution"] == "windowed"
        clock.advance(30 * 60)
        await reaches(service, window.id, "completed")
        assert cp.received[-1] == "SetChargingProfile 0"
        await eventually(lambda: not_charging(service, charger_id))


@pytest.mark.parametrize(
    ("command", "options", "code"),
    [
        ("charge", {"execution": "scheduled", "start": "2020-01-01T00:00:00Z"}, "START_OUT_OF_RANGE"),
        ("charge", {"execution": "scheduled", "start": "31d"}, "START_OUT_OF_RANGE"),
        ("charge", {"start": "2h", "end": "1h"}, "END_BEFORE_START"),
        ("charge", {"execution": "scheduled", "start": "tomorrowish"}, "INVALID_TIME"),
        ("charge", {"execution": "scheduled"}, "START_REQUIRED"),
        ("charge", {"execution": "windowed", "start": "1h"}, "END_REQUIRED"),
        ("idle", {"start": "1h", "end": "2h"}, "EXECUTION_NOT_SUPPORTED"),
        ("boost", {}, "INVALID_COMMAND"),
        ("charge", {"parameters": {"powerLimit": 50}}, "INVALID_PARAMETERS"),
        ("charge", {"parameters": {"colour": "red"}}, "INVALID_PARAMETERS"),
        ("charge", {"on_conflict": "shout"}, "INVALID_CONFLICT_STRATEGY"),
    ],
)
async def test_bad_commands_are_refused_with_a_name(
    service: ConsoleService, charger_id: str, command: str, options: dict[str, Any], code: str
) -> None:
    with pytest.raises(CommandRefused) as refused:
        await service.send_command(charger_id, command, **options)
    assert refused.value.code == code
    assert await service.list_actions(charger_id) == []


async def test_conflicts_are_refused_replaced_or_queued(
    service: ConsoleService, central_system: CentralSystem, charger_id: str, clock: ManualClock
) -> None:
    first = await service.send_command(charger_id, "charge", execution="scheduled", start="1h")
    with pytest.raises(CommandRefused) as refused:
        await service.send_command(charger_id, "idle", execution="scheduled", start="2h")
    assert refused.value.code == "CONFLICT" and refused.value.conflicting == first.id and first.id in str(refused.value)

    second = await service.send_command(charger_id, "charge", start="2h", end="3h", on_conflict="cancel_and_replace")
    assert await state_of(service, first.id) == "cancelled"
    assert "replaced by " + second.id == (await service.get_action(first.id)).detail

    third = await service.send_command(charger_id, "idle", on_conflict="queue_after")
    assert (await service.get_action(third.id)).state == "scheduled"
    async with online(central_system, service, "CMD-1") as cp:
        clock.advance(2 * 3600)
        await reaches(service, second.id, "acknowledged")
        assert await state_of(service, third.id) == "scheduled"
        clock.advance(3600)
        await reaches(service, second.id, "completed")
        await reaches(service, third.id, "completed")
        assert cp.received[0] == "RemoteStartTransaction"


async def test_pending_and_scheduled_actions_can_be_cancelled(service: ConsoleService, charger_id: str) -> None:
    scheduled = await service.send_command(charger_id, "charge", execution="scheduled", start="1h")
    cancelled = await service.cancel_action(scheduled.id)
    assert cancelled.state == "cancelled"
    with pytest.raises(CommandRefused) as refused:
        await service.cancel_action(scheduled.id)
    assert refused.value.code == "NOT_CANCELLABLE"


async def test_an_offline_charger_gets_until_the_grace_period(
    service: ConsoleService, central_system: CentralSystem, charger_id: str, clock: ManualClock
) -> None:
    waiting = await service.send_command(charger_id, "charge")
    await eventually(lambda: detail_starts(service, waiting.id, "waiting for CMD-1"))
    clock.advance(60)
    async with online(central_system, service, "CMD-1") as cp:
        await reaches(service, waiting.id, "completed")
        assert cp.received == ["RemoteStartTransaction"]

    await eventually(lambda: not_connected(service, charger_id))
    late = await service.send_command(charger_id, "idle")
    await eventually(lambda: detail_starts(service, late.id, "waiting"))
    clock.advance(5 * 60)
    await reaches(service, late.id, "failed")
    assert (await service.get_action(late.id)).detail.startswith("offline: CMD-1 did not come back")


async def detail_starts(service: ConsoleService, action_id: str, prefix: str) -> bool:
    return ((await service.get_action(action_id)).detail or "").startswith(prefix)


async def not_connected(service: ConsoleService, charger_id: str) -> bool:
    return not (await service.get_charger(charger_id)).is_connected


async def test_a_restart_runs_what_is_due_and_expires_what_was_missed(store: Store, clock: ManualClock) -> None:
    first = ConsoleService(store, clock=clock, flush_interval=0.05)
    await first.open()
    charger = await first.create_charger({"identity": "CMD-R"})
    missed = await first.send_command(charger.id, "charge", execution="scheduled", start="10m")
    due = await first.send_command(charger.id, "idle", execution="scheduled", start="58m", on_conflict="queue_after")
    later = await first.create_charger({"identity": "CMD-L"})
    kept = await first.send_command(later.id, "charge", start="2h", end="3h")
    await first.close()

    clock.advance(60 * 60)  # the console was down for an hour
    second = ConsoleService(store, clock=clock, flush_interval=0.05)
    await second.open()
    try:
        assert (await second.get_action(missed.id)).state == "expired"
        assert "missed" in (await second.get_action(missed.id)).detail
        # Due two minutes ago, inside the grace period: it runs (and waits, the charger being offline).
        await eventually(lambda: detail_starts(second, due.id, "waiting"))
        assert (await second.get_action(kept.id)).state == "scheduled"
        assert (await second.get_charger(later.id)).current_schedule["actionId"] == kept.id
        rows = await store.run(lambda session: session.exec(select(Action)).all())
        assert len(rows) == 3
    finally:
        await second.close()


async def test_every_charger_lists_its_commands(service: ConsoleService) -> None:
    commands = service.charger_commands()
    assert commands["charge"]["execution"] == ["immediate", "scheduled", "windowed"]
    assert commands["idle"]["execution"] == ["immediate", "scheduled"]


def test_relative_and_absolute_times() -> None:
    from console.core.timespec import parse_time

    now = ManualClock().now()
    assert parse_time("30m", now) == now + timedelta(minutes=30)
    assert parse_time("2h", now) == now + timedelta(hours=2)
    assert parse_time("now", now) == now
    assert parse_time("2026-04-02T10:00:00Z", now).hour == 10
    with pytest.raises(ValueError):
        parse_time("soon", now)
