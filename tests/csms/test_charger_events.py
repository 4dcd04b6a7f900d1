"""The charger's own events, readable: classified, listed newest first, and the ones that matter raised as alerts."""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call as call16
from ocpp.v201 import call

from console.core.events import ChargerAlert
from console.core.service import ConsoleService
from console.csms.server import CentralSystem
from ocpp_clients import charge_point

T0 = "2026-04-02T09:15:00Z"

OVER_TEMPERATURE = {
    "eventId": 7, "timestamp": T0, "trigger": "Alerting", "actualValue": "92",
    "component": {"name": "TemperatureSensor", "evse": {"id": 1}}, "variable": {"name": "Temperature"},
    "techInfo": "above 85 °C", "eventNotificationType": "HardWiredNotification",
}


def alerts_in(batch: list[Any]) -> list[ChargerAlert]:
    return [event for event in batch if isinstance(event, ChargerAlert)]


async def test_an_over_temperature_event_a_security_event_and_a_fault_are_alerts(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    charger = await service.create_charger({"identity": "CS-HOT", "ocpp_version": "OCPP2.0.1"})
    subscription = service.subscribe(kinds=(ChargerAlert,))
    async with charge_point(central_system.url, "CS-HOT", "ocpp2.0.1") as cs:
        await cs.call(call.NotifyEvent(generated_at=T0, seq_no=0, event_data=[OVER_TEMPERATURE]))
        await cs.call(call.SecurityEventNotification(type="TamperDetectionActivated", timestamp=T0, tech_info="lid open"))
        await cs.call(call.StatusNotification(timestamp=T0, connector_status="Faulted", evse_id=1, connector_id=1))
        # The same status again is not a new fault.
        await cs.call(call.StatusNotification(timestamp=T0, connector_status="Faulted", evse_id=1, connector_id=1))
        # A periodic reading and a return to normal are not alerts.
        periodic = {**OVER_TEMPERATURE, "eventId": 8, "trigger": "Periodic", "actualValue": "40"}
        cleared = {**OVER_TEMPERATURE, "eventId": 9, "actualValue": "60", "cleared": True}
        await cs.call(call.NotifyEvent(generated_at=T0, seq_no=1, event_data=[periodic, cleared]))
        await cs.call(call.FirmwareStatusNotification(status="InstallationFailed", request_id=3))
    alerts = alerts_in(subscription.drain())
    assert [(alert.event.kind, alert.event.severity) for alert in alerts] == [
        ("NotifyEvent", "alert"), ("SecurityEvent", "security"), ("StatusNotification", "alert"),
    ]
    hot = alerts[0].event
    assert (hot.charger_id, hot.identity) == (charger.id, "CS-HOT")
    assert hot.text == "TemperatureSensor (EVSE 1) Temperature = 92 (Alerting): above 85 °C"
    assert alerts[1].event.text == "TamperDetectionActivated: lid open"
    assert alerts[2].event.text == "connector 1 Faulted"

    events = await service.charger_events(charger.id)
    assert [(event.kind, event.severity) for event in events] == [
        ("FirmwareStatus", "warning"),
        ("NotifyEvent", "info"),
        ("StatusNotification", "alert"),
        ("SecurityEvent", "security"),
        ("NotifyEvent", "alert"),
    ]
    assert events[0].text == "firmware InstallationFailed (request 3)"  # the 2.0.1 requestId is kept
    assert events[-1].data["eventData"][0]["actualValue"] == "92"
    assert [event.kind for event in await service.charger_events(charger.id, severity="alert")] == ["StatusNotification", "NotifyEvent"]
    assert [event.severity for event in await service.charger_events(charger.id, kind="NotifyEvent")] == ["info", "alert"]
    page, total = await service.charger_event_page(charger.id, limit=2, offset=2)
    assert total == 5 and [event.kind for event in page] == ["StatusNotification", "SecurityEvent"]


async def test_a_16_fault_is_an_alert_once_per_transition_and_the_fleet_lists_every_charger(
    service: ConsoleService, central_system: CentralSystem
) -> None:
    await service.create_charger({"identity": "CP-16", "ocpp_version": "OCPP1.6"})
    await service.create_charger({"identity": "CS-201", "ocpp_version": "OCPP2.0.1"})
    subscription = service.subscribe(kinds=(ChargerAlert,))
    async with charge_point(central_system.url, "CP-16", "ocpp1.6") as cp:
        for status, error in (("Faulted", "GroundFailure"), ("Faulted", "GroundFailure"), ("Available", "NoError"), ("Faulted", "HighTemperature")):
            await cp.call(call16.StatusNotification(connector_id=1, error_code=error, status=status))
        await cp.call(call16.DiagnosticsStatusNotification(status="Uploaded"))
    async with charge_point(central_system.url, "CS-201", "ocpp2.0.1") as cs:
        await cs.call(call.DataTransfer(vendor_id="com.example", message_id="hello", data="world"))
    alerts = alerts_in(subscription.drain())
    assert [alert.event.text for alert in alerts] == ["connector 1 Faulted (GroundFailure)", "connector 1 Faulted (HighTemperature)"]

    fleet = await service.fleet_events()
    assert [(event.identity, event.kind, event.text) for event in fleet] == [
        ("CS-201", "DataTransfer", "com.example hello: world"),
        ("CP-16", "DiagnosticsStatus", "diagnostics upload Uploaded"),
        ("CP-16", "StatusNotification", "connector 1 Faulted (HighTemperature)"),
        ("CP-16", "StatusNotification", "connector 1 Faulted (GroundFailure)"),
    ]
    assert [event.identity for event in await service.fleet_events(kind="DataTransfer")] == ["CS-201"]
