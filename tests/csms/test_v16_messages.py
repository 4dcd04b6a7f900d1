"""OCPP 1.6J messages beyond the basic session: data transfer, diagnostics, firmware, security events, transactionData."""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.v16 import call
from sqlmodel import select

from console.core.models import ChargerEvent, ChargerState, MeterSample, Transaction
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import charge_point

pytestmark = pytest.mark.stores("sqlite", "postgresql")


async def rows(service: ConsoleService, query: Any) -> list[Any]:
    await service.writer.flush()
    return list(await service.store.run(lambda session: session.exec(query).all()))


async def test_notifications_are_kept(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "CP-16"})
    async with charge_point(central_system.url, "CP-16") as cp:
        answer = await cp.call(call.DataTransfer(vendor_id="com.example", message_id="hello", data="x"))
        assert answer.status == "UnknownVendorId"
        await cp.call(call.DiagnosticsStatusNotification(status="Uploaded"))
        await cp.call(call.FirmwareStatusNotification(status="Installed"))
        await cp.call(call.SecurityEventNotification(type="SettingSystemTime", timestamp="2026-04-02T09:15:00Z", tech_info="ntp"))
    events = await rows(service, select(ChargerEvent).where(ChargerEvent.charger_id == charger.id))
    assert [(e.kind, e.data.get("status") or e.data.get("type") or e.data.get("vendorId")) for e in events] == [
        ("DataTransfer", "com.example"),
        ("DiagnosticsStatus", "Uploaded"),
        ("FirmwareStatus", "Installed"),
        ("SecurityEvent", "SettingSystemTime"),
    ]
    state = await service.store.run(lambda session: session.get(ChargerState, charger.id))
    assert state.firmware_status == "Installed"


async def test_stop_transaction_with_transaction_data(service: ConsoleService, central_system: CentralSystem) -> None:
    await service.create_charger({"identity": "CP-TD"})
    async with charge_point(central_system.url, "CP-TD") as cp:
        started = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2026-04-02T09:15:00Z")
        )
        await cp.call(
            call.StopTransaction(
                meter_stop=2_000, timestamp="2026-04-02T09:30:00Z", transaction_id=started.transaction_id,
                reason="EVDisconnected",
                transaction_data=[
                    {"timestamp": "2026-04-02T09:20:00Z", "sampledValue": [{"value": "700", "unit": "Wh"}]},
                    {"timestamp": "2026-04-02T09:25:00Z", "sampledValue": [{"value": "1400", "unit": "Wh"}]},
                ],
            )
        )
    (transaction,) = await rows(service, select(Transaction))
    assert (transaction.transaction_ref, transaction.meter_stop_wh) == (str(started.transaction_id), 2_000)
    samples = await rows(service, select(MeterSample).where(MeterSample.transaction_id == transaction.id))
    assert [s.value for s in samples] == [700, 1400]
    assert {s.connector_id for s in samples} == {1}


async def test_a_time_without_an_offset_is_read_as_utc(service: ConsoleService, central_system: CentralSystem) -> None:
    """Some chargers leave the offset off their times: the sample is kept, as UTC, and so is the rest of its batch."""
    from datetime import datetime, timezone

    charger = await service.create_charger({"identity": "CP-NAIVE"})
    async with charge_point(central_system.url, "CP-NAIVE") as cp:
        await cp.call(
            call.MeterValues(
                connector_id=1,
                meter_value=[{"timestamp": "2026-04-02T09:20:00", "sampledValue": [{"value": "700", "unit": "Wh"}]}],
            )
        )
    (sample,) = await rows(service, select(MeterSample).where(MeterSample.charger_id == charger.id))
    assert (sample.value, sample.at) == (700, datetime(2026, 4, 2, 9, 20, tzinfo=timezone.utc))
