"""OCPP 2.0.1 messages from a charging station, landing in the same domain model as 1.6."""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.v201 import call
from sqlmodel import select

from console.core.models import ChargerEvent, ChargerState, LogEntry, MeterSample, Transaction
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import charge_point, eventually

pytestmark = pytest.mark.stores("sqlite", "postgresql")

T0 = "2026-04-02T09:15:00Z"


def meter(at: str, energy_wh: float, power_w: float, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    return [
        {
            "timestamp": at,
            "sampledValue": [
                {"value": energy_wh, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}, "context": context},
                {"value": power_w, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}, "context": context},
            ],
        }
    ]


async def rows(service: ConsoleService, query: Any) -> list[Any]:
    await service.writer.flush()
    return list(await service.store.run(lambda session: session.exec(query).all()))


async def test_a_full_201_session_is_persisted_as_a_transaction(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "CS-201", "ocpp_version": "OCPP2.0.1"})
    async with charge_point(central_system.url, "CS-201", "ocpp2.0.1") as cs:
        boot = await cs.call(
            call.BootNotification(
                charging_station={"vendorName": "ABB", "model": "Terra AC W22", "firmwareVersion": "1.8.2"}, reason="PowerUp"
            )
        )
        assert (boot.status, boot.interval) == ("Accepted", 30)
        await cs.call(call.StatusNotification(timestamp=T0, connector_status="Available", evse_id=1, connector_id=1))
        await cs.call(call.StatusNotification(timestamp=T0, connector_status="Occupied", evse_id=1, connector_id=1))
        auth = await cs.call(call.Authorize(id_token={"idToken": "TAG-1", "type": "ISO14443"}))
        assert auth.id_token_info["status"] == "Accepted"
        started = await cs.call(
            call.TransactionEvent(
                event_type="Started", timestamp=T0, trigger_reason="Authorized", seq_no=0,
                transaction_info={"transactionId": "tx-abc", "chargingState": "EVConnected"},
                evse={"id": 1, "connectorId": 1}, id_token={"idToken": "TAG-1", "type": "ISO14443"},
                meter_value=meter(T0, 10_000, 0, "Transaction.Begin"),
            )
        )
        assert started.id_token_info["status"] == "Accepted"
        await cs.call(
            call.TransactionEvent(
                event_type="Updated", timestamp="2026-04-02T09:16:00Z", trigger_reason="ChargingStateChanged", seq_no=1,
                transaction_info={"transactionId": "tx-abc", "chargingState": "Charging"},
                meter_value=meter("2026-04-02T09:16:00Z", 10_200, 11_000),
            )
        )
        view = await service.get_charger(charger.id)
        assert (view.status, view.is_charging, view.current_power_kw, view.session_energy_kwh) == ("charging", True, 11.0, 0.2)
        await cs.call(call.MeterValues(evse_id=1, meter_value=meter("2026-04-02T09:17:00Z", 10_400, 11_000)))
        await cs.call(
            call.TransactionEvent(
                event_type="Ended", timestamp="2026-04-02T09:20:00Z", trigger_reason="EVCommunicationLost", seq_no=2,
                transaction_info={"transactionId": "tx-abc", "chargingState": "Idle", "stoppedReason": "EVDisconnected"},
                meter_value=meter("2026-04-02T09:20:00Z", 11_000, 0, "Transaction.End"),
                offline=True,
            )
        )
        await cs.call(call.StatusNotification(timestamp=T0, connector_status="Available", evse_id=1, connector_id=1))
        await cs.call(call.Heartbeat())
        view = await service.get_charger(charger.id)
        assert (view.status, view.is_charging, view.firmware_version) == ("available", False, "1.8.2")

    (transaction,) = await rows(service, select(Transaction))
    assert transaction.transaction_ref == "tx-abc"
    assert (transaction.id_tag, transaction.meter_start_wh, transaction.meter_stop_wh) == ("TAG-1", 10_000, 11_000)
    assert transaction.stop_reason == "EVDisconnected" and transaction.stopped_at is not None
    samples = await rows(service, select(MeterSample).where(MeterSample.transaction_id == transaction.id))
    assert len(samples) == 8
    frames = await rows(service, select(LogEntry).where(LogEntry.charger_id == charger.id, LogEntry.direction == "out"))
    assert all(frame.message.startswith("[3,") for frame in frames)


async def test_a_transaction_whose_start_was_missed_is_opened_by_its_first_event(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    await service.create_charger({"identity": "CS-2", "ocpp_version": "OCPP2.0.1"})
    async with charge_point(central_system.url, "CS-2", "ocpp2.0.1") as cs:
        await cs.call(
            call.TransactionEvent(
                event_type="Updated", timestamp=T0, trigger_reason="MeterValuePeriodic", seq_no=5, offline=True,
                transaction_info={"transactionId": "late-1", "chargingState": "Charging"}, evse={"id": 1},
                meter_value=meter(T0, 5_000, 7_000),
            )
        )
    (transaction,) = await rows(service, select(Transaction))
    assert (transaction.transaction_ref, transaction.meter_start_wh, transaction.stopped_at) == ("late-1", 5_000, None)


async def test_notifications_are_kept_as_charger_events(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "CS-3", "ocpp_version": "OCPP2.0.1"})
    async with charge_point(central_system.url, "CS-3", "ocpp2.0.1") as cs:
        await cs.call(
            call.NotifyReport(
                request_id=1, generated_at=T0, seq_no=0,
                report_data=[{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
                              "variableAttribute": [{"value": "60"}]}],
            )
        )
        await cs.call(
            call.NotifyEvent(
                generated_at=T0, seq_no=0,
                event_data=[{"eventId": 1, "timestamp": T0, "trigger": "Alerting", "actualValue": "Faulted",
                             "component": {"name": "Connector"}, "variable": {"name": "AvailabilityState"},
                             "eventNotificationType": "HardWiredNotification"}],
            )
        )
        await cs.call(call.SecurityEventNotification(type="FirmwareUpdated", timestamp=T0))
        await cs.call(call.FirmwareStatusNotification(status="Installed", request_id=3))
        await cs.call(call.LogStatusNotification(status="Uploaded", request_id=4))
        answer = await cs.call(call.DataTransfer(vendor_id="com.example", message_id="x", data={"a": 1}))
        assert answer.status == "UnknownVendorId"
    events = await rows(service, select(ChargerEvent).where(ChargerEvent.charger_id == charger.id))
    assert [event.kind for event in events] == [
        "NotifyReport", "NotifyEvent", "SecurityEvent", "FirmwareStatus", "LogStatus", "DataTransfer"
    ]
    assert events[0].data["reportData"][0]["variable"]["name"] == "HeartbeatInterval"
    state = await service.store.run(lambda session: session.get(ChargerState, charger.id))
    assert state.firmware_status == "Installed"
