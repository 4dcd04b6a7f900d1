"""Operator controls on simulated chargers, both versions, against the real central system."""

from __future__ import annotations

import pytest
from sqlmodel import select

from console.core.clock import ManualClock
from console.core.errors import NotFound, Unavailable
from console.core.models import Connector, Transaction
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.manager import SimManager
from simtools import eventually, online_charger, rows, run_clock, settle, status_of

BUSY = {"OCPP1.6": "Charging", "OCPP2.0.1": "Charging"}
WAITING = {"OCPP1.6": "Preparing", "OCPP2.0.1": "Occupied"}


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1"])
async def test_plug_in_present_a_tag_and_unplug(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock, version: str
) -> None:
    charger_id = await online_charger(service, manager, version=version)

    outcome = await manager.plug_in(charger_id, 1, soc=20, battery_kwh=60)
    assert "waiting for authorization" in outcome
    await settle(manager)
    assert await status_of(service, charger_id, 1) == WAITING[version]
    await run_clock(clock, manager, 30)
    assert await rows(service, select(Transaction)) == []  # nobody authorized: no transaction

    await manager.present_id_tag(charger_id, 1, "CARD-1")
    await settle(manager)
    await run_clock(clock, manager, 20)
    (transaction,) = await rows(service, select(Transaction))
    assert transaction.id_tag == "CARD-1" and transaction.connector_id == 1
    assert await status_of(service, charger_id, 1) == BUSY[version]
    charger = manager.charger(charger_id)
    assert charger is not None and charger.connectors[1].session is not None
    assert charger.connectors[1].session.ev.battery_kwh == 60 and charger.connectors[1].session.ev.soc > 20

    await manager.unplug(charger_id, 1)
    await settle(manager)
    (transaction,) = await rows(service, select(Transaction))
    assert transaction.stop_reason == "EVDisconnected"
    assert await status_of(service, charger_id, 1) == "Available"
    with pytest.raises(Unavailable):
        await manager.unplug(charger_id, 1)


async def test_a_plugged_in_car_waits_for_a_remote_start(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager)
    await manager.plug_in(charger_id, 2)
    await settle(manager)
    assert await central_system.call("CP-1", "RemoteStartTransaction", {"idTag": "APP"}) == {"status": "Accepted"}
    await settle(manager)
    (transaction,) = await rows(service, select(Transaction))
    assert transaction.connector_id == 2 and transaction.id_tag == "APP"
    # The same tag presented again ends the session; the car stays until unplugged.
    await manager.present_id_tag(charger_id, 2, "APP")
    await settle(manager)
    await run_clock(clock, manager, 60)
    assert await status_of(service, charger_id, 2) == "Finishing"
    await manager.unplug(charger_id, 2)
    await settle(manager)
    assert await status_of(service, charger_id, 2) == "Available"


@pytest.mark.parametrize("version", ["OCPP1.6", "OCPP2.0.1"])
async def test_inject_and_clear_a_fault(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, version: str
) -> None:
    charger_id = await online_charger(service, manager, version=version)
    await manager.inject_fault(charger_id, 1, "GroundFailure")
    await settle(manager)
    assert await status_of(service, charger_id, 1) == "Faulted"
    if version == "OCPP1.6":
        (row,) = await rows(service, select(Connector).where(Connector.charger_id == charger_id, Connector.connector_id == 1))
        assert row.error_code == "GroundFailure"
    else:
        events = [e for e in await service.charger_logs(charger_id) if e.action == "NotifyEvent" and e.direction == "in"]
        assert '"techCode":"GroundFailure"' in events[0].message
    assert (await central_system.call("CP-1", *remote_start(version, 1)))["status"] == "Rejected"

    await manager.clear_fault(charger_id, 1)
    await settle(manager)
    assert await status_of(service, charger_id, 1) == "Available"


def remote_start(version: str, connector: int) -> tuple[str, dict]:
    if version == "OCPP1.6":
        return "RemoteStartTransaction", {"idTag": "T", "connectorId": connector}
    return "RequestStartTransaction", {"idToken": {"idToken": "T", "type": "ISO14443"}, "remoteStartId": 1, "evseId": connector}


async def test_a_fault_during_a_session_ends_it(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem
) -> None:
    charger_id = await online_charger(service, manager)
    await central_system.call("CP-1", "RemoteStartTransaction", {"idTag": "T", "connectorId": 1})
    await settle(manager)
    await manager.inject_fault(charger_id, 1, "OverCurrentFailure")
    await settle(manager)
    (transaction,) = await rows(service, select(Transaction))
    assert transaction.stop_reason == "Other"
    assert await status_of(service, charger_id, 1) == "Faulted"


async def test_drop_connection_reconnects_with_backoff(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    manager.reconnect = True
    charger_id = await online_charger(service, manager)
    await manager.drop_connection(charger_id)
    await eventually(lambda: manager.state(charger_id)[0] == "crashed")
    assert "connection_lost" in (manager.state(charger_id)[1] or "")
    clock.advance(2)
    await eventually(lambda: manager.state(charger_id)[0] == "online")
    assert central_system.is_connected("CP-1")


async def test_controls_need_an_online_charger(service: ConsoleService, manager: SimManager) -> None:
    view = await service.create_charger({"identity": "CP-2", "simulated": True})
    with pytest.raises(Unavailable, match="not online"):
        await manager.plug_in(view.id, 1)
    with pytest.raises(NotFound):
        await manager.plug_in("dep-nope", 1)


async def test_a_full_car_is_suspended_by_the_ev(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager, connectors=1)
    await manager.plug_in(charger_id, 1, soc=99.9, battery_kwh=2)
    await manager.present_id_tag(charger_id, 1, "CARD")
    await settle(manager)
    await run_clock(clock, manager, 120, step=10)
    assert await status_of(service, charger_id, 1) == "SuspendedEV"
    charger = manager.charger(charger_id)
    assert charger is not None and charger.connectors[1].session is not None
    assert charger.connectors[1].session.ev.full


async def test_16_fault_codes_are_checked(service: ConsoleService, manager: SimManager, central_system: CentralSystem) -> None:
    charger_id = await online_charger(service, manager)
    with pytest.raises(Unavailable, match="not an OCPP 1.6 error code"):
        await manager.inject_fault(charger_id, 1, "Gremlins")
