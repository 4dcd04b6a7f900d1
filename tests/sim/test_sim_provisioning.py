"""Runtime lifecycle and provisioning stages: each path against our server over loopback, clock advanced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console.core.clock import ManualClock
from console.core.events import LogAppended
from console.core.service import ConsoleService
from console.core.store import Store
from console.csms.server import CentralSystem
from console.sim.manager import SimManager
from console.sim.report import FleetReporter, simulated_records
from simtools import closed_port, eventually, online_charger, run_clock, settle

SAMPLE_FLEET = Path(__file__).resolve().parents[2] / "sample_fleet.json"


def stages(manager: SimManager, charger_id: str) -> dict[str, str]:
    return {s["name"]: s["status"] for s in manager.provisioning(charger_id)["stages"]}


async def test_stages_of_a_charger_that_comes_online(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem
) -> None:
    view = await service.create_charger({"identity": "CP-1", "simulated": True})
    assert manager.provisioning(view.id)["stage"] == "stopped"
    subscription = service.subscribe()
    await manager.start(view.id)
    await eventually(lambda: manager.state(view.id)[0] == "online")
    seen = []
    for event in subscription.drain():
        if isinstance(event, LogAppended) and event.entry.message.startswith("runtime: "):
            seen.append(event.entry.message.split(" ")[1])
    subscription.close()
    assert seen[:4] == ["starting", "connecting", "connected", "online"]
    report = manager.provisioning(view.id)
    assert report["stage"] == "online" and report["verdict"] is None
    assert set(stages(manager, view.id).values()) == {"ok"}

    await manager.stop(view.id)
    assert manager.provisioning(view.id)["stage"] == "stopped"


async def test_a_closed_port_shows_csms_unreachable_with_a_hint(service: ConsoleService, clock: ManualClock) -> None:
    manager = SimManager(service.live, clock, f"ws://127.0.0.1:{closed_port()}", seed=1)
    view = await service.create_charger({"identity": "CP-1", "simulated": True})
    try:
        await manager.start(view.id)
        await eventually(lambda: manager.state(view.id)[0] == "crashed")
        report = manager.provisioning(view.id)
        assert report["verdict"] == "csms_unreachable" and report["stage"] == "connecting"
        assert "Start the central system" in report["hint"]
        assert stages(manager, view.id) == {
            "queued": "ok", "starting": "ok", "connecting": "failed", "registering": "pending", "online": "pending"
        }
        # Failing again and again within minutes is a crash loop.
        for retry in range(1, 5):
            clock.advance(20)
            await eventually(lambda: f"retry {retry}" in (manager.state(view.id)[1] or ""))
            await eventually(lambda: manager.state(view.id)[0] == "crashed")
        report = manager.provisioning(view.id)
        assert report["verdict"] == "crash_loop" and report["detail"].startswith("crash_loop: 5 failures")
        assert "Start the central system" in report["hint"]
    finally:
        await manager.close()


async def test_an_unknown_identity_is_handshake_refused(service: ConsoleService, clock: ManualClock, tmp_path: Path) -> None:
    other = ConsoleService(Store(f"sqlite:///{tmp_path / 'other.db'}"), clock=clock, flush_interval=0.05)
    await other.open()
    central = CentralSystem(other, port=0)
    await central.start()
    manager = SimManager(service.live, clock, central.url, seed=1, reconnect=False)
    view = await service.create_charger({"identity": "CP-9", "simulated": True})
    try:
        await manager.start(view.id)
        await eventually(lambda: manager.state(view.id)[0] == "crashed")
        report = manager.provisioning(view.id)
        assert report["verdict"] == "handshake_refused" and "Register this identity" in report["hint"]
    finally:
        await manager.close()
        await central.stop()
        await other.close()
        other.store.close()


async def test_a_simulated_charger_connects_with_its_own_password(
    service: ConsoleService, central_system: CentralSystem, clock: ManualClock
) -> None:
    view = await service.create_charger({"identity": "CP-1", "simulated": True, "password": "s3cret-passw0rd!"})
    manager = SimManager(service.live, clock, central_system.url, seed=1, auto_sessions=False, reconnect=False)
    try:
        await manager.start(view.id)
        await eventually(lambda: manager.state(view.id)[0] == "online")
        # Neither the view nor the export shows it.
        assert "s3cret" not in repr(await service.get_charger(view.id))
        exported = await service.store.run(service.fleet.export_fleet)
        assert "s3cret" not in repr(exported)
    finally:
        await manager.close()


async def test_a_charger_made_simulated_has_no_password_to_send(
    service: ConsoleService, central_system: CentralSystem, clock: ManualClock
) -> None:
    # Set while it was real, the password was hashed and not kept: the simulated charger cannot know it.
    view = await service.create_charger({"identity": "CP-1", "simulated": False, "password": "s3cret-passw0rd!"})
    record = await service.store.run(lambda session: service.fleet.get(session, view.id))
    assert record.sim_password is None and record.password_hash is not None
    view = await service.update_charger(view.id, {"simulated": True})
    manager = SimManager(service.live, clock, central_system.url, seed=1, auto_sessions=False, reconnect=False)
    try:
        await manager.start(view.id)
        await eventually(lambda: manager.state(view.id)[0] == "crashed")
        report = manager.provisioning(view.id)
        assert report["verdict"] == "handshake_refused" and "password" in report["hint"]

        manager.set_target(view.id, central_system.url, password="s3cret-passw0rd!")
        await manager.restart(view.id)
        await eventually(lambda: manager.state(view.id)[0] == "online")
    finally:
        await manager.close()


async def test_a_wrong_version_is_refused_at_the_subprotocol(
    service: ConsoleService, central_system: CentralSystem, clock: ManualClock
) -> None:
    view = await service.create_charger({"identity": "CP-1", "simulated": True, "ocpp_version": "OCPP2.0.1"})
    record = service.live.record(view.id)
    assert record is not None
    # The simulator believes it is a 1.6 charger; the central system has it as 2.0.1.
    reporter = FleetReporter([record.model_copy(update={"ocpp_version": "OCPP1.6"})])
    manager = SimManager(reporter, clock, central_system.url, seed=1, reconnect=False)
    try:
        await manager.start(view.id)
        await eventually(lambda: manager.state(view.id)[0] == "crashed")
        report = manager.provisioning(view.id)
        assert report["verdict"] == "handshake_refused" and "OCPP version" in report["hint"]
    finally:
        await manager.close()


@pytest.fixture
async def registering(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, heartbeat_interval=30, auto_register=True)
    await central.start()
    yield central
    await central.stop()


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1"])
async def test_boot_pending_until_accepted_and_boot_rejected(
    service: ConsoleService, registering: CentralSystem, clock: ManualClock, version: str
) -> None:
    reporter = FleetReporter(simulated_records(1, "NEW-", version))
    (charger_id,) = reporter.ids()
    manager = SimManager(reporter, clock, registering.url, seed=3, auto_sessions=False)
    try:
        await manager.start(charger_id)
        await eventually(lambda: manager.provisioning(charger_id)["verdict"] == "boot_pending")
        report = manager.provisioning(charger_id)
        assert report["stage"] == "registering" and stages(manager, charger_id)["registering"] == "stuck"
        assert "finish its registration" in report["hint"]

        registered = service.live.charger_id_for("NEW-0001")
        assert registered is not None
        await service.reject_charger(registered)
        await run_clock(clock, manager, 30, step=10)
        await eventually(lambda: manager.provisioning(charger_id)["verdict"] == "boot_rejected")
        assert stages(manager, charger_id)["registering"] == "failed"

        await service.accept_charger(registered)
        await run_clock(clock, manager, 30, step=10)
        await eventually(lambda: manager.state(charger_id)[0] == "online")
        assert manager.provisioning(charger_id)["verdict"] is None
    finally:
        await manager.close()


async def test_start_and_stop_a_whole_location(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem
) -> None:
    await service.import_if_empty(SAMPLE_FLEET)
    locations = {service.live.record(c).location_id for c in service.live.ids()} - {None}
    location = sorted(locations)[0]
    members = [c for c in service.live.ids() if service.live.record(c).location_id == location and service.live.record(c).simulated]
    assert members

    outcomes = await manager.start_location(location)
    assert len(outcomes) == len(members) and all(o.endswith(" started") for o in outcomes)
    await eventually(lambda: all(manager.state(c)[0] == "online" for c in members))
    assert all(o.endswith("already running") for o in await manager.start_location(location))
    assert all(o.endswith(" stopped") for o in await manager.stop_location(location))
    assert all(manager.state(c)[0] == "stopped" for c in members)


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1"])
async def test_reconnects_after_the_central_system_restarts(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock, version: str
) -> None:
    charger_id = await online_charger(service, manager, version=version)
    manager.reconnect = True
    await central_system.stop()
    await eventually(lambda: manager.state(charger_id)[0] == "crashed")
    port = central_system.port
    clock.advance(2)
    await eventually(lambda: "csms_unreachable" in (manager.state(charger_id)[1] or ""))

    restarted = CentralSystem(service, port=port)
    await restarted.start()
    try:
        await run_clock(clock, manager, 10, step=2)
        await eventually(lambda: manager.state(charger_id)[0] == "online")
        await settle(manager)
        assert restarted.is_connected("CP-1")
    finally:
        await manager.close()
        await restarted.stop()
