"""The action ledger: every road to a charger (operations, charge and idle, the power cap) is recorded the same way.

Charge and idle commands get the timing and the failure reasons operations get;
an immediate charge costs three store writes and one ActionChanged per state.
The chargers are real OCPP clients (the `ocpp` package's ChargePoint).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result

from console.core import operations as ops
from console.core.clock import ManualClock
from console.core.events import ActionChanged, ChargerUpdated
from console.core.models import Location
from console.core.service import ConsoleService
from console.core.store import Store
from console.csms.server import CentralSystem
from ocpp_clients import charge_point, eventually

pytestmark = pytest.mark.stores("sqlite", "postgresql")


class Obliging16(ChargePoint):
    """Accepts remote starts and profiles without starting a session; `slow` answers a remote start too late."""

    slow = False

    @on("RemoteStartTransaction")
    async def on_remote_start(self, id_tag: str, **_: Any) -> call_result.RemoteStartTransaction:
        if self.slow:
            await asyncio.sleep(5)
        return call_result.RemoteStartTransaction(status="Accepted")

    @on("SetChargingProfile")
    async def on_set_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> call_result.SetChargingProfile:
        return call_result.SetChargingProfile(status="Accepted")


@contextlib.asynccontextmanager
async def online(central: CentralSystem, identity: str, slow: bool = False) -> AsyncIterator[Obliging16]:
    async with charge_point(central.url, identity, client=Obliging16) as cp:
        cp.slow = slow
        await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await eventually(lambda: central.is_connected(identity))
        yield cp


async def settled(service: ConsoleService, action_id: str) -> Any:
    async def done() -> Any:
        action = await service.get_action(action_id)
        return action if action.state in ("completed", "rejected", "failed") else None

    await eventually(done)
    return await service.get_action(action_id)


async def test_a_charge_and_an_idle_are_timed_like_operations(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "LED-1", "max_charging_power": 22000})
    async with online(central_system, "LED-1") as cp:
        charge = await settled(service, (await service.send_command(charger.id, "charge", {"idTag": "T"})).id)
        await cp.call(call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2026-04-02T09:15:00Z"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
        idle = await settled(service, (await service.send_command(charger.id, "idle")).id)
    for action, operation in ((charge, "RemoteStartTransaction"), (idle, "SetChargingProfile")):
        assert (action.state, action.operation, action.result, action.reason) == (
            "completed", operation, {"status": "Accepted"}, None,
        )
        assert action.sent_at is not None and action.answered_at is not None and action.duration_ms is not None
    assert charge.parameters == {"idTag": "T"}


async def test_a_charge_the_charger_does_not_answer_fails_with_timeout(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "LED-2"})
    async with online(central_system, "LED-2", slow=True):
        charge = await settled(service, (await service.send_command(charger.id, "charge")).id)
    assert (charge.state, charge.reason) == ("failed", "timeout")
    assert charge.detail.startswith("timeout")
    assert charge.sent_at is not None and charge.answered_at is None and charge.duration_ms >= 1900


async def test_a_charge_for_a_charger_that_stays_offline_fails_with_offline(service: ConsoleService, clock: ManualClock) -> None:
    charger = await service.create_charger({"identity": "LED-3"})
    action = await service.send_command(charger.id, "idle")

    async def waiting() -> bool:
        return ((await service.get_action(action.id)).detail or "").startswith("waiting")

    await eventually(waiting)
    clock.advance(5 * 60)
    idle = await settled(service, action.id)
    assert (idle.state, idle.reason, idle.sent_at) == ("failed", "offline", None)


async def test_one_immediate_charge_writes_three_times_and_tells_each_state_once(tmp_path: Path, clock: ManualClock) -> None:
    store = Store(f"sqlite:///{tmp_path / 'console.db'}")
    # The batch writer (frames, live state) holds its rows for the whole test: what is counted is the ledger's.
    service = ConsoleService(store, clock=clock, flush_interval=3600)
    await service.open()
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    try:
        charger = await service.create_charger({"identity": "LED-4"})
        async with online(central, "LED-4"):
            subscription = service.subscribe(kinds=(ActionChanged, ChargerUpdated), frames=False)
            writes = 0
            run = store.run

            async def counted(work: Any) -> Any:
                nonlocal writes
                writes += 1
                return await run(work)

            store.run = counted  # type: ignore[method-assign]
            action = await service.send_command(charger.id, "charge")
            changes: list[str] = []
            updates: list[str] = []
            while "completed" not in changes:
                for event in await asyncio.wait_for(subscription.next_batch(), 5):
                    if isinstance(event, ActionChanged) and event.action.id == action.id:
                        changes.append(event.action.state)
                    elif isinstance(event, ChargerUpdated) and event.charger.last_action is not None:
                        updates.append(event.charger.last_action.state)
            store.run = run  # type: ignore[method-assign]
    finally:
        await central.stop()
        await service.close()
        store.close()
    # Before the ledger: four writes (pending, sent, acknowledged, completed) and the live state told four times.
    assert writes == 3
    assert changes == ["pending", "sent", "acknowledged", "completed"]
    assert updates == ["pending", "sent", "completed"]


async def test_the_power_cap_s_limits_are_recorded_the_same_way(service: ConsoleService, central_system: CentralSystem) -> None:
    def write(session: Any) -> str:
        org = service.fleet.ensure_org(session)
        now = service.clock.now()
        location = Location(organization_id=org.id, name="Yard", power_cap_kw=11.0, created_at=now, updated_at=now)
        session.add(location)
        session.commit()
        return location.id

    location_id = await service.store.run(write)
    service.live.locations_changed(await service.store.run(service.fleet.locations))
    charger = await service.create_charger({"identity": "LED-5", "max_charging_power": 22000, "location_id": location_id})
    async with online(central_system, "LED-5"):
        # Connected without a session under a cap it could exceed: it holds 0 W.
        async def capped() -> Any:
            return next((a for a in await service.list_actions(charger.id) if a.command == "power_cap" and a.state == "acknowledged"), None)

        await eventually(capped)
        action = await capped()
    assert action.operation == "SetChargingProfile" and action.sent_at is not None and action.duration_ms is not None
    profile = action.parameters["csChargingProfiles"]
    assert (profile["chargingProfilePurpose"], profile["chargingProfileKind"], action.parameters["connectorId"]) == (
        "ChargePointMaxProfile", "Absolute", 0,
    )
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 0.0}]


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1"])
def test_every_profile_the_console_sends_is_valid_ocpp(version: str) -> None:
    """One builder for every charging profile: a session's limit, a remote start's, the whole charger's."""
    session = 42 if version == "OCPP1.6" else "tx-42"
    limit = ops.charging_profile(version, 1001, 1, ops.TX_PROFILE, 7400.0, transaction=session)
    cap = ops.charging_profile(version, 2001, 0, ops.STATION_MAX_PROFILE, 11000.0, start="2026-04-02T09:15:00Z")
    for operation, payload in (
        ops.set_profile_request(version, 1, limit),
        ops.set_profile_request(version, 0, cap),
        ops.remote_start_request(version, 1, "T", 7, ops.charging_profile(version, 1001, 1, ops.TX_PROFILE, 7400.0)),
    ):
        assert ops.request_problem(version, operation, payload) is None, (operation, payload)
    assert (limit.get("transactionId"), cap["chargingProfileKind"]) == (session, "Absolute")


async def test_a_charge_in_flight_when_the_console_stops_ends_with_its_outcome_unknown(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "LED-6"})
    async with online(central_system, "LED-6", slow=True):
        action = await service.send_command(charger.id, "charge")

        async def sent() -> bool:
            return (await service.get_action(action.id)).state == "sent"

        await eventually(sent)
        await service.engine.stop(drain_seconds=0.1)
    stopped = await service.get_action(action.id)
    # The charger got the remote start and may have done it: not a failure, an outcome nobody knows.
    assert (stopped.state, stopped.reason) == ("unknown", "interrupted")
    assert stopped.detail == (
        "outcome unknown: the console stopped after sending RemoteStartTransaction to LED-6, before its answer; check the charger"
    )
