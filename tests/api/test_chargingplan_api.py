"""Reservations, the composite schedule and installed profiles over the API, with a simulated charger; the attach
client reads the same back, and another organization's charger is not found."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from apitools import Api
from test_deployments import assert_error

from console.api.client import RemoteBackend
from console.core.service import ConsoleService
from console.csms.server import CentralSystem

sys.path.insert(0, str(Path(__file__).parents[1] / "csms"))
from ocpp_clients import charge_point, eventually  # noqa: E402
from test_reservations import Reserving16  # noqa: E402


@pytest.fixture
async def central(service: ConsoleService) -> AsyncIterator[CentralSystem]:
    central = CentralSystem(service, port=0, heartbeat_interval=30, call_timeout=2)
    await central.start()
    yield central
    await central.stop()


async def test_reservations_and_profiles_over_the_api(api: Api, central: CentralSystem) -> None:
    async with charge_point(central.url, "CP-A01", "ocpp1.6", client=Reserving16) as cp:
        await eventually(lambda: central.is_connected("CP-A01"))
        created = await api.client.post(
            "/console/chargers/dep-a01/reservations", json={"connector_id": 1, "id_tag": "VAN-1", "expires": "45m"}, headers=api.bearer()
        )
        assert created.status_code == 201, created.text
        held = created.json()
        assert (held["state"], held["connector_id"], held["identity"]) == ("accepted", 1, "CP-A01")
        assert cp.reserved[held["id"]]["id_tag"] == "VAN-1"
        charger = (await api.client.get("/console/chargers/dep-a01", headers=api.bearer())).json()
        assert charger["reservations"] and f"#{held['id']}" in charger["reservations"][0]
        listed = (await api.client.get("/console/reservations", headers=api.bearer())).json()
        assert [item["id"] for item in listed] == [held["id"]]
        assert (await api.client.get("/console/reservations", headers=api.bearer(api.acme_key))).json() == []
        bad = await api.client.post("/console/chargers/dep-a01/reservations", json={"connector_id": 1, "id_tag": "X", "expires": "-5m"}, headers=api.bearer())
        assert bad.status_code == 422

        remote = RemoteBackend(api.url, api.key)
        await remote.connect()
        try:
            (seen,) = await remote.list_reservations("dep-a01")
            assert seen.id == held["id"] and seen.state == "accepted"
            cancelled = await remote.cancel_reservation("dep-a01", held["id"])
            assert cancelled.state == "cancelled" and cp.reserved == {}
            assert await remote.installed_profiles("dep-a01") == []
        finally:
            await remote.aclose()
        again = await api.client.post(f"/console/chargers/dep-a01/reservations/{held['id']}/cancel", headers=api.bearer())
        assert_error(again, 409, "CONFLICT")
        assert_error(await api.client.delete("/console/chargers/dep-a01/profiles/7", headers=api.bearer()), 404, "NOT_FOUND")
        # The charger has no GetCompositeSchedule: the view says so.
        schedule = await api.client.post("/console/chargers/dep-a01/composite-schedule", json={"connector_id": 1}, headers=api.bearer())
        assert schedule.status_code == 200 and schedule.json()["problem"]
    local_list = await api.client.get("/console/chargers/dep-a01/local-list", headers=api.bearer())
    assert local_list.status_code == 200 and local_list.json() == {"charger_id": "dep-a01", "version": 0, "entries": 0, "current": True, "pushed_at": None}
    for method, path in (
        ("get", "/console/chargers/dep-a01/local-list"),
        ("post", "/console/chargers/dep-a01/reservations/1/cancel"),
        ("get", "/console/chargers/dep-a01/profiles"),
        ("post", "/console/chargers/dep-a01/composite-schedule"),
    ):
        assert_error(await api.client.request(method, path, headers=api.bearer(api.acme_key)), 404, "NOT_FOUND")
