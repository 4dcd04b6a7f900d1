"""Shared pieces of the API tests: the two-organization fleet, the Api handle, a fake runtime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from console.api.server import ApiServer
from console.core.clock import ManualClock
from console.core.service import ConsoleService

CREATED = "2026-04-01T08:00:00Z"


def charger(id: str, identity: str, location: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": id,
        "identity": identity,
        "name": f"Bay {identity}",
        "vendor_name": "Wallbox",
        "model": "Pulsar Plus",
        "image_url": "https://example.com/pulsar-plus.png",
        "ocpp_version": "OCPP1.6",
        "number_of_connectors": 1,
        "max_charging_power": 22000,
        "connector_type": "Type2",
        "location_id": location,
        "created_at": CREATED,
        "updated_at": CREATED,
        **extra,
    }


DEPOT = {
    "locations": [{"id": "loc-depot", "name": "Depot", "address": "1 Yard Road"}],
    "chargers": [
        charger("dep-a01", "CP-A01", "loc-depot", simulated=True, user_id="user_abc123"),
        charger("dep-a02", "CP-A02", "loc-depot", simulated=True),
        charger("dep-a03", "CP-A03", None, ocpp_version="OCPP2.0.1", max_charging_power=11000),
    ],
}
ACME = {
    "locations": [{"id": "loc-acme", "name": "Acme Works"}],
    "chargers": [
        charger("dep-x01", "ACME-01", "loc-acme", user_id="user_abc123"),
        charger("dep-x02", "ACME-02", "loc-acme"),
    ],
}


@dataclass
class Api:
    server: ApiServer
    service: ConsoleService
    clock: ManualClock
    url: str
    key: str  # the default organization's
    acme_key: str
    client: httpx.AsyncClient  # no key: each request says which

    def bearer(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def x_api_key(self, key: str | None = None) -> dict[str, str]:
        return {"x-api-key": key or self.key}


class FakeRuntime:
    """The runtime port: simulated chargers that start and stop on request."""

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


def load(service: ConsoleService) -> None:
    def work(session: Any) -> None:
        service.fleet.import_fleet(session, DEPOT)
        service.fleet.import_fleet(session, ACME, org="acme")
        service.live.load(session)

    service.store.run_sync(work)


