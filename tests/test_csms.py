"""The OCPP 1.6J central system over loopback with a real WebSocket client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from ocpp.v16 import ChargePoint, call
from ocpp.v16.enums import RegistrationStatus
from sqlmodel import select
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from console.core.models import ChargerState, Connector, LogEntry, MeterSample, Transaction
from console.core.service import ConsoleService
from console.csms.server import CentralSystem


@pytest.fixture
async def central_system(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


@contextlib.asynccontextmanager
async def charge_point(url: str, identity: str) -> AsyncIterator[ChargePoint]:
    async with connect(f"{url}/{identity}", subprotocols=["ocpp1.6"]) as ws:
        client = ChargePoint(identity, ws, response_timeout=5)
        task = asyncio.create_task(client.start())
        try:
            yield client
        finally:
            task.cancel()


async def eventually(condition, timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not await condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_full_session_is_persisted(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "CP-1", "number_of_connectors": 1})
    async with charge_point(central_system.url, "CP-1") as cp:
        boot = await cp.call(call.BootNotification(charge_point_vendor="Wallbox", charge_point_model="Pulsar Plus"))
        assert boot.status == RegistrationStatus.accepted
        assert boot.interval == 30
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
        auth = await cp.call(call.Authorize(id_tag="TAG-1"))
        assert auth.id_tag_info["status"] == "Accepted"
        started = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=1000, timestamp="2026-04-02T09:15:00Z")
        )
        assert started.transaction_id > 0
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[
                    {
                        "timestamp": "2026-04-02T09:16:00Z",
                        "sampledValue": [
                            {"value": "4700", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                            {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                        ],
                    }
                ],
            )
        )
        live = await service.get_charger(charger.id)
        assert live.is_connected and live.status == "charging"
        assert live.current_power_kw == 7.4
        assert live.session_energy_kwh == 3.7
        await cp.call(
            call.StopTransaction(
                meter_stop=5000, timestamp="2026-04-02T09:20:00Z", transaction_id=started.transaction_id, reason="Local"
            )
        )
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        await cp.call(call.Heartbeat())

    await eventually(lambda: _offline(service, charger.id))
    await service.writer.flush()

    def read(session):
        transaction = session.exec(select(Transaction)).one()
        samples = session.exec(select(MeterSample)).all()
        connector = session.exec(select(Connector).where(Connector.charger_id == charger.id)).one()
        state = session.get(ChargerState, charger.id)
        frames = session.exec(select(LogEntry).where(LogEntry.charger_id == charger.id)).all()
        return transaction, samples, connector, state, frames

    transaction, samples, connector, state, frames = await service.store.run(read)
    assert (transaction.meter_start_wh, transaction.meter_stop_wh, transaction.stop_reason) == (1000, 5000, "Local")
    assert {s.measurand for s in samples} == {"Energy.Active.Import.Register", "Power.Active.Import"}
    assert connector.status == "Available"
    assert state.provisioning == "offline" and not state.is_connected
    # 9 CALLs in and 9 results out, every one logged with the action it answers.
    in_calls = [f for f in frames if f.direction == "in" and f.message.startswith("[2")]
    out_results = [f for f in frames if f.direction == "out" and f.message.startswith("[3")]
    assert len(in_calls) == 9 and len(out_results) == 9
    assert [f.action for f in out_results][:2] == ["BootNotification", "StatusNotification"]


async def _offline(service: ConsoleService, charger_id: str) -> bool:
    return not (await service.get_charger(charger_id)).is_connected


async def test_unknown_identity_is_refused_with_404(service: ConsoleService, central_system: CentralSystem) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{central_system.url}/NOPE-1", subprotocols=["ocpp1.6"]):
            pass
    assert refused.value.response.status_code == 404
    await service.writer.flush()
    rows = await service.store.run(lambda s: s.exec(select(LogEntry).where(LogEntry.identity == "NOPE-1")).all())
    assert "unknown identity" in rows[0].message


async def test_missing_subprotocol_is_served_with_the_record_s_version(service: ConsoleService, central_system: CentralSystem) -> None:
    # Some firmware sends no Sec-WebSocket-Protocol header (issue 14): served as its record says, with a warning.
    charger = await service.create_charger({"identity": "CP-2"})
    async with connect(f"{central_system.url}/CP-2") as ws:
        assert ws.subprotocol is None
        await ws.send('[2,"hb-1","Heartbeat",{}]')
        assert (await ws.recv()).startswith('[3,"hb-1",{"currentTime"')
    assert (await service.get_charger(charger.id)).protocol_warnings


async def test_operation_to_charger_is_recorded_as_action(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "CP-3"})

    class Answering(ChargePoint):
        from ocpp.routing import on

        @on("Reset")
        def on_reset(self, type: str):  # noqa: A002 - the OCPP field name
            from ocpp.v16 import call_result

            return call_result.Reset(status="Accepted")

    async with connect(f"{central_system.url}/CP-3", subprotocols=["ocpp1.6"]) as ws:
        client = Answering("CP-3", ws)
        task = asyncio.create_task(client.start())
        await eventually(lambda: _connected(service, charger.id))
        outcome = await service.restart_charger(charger.id)
        task.cancel()
    assert outcome == "Reset accepted by CP-3"
    view = await service.get_charger(charger.id)
    assert view.last_action is not None
    assert (view.last_action.command, view.last_action.state) == ("restart", "acknowledged")


async def _connected(service: ConsoleService, charger_id: str) -> bool:
    return (await service.get_charger(charger_id)).is_connected


async def test_current_and_state_of_charge_come_from_meter_values(service: ConsoleService) -> None:
    view = await service.create_charger({"identity": "CP-SOC", "number_of_connectors": 2})
    live = service.live
    now = service.clock.now()
    await live.connected(view.id)
    await live.connector_status(view.id, 1, "Charging", None)
    await live.connector_status(view.id, 2, "Charging", None)
    live.meter_values(view.id, 1, None, [(now, "Current.Import", "L1", "A", 15.9), (now, "Current.Import", "L2", "A", 16.1), (now, "SoC", None, "Percent", 62.0)])
    live.meter_values(view.id, 2, None, [(now, "Current.Import", None, "A", 8.0)])
    charger = live.view(view.id)
    assert charger.current_a == 24.1  # connector 1's busiest phase and connector 2 together
    assert [(c.connector_id, c.current_a, c.soc_percent) for c in charger.connectors] == [(1, 16.1, 62.0), (2, 8.0, None)]
    # Suspended: no current, the EV still there; gone: no state of charge either.
    await live.connector_status(view.id, 1, "SuspendedEV", None)
    assert live.view(view.id).connectors[0].current_a is None and live.view(view.id).connectors[0].soc_percent == 62.0
    await live.connector_status(view.id, 1, "Available", None)
    assert live.view(view.id).connectors[0].soc_percent is None
    await live.disconnected(view.id)
    assert live.view(view.id).current_a is None
