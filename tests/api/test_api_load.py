"""What an API request costs the event loop that serves the chargers."""

from __future__ import annotations

import pytest
from apitools import Api

from console.core.live import LiveState


async def test_a_page_of_the_charger_list_builds_only_the_views_it_shows(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A view is built on the event loop; listing 100 of a thousand chargers built all thousand (70 ms a request)."""
    built: list[str] = []
    view = LiveState.view

    def counted(self: LiveState, charger_id: str):  # type: ignore[no-untyped-def]
        built.append(charger_id)
        return view(self, charger_id)

    monkeypatch.setattr(LiveState, "view", counted)
    headers = {"Authorization": f"Bearer {api.key}"}

    answer = await api.client.get("/ocpp/chargers", params={"limit": 1, "offset": 1}, headers=headers)

    assert answer.status_code == 200 and answer.headers["X-Total-Count"] == "3"
    assert [row["identity"] for row in answer.json()] == ["CP-A02"] and built == ["dep-a02"]
    built.clear()
    at_depot = await api.client.get("/ocpp/chargers", params={"location_id": "loc-depot"}, headers=headers)
    assert [row["identity"] for row in at_depot.json()] == ["CP-A01", "CP-A02"] and built == ["dep-a01", "dep-a02"]
    offline = await api.client.get("/ocpp/chargers", params={"status": "offline", "limit": 500}, headers=headers)
    assert offline.headers["X-Total-Count"] == "3"
    charging = await api.client.get("/ocpp/chargers", params={"status": "charging"}, headers=headers)
    assert charging.json() == [] and charging.headers["X-Total-Count"] == "0"


async def test_health_with_a_key_counts_the_chargers_without_building_their_views(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(self: LiveState, charger_id: str) -> None:
        raise AssertionError("a view was built")

    monkeypatch.setattr(LiveState, "view", refused)
    answer = await api.client.get("/health", headers={"Authorization": f"Bearer {api.key}"})
    assert answer.status_code == 200 and answer.json()["data"]["counts"] == {"chargers": 3, "connected": 0}
