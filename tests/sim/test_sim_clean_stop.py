"""A simulated charger stopped cleanly ends its sessions as a charger losing power does, before its socket closes."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from console.core.clock import ManualClock
from console.core.models import MeterSample, Transaction
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from console.sim.manager import SimManager
from simtools import eventually, online_charger, rows, run_clock, settle

ENERGY = "Energy.Active.Import.Register"


async def start_16(central_system: CentralSystem, manager: SimManager, connector_id: int) -> None:
    start = {"idTag": f"TAG{connector_id}", "connectorId": connector_id}
    assert await central_system.call("CP-1", "RemoteStartTransaction", start) == {"status": "Accepted"}
    await settle(manager)


async def start_201(central_system: CentralSystem, manager: SimManager, evse_id: int) -> None:
    answer = await central_system.call(
        "CP-1",
        "RequestStartTransaction",
        {"idToken": {"idToken": f"TAG{evse_id}", "type": "ISO14443"}, "remoteStartId": evse_id, "evseId": evse_id},
    )
    assert answer["status"] == "Accepted"
    await settle(manager)


def registers(manager: SimManager, charger_id: str) -> dict[int, int]:
    charger = manager.charger(charger_id)
    assert charger is not None
    return {connector.connector_id: int(connector.energy_wh) for connector in charger.outlets}


async def test_a_16_charger_stopped_mid_session_sends_stop_transaction_power_loss(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager)
    await start_16(central_system, manager, 1)
    await start_16(central_system, manager, 2)
    await run_clock(clock, manager, 60)

    assert await asyncio.wait_for(service.stop_charger(charger_id), 3) == "CP-1 stopped"
    register = registers(manager, charger_id)

    transactions = await rows(service, select(Transaction).order_by(Transaction.connector_id))
    assert [t.connector_id for t in transactions] == [1, 2]
    for transaction in transactions:
        assert transaction.stopped_at is not None and transaction.stop_reason == "PowerLoss"
        assert transaction.meter_stop_wh == register[transaction.connector_id]
        assert transaction.meter_stop_wh > transaction.meter_start_wh
    # The StopTransaction's transactionData: the register as it was at the end.
    ends = await rows(service, select(MeterSample).where(MeterSample.measurand == ENERGY))
    for transaction in transactions:
        assert int(max(s.value for s in ends if s.transaction_id == transaction.id)) == transaction.meter_stop_wh
    logs = [entry.message for entry in await service.charger_logs(charger_id)]
    stops = [m for m in logs if m.startswith("[2,") and "StopTransaction" in m]
    assert len(stops) == 2 and all('"reason":"PowerLoss"' in m and '"transactionData"' in m for m in stops)
    assert manager.state(charger_id) == ("stopped", None)


async def test_a_201_charger_stopped_mid_session_sends_transaction_event_ended_power_loss(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager, version="OCPP2.0.1")
    await start_201(central_system, manager, 1)
    await run_clock(clock, manager, 60)

    assert await asyncio.wait_for(manager.close(), 3) is None
    register = registers(manager, charger_id)

    (transaction,) = await rows(service, select(Transaction))
    assert transaction.stopped_at is not None and transaction.stop_reason == "PowerLoss"
    assert transaction.meter_stop_wh == register[1] > transaction.meter_start_wh
    logs = [entry.message for entry in await service.charger_logs(charger_id)]
    (ended,) = [m for m in logs if m.startswith("[2,") and '"eventType":"Ended"' in m]
    assert '"triggerReason":"AbnormalCondition"' in ended and '"stoppedReason":"PowerLoss"' in ended
    assert '"context":"Transaction.End"' in ended


async def test_a_restarted_runtime_ends_its_session_as_a_reboot_and_comes_back_idle(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager)
    await start_16(central_system, manager, 1)
    await run_clock(clock, manager, 30)

    assert await asyncio.wait_for(service.restart_charger(charger_id), 3) == "CP-1 restarted"
    await eventually(lambda: manager.state(charger_id)[0] == "online")
    await settle(manager)

    (transaction,) = await rows(service, select(Transaction))
    assert transaction.stop_reason == "Reboot"
    assert transaction.meter_stop_wh == registers(manager, charger_id)[1] > transaction.meter_start_wh
    # Nothing was left over to send after the boot: the session ended before the socket closed.
    logs = [entry.message for entry in await service.charger_logs(charger_id)]
    assert sum(m.startswith("[2,") and "StopTransaction" in m for m in logs) == 1


async def test_a_restarted_201_runtime_ends_its_transaction_as_a_reboot_of_its_own(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager, version="OCPP2.0.1")
    await start_201(central_system, manager, 1)
    await run_clock(clock, manager, 30)

    assert await asyncio.wait_for(service.restart_charger(charger_id), 3) == "CP-1 restarted"
    (transaction,) = await rows(service, select(Transaction))
    assert transaction.stop_reason == "Reboot"
    logs = [entry.message for entry in await service.charger_logs(charger_id)]
    (ended,) = [m for m in logs if m.startswith("[2,") and '"eventType":"Ended"' in m]
    # No Reset was asked: the reboot is the charger's own.
    assert '"triggerReason":"AbnormalCondition"' in ended and '"stoppedReason":"Reboot"' in ended


async def test_a_charger_whose_link_is_down_stops_at_once(
    service: ConsoleService, manager: SimManager, central_system: CentralSystem, clock: ManualClock
) -> None:
    charger_id = await online_charger(service, manager)
    await start_16(central_system, manager, 1)
    await run_clock(clock, manager, 20)
    await central_system.stop()
    await eventually(lambda: manager.state(charger_id)[0] != "online")

    assert await asyncio.wait_for(service.stop_charger(charger_id), 3) == "CP-1 stopped"
    (transaction,) = await rows(service, select(Transaction))
    # Nobody to tell: the central system closes it when the charger next boots.
    assert transaction.stopped_at is None
