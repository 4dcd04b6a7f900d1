"""The fixed fleet of the UI tests and helpers to drive the app; fixtures are in conftest.py."""

from __future__ import annotations

import contextlib
from datetime import timezone
from pathlib import Path
from typing import Any

from textual.worker import WorkerCancelled

from console.core.clock import ManualClock
from console.core.service import ConsoleService
from console.tui.app import ConsoleApp

ROOT = Path(__file__).resolve().parents[2]
THEMES = ROOT / "themes"
OCPP_URL = "ws://127.0.0.1:9000"
CREATED = "2026-04-01T08:00:00Z"
NORTH = "loc-north"
SOUTH = "loc-south"


def _charger(id: str, identity: str, name: str, location: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": id,
        "identity": identity,
        "name": name,
        "vendor_name": "Wallbox",
        "model": "Pulsar Plus",
        "image_url": None,
        "ocpp_version": "OCPP1.6",
        "number_of_connectors": 1,
        "max_charging_power": 22000,
        "connector_type": "Type2",
        "location_id": location,
        "created_at": CREATED,
        "updated_at": CREATED,
        "simulated": True,
        **extra,
    }


FLEET = {
    "locations": [
        {"id": NORTH, "name": "North Depot", "address": "12 Harbour Road", "power_cap_kw": 150.0},
        {"id": SOUTH, "name": "South Yard", "address": "3 Quarry Lane", "power_cap_kw": 90.0},
    ],
    "chargers": [
        _charger("dep-0001", "CP-A01", "Bay A01", NORTH),
        _charger("dep-0002", "CP-A02", "Bay A02", NORTH),
        _charger("dep-0003", "CP-A03", "Bay A03", NORTH, vendor_name="ABB", model="Terra AC W22"),
        _charger("dep-0004", "CP-B01", "Bay B01", SOUTH, ocpp_version="OCPP2.0.1"),
        _charger("dep-0005", "CP-B02", "Bay B02", SOUTH, vendor_name="Alfen", model="Eve Single"),
        _charger(
            "dep-0006",
            "CP-DC1",
            "Rapid DC1",
            SOUTH,
            vendor_name="Kempower",
            model="S-Series",
            number_of_connectors=2,
            max_charging_power=150000,
            connector_type="CCS2",
            simulated=False,
        ),
    ],
}


def load_fleet(service: ConsoleService) -> None:
    def work(session: Any) -> None:
        service.fleet.import_fleet(session, FLEET)
        service.live.load(session)

    service.store.run_sync(work)
    service.set_ocpp_url(OCPP_URL)


async def drive(service: ConsoleService, clock: ManualClock) -> None:
    """Live state as the central system would report it; ages come out 3–5 s."""
    live = service.live
    for charger_id in ("dep-0001", "dep-0002", "dep-0003", "dep-0004"):
        await live.connected(charger_id)
        await live.booted(charger_id, "Wallbox", "Pulsar Plus", "5.17.0")
        await live.connector_status(charger_id, 1, "Available", None)
    clock.advance(2)
    await live.connector_status("dep-0001", 1, "Charging", None)
    tx = await live.transaction_started("dep-0001", 1, "TAG-0001", 10_000, clock.now())
    live.meter_values(
        "dep-0001",
        1,
        tx,
        [
            (clock.now(), "Power.Active.Import", None, "W", 7400.0),
            (clock.now(), "Energy.Active.Import.Register", None, "Wh", 22_345.0),
            (clock.now(), "Current.Import", "L1", "A", 10.7),
            (clock.now(), "Current.Import", "L2", "A", 10.8),
            (clock.now(), "Current.Import", "L3", "A", 10.6),
            (clock.now(), "SoC", None, "Percent", 47.0),
        ],
    )
    await live.connector_status("dep-0003", 1, "Faulted", "GroundFailure")
    live.log_frame("CP-A01", "in", '[2,"boot-0001-aaaa","BootNotification",{"chargePointVendor":"Wallbox","chargePointModel":"Pulsar Plus"}]')
    live.log_frame("CP-A01", "out", '[3,"boot-0001-aaaa",{"status":"Accepted","currentTime":"2026-04-02T09:15:00Z","interval":300}]', action="BootNotification")
    live.log_frame("CP-A01", "in", '[2,"stat-0002-bbbb","StatusNotification",{"connectorId":1,"status":"Charging","errorCode":"NoError"}]')
    live.log_frame("CP-A01", "out", '[3,"stat-0002-bbbb",{}]', action="StatusNotification")
    live.log("CP-A01", "event", "transaction 1 started on connector 1")
    await service.registrations.note_attempt("CP-STRANGER", "10.0.0.77", "ocpp1.6")
    await service.send_command("dep-0002", "charge", {"powerLimit": 11}, "scheduled", start="2h")
    clock.advance(3)


class FakeRuntime:
    """The runtime port, recording what the console asked of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def start(self, charger_id: str) -> str:
        self.calls.append(("start", charger_id))
        return f"{charger_id} started"

    async def stop(self, charger_id: str) -> str:
        self.calls.append(("stop", charger_id))
        return f"{charger_id} stopped"

    async def restart(self, charger_id: str) -> str:
        self.calls.append(("restart", charger_id))
        return f"{charger_id} restarted"

    def state(self, charger_id: str) -> tuple[str, str | None]:
        return "running", None

    async def plug_in(self, charger_id: str, connector_id: int, soc: float | None = None, battery_kwh: float | None = None) -> str:
        self.calls.append(("plug_in", charger_id))
        return f"EV plugged into connector {connector_id} of {charger_id}"

    async def drop_connection(self, charger_id: str) -> str:
        self.calls.append(("drop_connection", charger_id))
        return f"{charger_id} dropped its connection"


def make_app(service: ConsoleService, clock: ManualClock, theme_name: str | None = None) -> ConsoleApp:
    app = ConsoleApp(service, clock, theme_name=theme_name, themes_dir=THEMES, zone=timezone.utc)
    app.animation_level = "none"
    return app


async def settle(pilot: Any) -> None:
    """Let every worker but the event stream finish, then render what they changed."""
    app = pilot.app
    for _ in range(3):
        await pilot.pause()
        for worker in [worker for worker in app.workers if worker.group != "events"]:
            with contextlib.suppress(WorkerCancelled):
                await worker.wait()
    app.screen_stack[0].flush()
    await pilot.pause()
    for worker in [worker for worker in app.workers if worker.group != "events"]:
        with contextlib.suppress(WorkerCancelled):
            await worker.wait()
    app.screen_stack[0].flush()
    await pilot.pause()
