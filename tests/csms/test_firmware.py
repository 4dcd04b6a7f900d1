"""Firmware and log requests as each version has them, and the charger's progress reports, over a real connection."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import call as call201
from sqlmodel import select

from console.core import firmware as fw
from console.core.errors import ValidationFailed
from console.core.models import ChargerEvent
from console.core.operations import check_operation, request_problem
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import charge_point, eventually

AT = datetime(2026, 4, 2, 9, 15, tzinfo=timezone.utc)
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


@pytest.mark.parametrize(
    ("version", "signed", "operation"),
    [("OCPP1.6", False, "UpdateFirmware"), ("OCPP1.6", True, "SignedUpdateFirmware"),
     ("OCPP2.0.1", False, "UpdateFirmware"), ("OCPP2.0.1", True, "UpdateFirmware"), ("OCPP2.1", True, "UpdateFirmware")],
)
def test_each_versions_firmware_request_passes_its_schema(version: str, signed: bool, operation: str) -> None:
    signing = {"signature": "c2ln", "signing_certificate": CERT} if signed else {}
    name, payload = fw.update_firmware_request(
        version, "http://depot:8080/files/firmware/fw-1/a.bin", AT, retries=3, retry_interval=60, signed=signed and version == "OCPP1.6", **signing
    )
    assert name == operation
    check_operation(version, name)
    assert request_problem(version, name, payload) is None
    if version != "OCPP1.6" and signed:
        assert payload["firmware"]["signature"] == "c2ln" and payload["firmware"]["signingCertificate"] == CERT


@pytest.mark.parametrize(
    ("version", "log_type", "operation"),
    [("OCPP1.6", "DiagnosticsLog", "GetDiagnostics"), ("OCPP1.6", "SecurityLog", "GetLog"),
     ("OCPP2.0.1", "DiagnosticsLog", "GetLog"), ("OCPP2.0.1", "SecurityLog", "GetLog")],
)
def test_each_versions_log_request_passes_its_schema(version: str, log_type: str, operation: str) -> None:
    name, payload = fw.logs_request(version, "http://depot:8080/files/uploads/t", log_type, since=AT, until=AT, retries=1)
    assert name == operation
    check_operation(version, name)
    assert request_problem(version, name, payload) is None


def test_requests_that_cannot_be_sent_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="signature"):
        fw.update_firmware_request("OCPP1.6", "http://x/a.bin", AT, signed=True)
    with pytest.raises(ValidationFailed, match="no signing fields"):
        fw.update_firmware_request("OCPP1.6", "http://x/a.bin", AT, signature="c2ln")
    with pytest.raises(ValidationFailed, match="log_type"):
        fw.logs_request("OCPP2.0.1", "http://x/", "AuditLog")


async def events(service: ConsoleService, charger_id: str) -> list[tuple[str, dict[str, Any]]]:
    await service.writer.flush()
    rows = await service.store.run(
        lambda session: session.exec(select(ChargerEvent).where(ChargerEvent.charger_id == charger_id).order_by(ChargerEvent.id)).all()
    )
    return [(row.kind, row.data) for row in rows]


async def test_a_16_chargers_firmware_and_log_reports(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "FW-16"})
    seen: list[str] = []
    service.live.firmware_listeners.append(lambda charger_id, status: seen.append(status))
    async with charge_point(central_system.url, "FW-16", "ocpp1.6") as cp:
        await cp.call(call16.FirmwareStatusNotification(status="Downloading"))
        assert service.live.view(charger.id).firmware_status == "Downloading"
        await cp.call(call16.SignedFirmwareStatusNotification(status="SignatureVerified", request_id=41))
        await cp.call(call16.DiagnosticsStatusNotification(status="Uploaded"))
        await cp.call(call16.LogStatusNotification(status="UploadFailure", request_id=42))
    assert seen == ["Downloading", "SignatureVerified"]
    assert service.live.view(charger.id).firmware_status == "SignatureVerified"
    assert await events(service, charger.id) == [
        ("FirmwareStatus", {"status": "Downloading"}),
        ("FirmwareStatus", {"status": "SignatureVerified", "requestId": 41}),
        ("DiagnosticsStatus", {"status": "Uploaded"}),
        ("LogStatus", {"status": "UploadFailure", "requestId": 42}),
    ]
    (failed,) = await service.charger_events(charger.id, kind="LogStatus")
    assert failed.severity == "warning" and failed.text == "log upload UploadFailure (request 42)"


async def test_a_201_stations_firmware_status_keeps_its_request(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "FW-201", "ocpp_version": "OCPP2.0.1"})
    async with charge_point(central_system.url, "FW-201", "ocpp2.0.1") as cs:
        await cs.call(call201.FirmwareStatusNotification(status="InstallRebooting", request_id=7))
    assert (await events(service, charger.id))[-1] == ("FirmwareStatus", {"status": "InstallRebooting", "requestId": 7})


async def test_an_update_is_an_action_with_the_chargers_answer(service: ConsoleService, central_system: CentralSystem) -> None:
    charger = await service.create_charger({"identity": "FW-ACT"})
    got: list[dict[str, Any]] = []

    class Answering(ChargePoint16):
        @on(Action16.update_firmware)
        def on_update_firmware(self, **payload: Any) -> result16.UpdateFirmware:
            got.append(payload)
            return result16.UpdateFirmware()

    async with charge_point(central_system.url, "FW-ACT", "ocpp1.6", client=Answering):
        await eventually(lambda: service.gateway.is_connected("FW-ACT") if service.gateway else False)
        result = await service.firmware.update(charger.id, location="https://firmware.example/fw-2.bin", retries=2)
    assert result.state == "acknowledged" and result.command == "update_firmware" and result.operation == "UpdateFirmware"
    assert got == [{"location": "https://firmware.example/fw-2.bin", "retrieve_date": "2026-04-02T09:15:00Z", "retries": 2}]
    (action,) = await service.list_actions(charger.id)
    assert action.command == "update_firmware" and action.state == "acknowledged"
