"""GET /ocpp/chargers/{id}/events and `alert` on /events, from a real 2.0.1 charger on a live server; the attach client reads both back."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from apitools import Api
from ocpp.v201 import call
from test_deployments import assert_error
from test_events import collect

from console.api.client import RemoteBackend
from console.core.events import ChargerAlert
from console.core.service import ConsoleService
from console.csms.server import CentralSystem

sys.path.insert(0, str(Path(__file__).parents[1] / "csms"))
from ocpp_clients import charge_point  # noqa: E402  (the real OCPP clients of tests/csms)

T0 = "2026-04-02T09:15:00Z"
OVER_TEMPERATURE = {
    "eventId": 7, "timestamp": T0, "trigger": "Alerting", "actualValue": "92",
    "component": {"name": "ChargingStation"}, "variable": {"name": "Temperature"},
    "eventNotificationType": "HardWiredNotification",
}


@pytest.fixture
async def central(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


async def hot_charger(central: CentralSystem) -> None:
    """CP-A03 (2.0.1, the default organization's) overheats, is tampered with, and faults."""
    async with charge_point(central.url, "CP-A03", "ocpp2.0.1") as cs:
        await cs.call(call.NotifyEvent(generated_at=T0, seq_no=0, event_data=[OVER_TEMPERATURE]))
        await cs.call(call.SecurityEventNotification(type="TamperDetectionActivated", timestamp=T0))
        await cs.call(call.NotifyReport(request_id=1, generated_at=T0, seq_no=0, tbc=True))
        await cs.call(call.StatusNotification(timestamp=T0, connector_status="Faulted", evse_id=1, connector_id=1))


async def test_the_events_of_a_charger_newest_first_paged_and_filtered(api: Api, central: CentralSystem) -> None:
    await hot_charger(central)
    response = await api.client.get("/ocpp/chargers/dep-a03/events", headers=api.bearer())
    assert response.status_code == 200 and response.headers["X-Total-Count"] == "4"
    events = response.json()
    assert [(event["kind"], event["severity"]) for event in events] == [
        ("StatusNotification", "alert"), ("NotifyReport", "info"), ("SecurityEvent", "security"), ("NotifyEvent", "alert"),
    ]
    hot = events[-1]
    assert hot["identity"] == "CP-A03" and hot["at"].endswith("Z")
    assert hot["text"] == "ChargingStation Temperature = 92 (Alerting)"
    assert hot["data"]["eventData"][0]["eventNotificationType"] == "HardWiredNotification"

    alerts = await api.client.get("/ocpp/chargers/dep-a03/events", params={"severity": "alert", "limit": 1, "offset": 1}, headers=api.bearer())
    assert alerts.headers["X-Total-Count"] == "2" and [event["kind"] for event in alerts.json()] == ["NotifyEvent"]
    security = await api.client.get("/ocpp/chargers/dep-a03/events", params={"kind": "SecurityEvent"}, headers=api.bearer())
    assert [event["text"] for event in security.json()] == ["TamperDetectionActivated"]

    for params in ({"severity": "bad"}, {"limit": 0}, {"limit": 501}, {"offset": -1}):
        assert_error(await api.client.get("/ocpp/chargers/dep-a03/events", params=params, headers=api.bearer()), 422, "VALIDATION_ERROR")
    assert_error(await api.client.get("/ocpp/chargers/dep-a03/events", headers=api.bearer(api.acme_key)), 404, "NOT_FOUND")
    assert_error(await api.client.get("/ocpp/chargers/nope/events", headers=api.bearer()), 404, "NOT_FOUND")
    assert "/ocpp/chargers/{charger_id}/events" in (await api.client.get("/openapi.json")).json()["paths"]


async def test_alerts_are_their_own_event_on_the_stream(api: Api, central: CentralSystem) -> None:
    async def act() -> None:
        await hot_charger(central)

    seen = await collect(api, api.key, lambda name, data: name == "alert" and data["kind"] == "StatusNotification", act)
    alerts = [data for name, data in seen if name == "alert"]
    assert [(alert["charger_id"], alert["kind"], alert["severity"]) for alert in alerts] == [
        ("dep-a03", "NotifyEvent", "alert"), ("dep-a03", "SecurityEvent", "security"), ("dep-a03", "StatusNotification", "alert"),
    ]
    assert alerts[0]["text"] == "ChargingStation Temperature = 92 (Alerting)"


async def test_another_organization_sees_no_alert_of_ours(api: Api, central: CentralSystem) -> None:
    async def act() -> None:
        await hot_charger(central)
        api.service.live.log("ACME-01", "event", "done", charger_id="dep-x01")

    seen = await collect(api, api.acme_key, lambda name, data: name == "log" and data["message"] == "done", act)
    assert not [name for name, _ in seen if name == "alert"]


async def test_the_attach_client_reads_events_and_alerts(api: Api, central: CentralSystem) -> None:
    backend = RemoteBackend(api.url, api.key, reconnect_delays=(0.05, 0.1))
    await backend.connect()
    subscription = backend.subscribe()
    try:
        await asyncio.sleep(0.2)  # the stream is open
        await hot_charger(central)

        async def alerts() -> list[Any]:
            found: list[Any] = []
            while len(found) < 3:
                found += [event for event in await subscription.next_batch() if isinstance(event, ChargerAlert)]
            return found

        got = await asyncio.wait_for(alerts(), 5)
        assert [alert.event.kind for alert in got] == ["NotifyEvent", "SecurityEvent", "StatusNotification"]
        hot = got[0].event
        assert (hot.identity, hot.severity, hot.text) == ("CP-A03", "alert", "ChargingStation Temperature = 92 (Alerting)")
        assert hot.data["eventData"][0]["actualValue"] == "92"
        events = await backend.charger_events("dep-a03")
        assert events == await api.service.charger_events("dep-a03")
        assert [event.kind for event in await backend.fleet_events(severity="security")] == ["SecurityEvent"]
        assert [event.kind for event in await backend.charger_events("dep-a03", kind="NotifyReport")] == ["NotifyReport"]
    finally:
        subscription.close()
        await backend.aclose()
