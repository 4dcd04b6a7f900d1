"""GET /actions over a live server: the organization's actions, filtered and paged as the seed pages."""

from __future__ import annotations

from apitools import Api
from seeds import SEED_PAGINATION
from test_deployments import assert_error
from test_devices import assert_envelope


async def history(api: Api) -> dict[str, str]:
    """Three actions a minute apart: a scheduled charge on CP-A01 (by an operate key), a start of CP-A02, a stop of CP-A01."""
    view, operator = await api.service.create_api_key("default", scopes=["read", "operate"])
    charge = assert_envelope(
        await api.client.post("/ev-charger/dep-a01", headers=api.x_api_key(operator), json={"command": "charge", "start": "2026-04-02T12:00:00Z"}),
        201,
    )
    api.clock.advance(60)
    await api.client.post("/ocpp/chargers/CP-A02/start", headers=api.bearer())
    api.clock.advance(60)
    await api.client.post("/ocpp/chargers/CP-A01/stop", headers=api.bearer())
    return {"charge": charge["id"], "operator": view.id}


async def test_the_organizations_actions_newest_first_with_the_seeds_pagination(api: Api) -> None:
    made = await history(api)
    response = await api.client.get("/actions", headers=api.x_api_key())
    page = assert_envelope(response)
    assert set(page) == {"items", "pagination"} and set(page["pagination"]) == set(SEED_PAGINATION)
    assert [item["command"] for item in page["items"]] == ["stop", "start", "charge"]
    assert page["pagination"] == {"limit": 10, "offset": 0, "total": 3, "hasMore": False}
    assert response.headers["X-Total-Count"] == "3"
    charge = page["items"][2]
    assert charge["id"] == made["charge"] and charge["keyId"] == made["operator"] and charge["links"]["self"] == f"/actions/{charge['id']}"
    second = assert_envelope(await api.client.get("/actions?limit=1&offset=1", headers=api.x_api_key()))
    assert [item["command"] for item in second["items"]] == ["start"] and second["pagination"]["hasMore"] is True
    # Another organization has none.
    assert assert_envelope(await api.client.get("/actions", headers=api.x_api_key(api.acme_key)))["pagination"]["total"] == 0


async def test_filters(api: Api) -> None:
    await history(api)

    async def commands(query: str) -> list[str]:
        return [item["command"] for item in assert_envelope(await api.client.get(f"/actions?{query}", headers=api.x_api_key()))["items"]]

    assert await commands("charger=CP-A01") == ["stop", "charge"]
    assert await commands("charger=dep-a02") == ["start"]
    assert await commands("command=charge") == ["charge"]
    assert await commands("state=scheduled") == ["charge"]
    assert await commands("state=completed") == ["stop", "start"]
    assert await commands("since=2026-04-02T09:16:00Z") == ["stop", "start"]
    assert await commands("until=2026-04-02T09:16:00Z") == ["charge"]
    assert await commands("since=2026-04-02T09:16:00Z&until=2026-04-02T09:17:00Z&charger=CP-A02") == ["start"]
    assert_error(await api.client.get("/actions?state=done", headers=api.x_api_key()), 422, "VALIDATION_ERROR")
    assert_error(await api.client.get("/actions?since=yesterday", headers=api.x_api_key()), 422, "VALIDATION_ERROR")
    assert_error(
        await api.client.get("/actions?since=2026-04-02T10:00:00Z&until=2026-04-02T09:00:00Z", headers=api.x_api_key()),
        422,
        "VALIDATION_ERROR",
    )
    assert_error(await api.client.get("/actions?charger=ACME-01", headers=api.x_api_key()), 404, "NOT_FOUND")
    assert_error(await api.client.get("/actions?device=CP-A01", headers=api.x_api_key()), 422, "VALIDATION_ERROR")
