"""Simulated chargers end to end: real central system on loopback, real store, manual clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import select

from console.core.clock import ManualClock
from console.core.events import LogAppended
from console.core.models import Connector, MeterSample, Transaction
from console.core.service import ConsoleService
from console.core.store import Store
from console.csms.server import CentralSystem
from console.sim.ev import EV, phase_current
from console.sim.manager import SimManager
from simtools import closed_port, eventually, online_charger, rows, run_clock, settle, status_of


async def test_a_simulated_charger_boots_and_reports_its_connectors(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem
) -> None:
    charger_id = await online_charger(service, manager)

    view = await service.get_charger(charger_id)
    assert view.is_connected and view.status == "available"
    assert view.runtime == "online" and view.runtime_detail is None
    all_available = [(0, "Available"), (1, "Available"), (2, "Available")]
    assert [(c.connector_id, c.status) for c in view.connectors] == all_available
    stored = await rows(service, select(Connector).where(Connector.charger_id == charger_id))
    assert sorted((row.connector_id, row.status) for row in stored) == all_available
    assert central_system.is_connected("CP-1")
    logs = [entry.message for entry in await service.charger_logs(charger_id)]
    assert any(message.startswith("runtime: connecting to ws://127.0.0.1:") for message in logs)


async def test_start_is_idempotent_and_stop_takes_the_charger_offline(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager)

    assert await service.start_charger(charger_id) == "CP-1 is already running"
    assert central_system.connected_count() == 1

    assert await asyncio.wait_for(service.stop_charger(charger_id), 1.5) == "CP-1 stopped"
    await eventually(lambda: not central_system.is_connected("CP-1"), timeout=2)
    view = await service.get_charger(charger_id)
    assert view.status == "offline" and not view.is_connected
    assert manager.state(charger_id) == ("stopped", None)
    assert await service.stop_charger(charger_id) == "CP-1 is not running"

    assert await service.restart_charger(charger_id) == "CP-1 restarted"
    await eventually(lambda: manager.state(charger_id)[0] == "online")
    assert (await service.get_charger(charger_id)).is_connected
    logs = [entry.message for entry in await service.charger_logs(charger_id)]
    assert sum("BootNotification" in message and message.startswith("[2,") for message in logs) == 2


async def test_a_remote_started_session_is_metered_and_persisted(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager)

    answer = await central_system.call("CP-1", "RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    assert answer == {"status": "Accepted"}
    await settle(manager)
    assert await status_of(service, charger_id, 1) == "Charging"
    assert (await service.get_charger(charger_id)).is_charging

    await run_clock(clock, manager, 60)
    (transaction,) = await rows(service, select(Transaction))
    samples = await rows(service, select(MeterSample).order_by(MeterSample.id))
    energy = [s.value for s in samples if s.measurand == "Energy.Active.Import.Register"]
    power = [s.value for s in samples if s.measurand == "Power.Active.Import"]
    currents = [s for s in samples if s.measurand == "Current.Import"]
    # A Transaction.Begin sample, then one every 10 s; each power holds until the next sample.
    assert len(energy) == len(power) == 7
    assert {s.phase for s in currents} == {"L1", "L2", "L3"}
    assert energy[0] == transaction.meter_start_wh
    for before, after, drawn in zip(energy, energy[1:], power):
        assert after - before == pytest.approx(drawn * 10 / 3600, abs=0.2)
    assert currents[-1].value == pytest.approx(phase_current(power[-1]), abs=0.1)
    assert {s.transaction_id for s in samples} == {transaction.id}
    view = await service.get_charger(charger_id)
    assert view.current_power_kw == pytest.approx(power[-1] / 1000, abs=0.01)

    assert await central_system.call("CP-1", "RemoteStopTransaction", {"transactionId": 999}) == {"status": "Rejected"}
    stop = await central_system.call("CP-1", "RemoteStopTransaction", {"transactionId": transaction.id})
    assert stop == {"status": "Accepted"}
    await settle(manager)
    (transaction,) = await rows(service, select(Transaction))
    assert transaction.stop_reason == "Remote"
    assert transaction.meter_stop_wh == int(energy[-1])
    assert await status_of(service, charger_id, 1) == "Finishing"
    await run_clock(clock, manager, 20)
    assert await status_of(service, charger_id, 1) == "Available"


async def test_a_session_ends_by_itself_when_the_driver_leaves_or_the_car_is_full(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager, connectors=1)
    await central_system.call("CP-1", "RemoteStartTransaction", {"idTag": "TAG1"})
    await settle(manager)

    await run_clock(clock, manager, 960, step=10)

    (transaction,) = await rows(service, select(Transaction))
    assert transaction.stop_reason in ("Local", "EVDisconnected")
    assert transaction.meter_stop_wh > transaction.meter_start_wh
    assert await status_of(service, charger_id, 1) == "Available"


async def test_remote_start_is_rejected_when_no_connector_is_free(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem
) -> None:
    await online_charger(service, manager, connectors=1)
    assert await central_system.call("CP-1", "RemoteStartTransaction", {"idTag": "A"}) == {"status": "Accepted"}
    await settle(manager)
    assert await central_system.call("CP-1", "RemoteStartTransaction", {"idTag": "B"}) == {"status": "Rejected"}
    busy = {"idTag": "B", "connectorId": 1}
    assert await central_system.call("CP-1", "RemoteStartTransaction", busy) == {"status": "Rejected"}


async def test_reset_stops_the_session_and_boots_again(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem
) -> None:
    charger_id = await online_charger(service, manager)
    await central_system.call("CP-1", "RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 2})
    await settle(manager)

    assert await central_system.call("CP-1", "Reset", {"type": "Soft"}) == {"status": "Accepted"}

    async def booted_twice() -> bool:
        logs = await service.charger_logs(charger_id)
        boots = [entry for entry in logs if entry.direction == "in" and entry.action == "BootNotification"]
        return len(boots) == 2 and manager.state(charger_id)[0] == "online"

    await eventually(booted_twice)
    await settle(manager)

    (transaction,) = await rows(service, select(Transaction))
    assert transaction.stop_reason == "SoftReset" and transaction.meter_stop_wh is not None
    assert central_system.is_connected("CP-1")
    logs = await service.charger_logs(charger_id)
    assert any(entry.message == "runtime: rebooting after a Soft reset" for entry in logs)
    assert await status_of(service, charger_id, 2) == "Available"


async def test_configuration_availability_and_triggers(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager)
    call = central_system.call

    config = await call("CP-1", "GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]})
    assert config == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
        "unknownKey": ["Nope"],
    }

    async def change(key: str, value: str) -> str:
        return (await call("CP-1", "ChangeConfiguration", {"key": key, "value": value}))["status"]

    assert await change("MeterValueSampleInterval", "5") == "Accepted"
    assert await change("HeartbeatInterval", "soon") == "Rejected"
    assert await change("NumberOfConnectors", "4") == "Rejected"
    assert await change("MeterValuesSampledData", "Energy.Active.Import.Register,Temperature,Bogus") == "Rejected"
    assert await change("Colour", "red") == "NotSupported"
    assert await call("CP-1", "ClearCache", {}) == {"status": "Accepted"}
    assert (await call("CP-1", "DataTransfer", {"vendorId": "acme"}))["status"] == "UnknownVendorId"
    assert await call("CP-1", "UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}

    availability = await call("CP-1", "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    assert availability == {"status": "Accepted"}
    await settle(manager)
    assert (await service.get_charger(charger_id)).status == "unavailable"
    assert await call("CP-1", "RemoteStartTransaction", {"idTag": "TAG1"}) == {"status": "Rejected"}
    await call("CP-1", "ChangeAvailability", {"connectorId": 0, "type": "Operative"})
    await settle(manager)
    assert (await service.get_charger(charger_id)).status == "available"

    before = len(await service.charger_logs(charger_id))
    for message in ("Heartbeat", "StatusNotification", "MeterValues", "BootNotification"):
        assert await call("CP-1", "TriggerMessage", {"requestedMessage": message}) == {"status": "Accepted"}
        await settle(manager)
    assert await call("CP-1", "TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"}) == {
        "status": "NotImplemented"
    }
    triggered = {e.action for e in (await service.charger_logs(charger_id))[before:] if e.direction == "in"}
    assert {"Heartbeat", "StatusNotification", "MeterValues", "BootNotification"} <= triggered

    await call("CP-1", "RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    await settle(manager)
    await run_clock(clock, manager, 20)
    energy = await rows(service, select(MeterSample).where(MeterSample.measurand == "Energy.Active.Import.Register"))
    # One sample as the session begins, then one every 5 s.
    assert len([s for s in energy if s.transaction_id is not None]) == 5


async def test_an_unreachable_central_system_crashes_and_retries_with_backoff(
    service: ConsoleService, clock: ManualClock
) -> None:
    port = closed_port()
    manager = SimManager(service.live, clock, f"ws://127.0.0.1:{port}", seed=1)
    service.attach(runtime=manager)
    view = await service.create_charger({"identity": "CP-1", "simulated": True})
    try:
        await service.start_charger(view.id)
        await eventually(lambda: manager.state(view.id)[0] == "crashed")
        state, detail = manager.state(view.id)
        assert detail == (
            f"csms_unreachable: connection refused at ws://127.0.0.1:{port} — is the central system running?"
        )
        assert (await service.get_charger(view.id)).runtime == "crashed"

        clock.advance(BACKOFF_WAIT)
        await eventually(lambda: "retry 1" in (manager.state(view.id)[1] or ""))
        assert "csms_unreachable" in (manager.state(view.id)[1] or "")
        assert await asyncio.wait_for(manager.stop(view.id), 1.5) == "CP-1 stopped"
    finally:
        await manager.close()


BACKOFF_WAIT = 2.0  # the first retry waits 0.5–1.5 s


async def test_an_unknown_identity_is_refused_at_the_handshake(
    service: ConsoleService, clock: ManualClock, tmp_path: Path
) -> None:
    other = ConsoleService(Store(f"sqlite:///{tmp_path / 'other.db'}"), clock=clock, flush_interval=0.05)
    await other.open()
    central = CentralSystem(other, port=0)
    await central.start()
    manager = SimManager(service.live, clock, central.url, seed=1, reconnect=False)
    view = await service.create_charger({"identity": "CP-9", "simulated": True})
    try:
        await manager.start(view.id)
        await eventually(lambda: manager.state(view.id)[0] == "crashed")
        assert manager.state(view.id)[1] == (
            "handshake_refused: HTTP 404 — the identity is not registered in the central system"
        )
    finally:
        await manager.close()
        await central.stop()
        await other.close()
        other.store.close()


async def test_the_same_seed_gives_the_same_frames(tmp_path: Path) -> None:
    async def one_run(name: str) -> list[tuple[str, str | None, str]]:
        clock = ManualClock()
        service = ConsoleService(Store(f"sqlite:///{tmp_path / name}"), clock=clock, flush_interval=0.05)
        await service.open()
        central = CentralSystem(service, port=0)
        await central.start()
        manager = SimManager(service.live, clock, central.url, seed=42)
        subscription = service.subscribe()
        try:
            view = await service.create_charger({"identity": "CP-7", "simulated": True, "number_of_connectors": 2})
            await manager.start(view.id)
            await eventually(lambda: manager.state(view.id)[0] == "online")
            await settle(manager)
            await run_clock(clock, manager, 240, step=2)
            frames = [
                (event.entry.direction, event.entry.action, event.entry.message)
                for event in subscription.drain()
                if isinstance(event, LogAppended) and event.entry.direction in ("in", "out")
            ]
        finally:
            subscription.close()
            await manager.close()
            await central.stop()
            await service.close()
            service.store.close()
        return frames

    first, second = await one_run("a.db"), await one_run("b.db")
    actions = [action for direction, action, _ in first if direction == "in"]
    assert {"StartTransaction", "MeterValues"} <= set(actions)  # the automatic driver came within 60 s
    assert first == second


def test_the_car_draws_less_as_it_fills() -> None:
    car = EV(battery_kwh=50, soc=50, max_power_w=11000)
    assert car.power_w(22000) == 11000
    assert car.charge(11000, 3600) == pytest.approx(11000)
    assert car.soc == pytest.approx(72)
    car.soc = 90
    assert car.power_w(22000) == pytest.approx(5500)
    car.charge(50000, 3600)
    assert car.full and car.power_w(22000) == 0


async def test_connectors_share_the_chargers_supply(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager, connectors=2)
    for connector_id in (1, 2):
        await central_system.call("CP-1", "RemoteStartTransaction", {"idTag": f"TAG{connector_id}", "connectorId": connector_id})
        await settle(manager)
    await run_clock(clock, manager, 30)
    samples = await rows(service, select(MeterSample).where(MeterSample.measurand == "Power.Active.Import"))
    latest = {s.connector_id: s.value for s in samples}
    assert set(latest) == {1, 2}
    assert sum(latest.values()) <= 22000
    view = await service.get_charger(charger_id)
    assert view.current_power_kw <= 22.0
